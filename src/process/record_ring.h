// The ring of records that probes write without stopping the program (arch/record_stub.h): a
// memfd the program maps read-write (its trampolines write records there) and deftrace maps too,
// to read them.
//
// Layout: the producers' counter (`head`, the next sequence number; each record is taken with a
// lock xadd on it) on the first cache line, the consumer's (`tail`, the next sequence number
// deftrace reads) on the next, then `kCapacity` records of `kRecordSize` bytes; record `seq` is at
// index seq % kCapacity. A record is whole once its commit word equals its sequence number + 1.
// A probe takes no record while more than three quarters are taken and not read: it stops
// the thread instead, and the stop reads the ring first.
#pragma once

#include "arch/record_stub.h"
#include "binary/address.h"
#include "binary/unique_fd.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace deftrace {

struct Record {
    uint64_t seq = 0;
    uint32_t probe = 0;
    uint64_t tsc = 0;
    std::array<uint64_t, kMaxRecordWords> words{};
};

class RecordRing {
public:
    // The most records it holds (a power of two); a quarter of them stay free for threads that
    // passed the test of room before others took it.
    static constexpr uint32_t kCapacity = 4096, kRecordSize = 256;
    static constexpr size_t kHeadOffset = 0, kTailOffset = 64, kRecordsOffset = 4096;
    static constexpr size_t kSize = kRecordsOffset + size_t{kCapacity} * kRecordSize;
    static constexpr const char *kName = "deftrace-records";
    static_assert(kRecordSize >= (kRecordHeaderWords + kMaxRecordWords) * 8);

    // Maps `fd` (the program's memfd, reopened through /proc) here; `remote` is where the
    // program mapped it.
    // `capacity` (a power of two, 8 to kCapacity): fewer records than the mapping could hold, for
    // tests that fill the ring.
    RecordRing(UniqueFd fd, Addr remote, uint32_t capacity = kCapacity);
    ~RecordRing();
    RecordRing(const RecordRing &) = delete;
    RecordRing &operator=(const RecordRing &) = delete;

    [[nodiscard]] Addr remote() const { return remote_; }
    // What a RecordSpec needs of the ring (probe and words left to the caller).
    void describe(RecordSpec &spec) const;

    // The next whole record, in sequence order, and consumed; nullopt when every record taken has
    // been read or is still being written. `skip_unfinished`: a record still being written does
    // not hold back those after it — its thread may be stopped in the middle of writing it (a
    // signal it takes there is a ptrace stop), and a thread's records are in its own order
    // anyway, so they come later, when whole.
    std::optional<Record> next(bool skip_unfinished = false);
    // Whether records were taken that next() has not looked at yet (one may still be being
    // written); those it skipped as unfinished are not counted again.
    [[nodiscard]] bool backlog() const;

private:
    UniqueFd fd_;
    Addr remote_;
    uint8_t *base_ = nullptr;
    [[nodiscard]] std::optional<Record> take(uint64_t seq);
    uint64_t tail_ = 0;                // every record before it is read (the producers' bound)
    uint64_t cursor_ = 0;              // the next record not looked at yet
    std::vector<uint64_t> unfinished_; // looked at, still being written then (before cursor_)
    uint32_t capacity_;
};

} // namespace deftrace
