// What deftrace has changed in a process it attached to and not yet put back, kept in memory
// shared with its guardian (process/guardian.h), which puts it back if deftrace dies first.
//
// Every write into the process's code is recorded before it is made (its address, the bytes
// there before, the bytes written) and forgotten once the original bytes are back; the probe
// region and the record ring, which the process only maps, are recorded as a whole. The memory is an anonymous shared
// mapping made before the guardian was forked: plain stores here are what the guardian reads
// after deftrace's death.
#pragma once

#include "binary/address.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/types.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace deftrace {

class CodeLog {
public:
    struct Change {
        Addr at;
        std::vector<uint8_t> original, written;
    };

    // Capacity for `changes` pending changes of up to 16 bytes each.
    explicit CodeLog(size_t changes = 1u << 16);
    ~CodeLog();
    CodeLog(const CodeLog &) = delete;
    CodeLog &operator=(const CodeLog &) = delete;

    void set_process(pid_t pid);
    [[nodiscard]] pid_t process() const;
    // Tracee::set_parking's range, for the guardian's own system calls in the process.
    void set_parking(Addr lo, Addr hi);
    [[nodiscard]] std::pair<Addr, Addr> parking() const;
    // The probe region the process maps ({} once it is unmapped).
    void set_region(Addr remote, size_t size);
    [[nodiscard]] Addr region() const;
    [[nodiscard]] size_t region_size() const;
    // The record ring the process maps (process/record_ring.h; {} once it is unmapped).
    void set_ring(Addr remote, size_t size);
    [[nodiscard]] Addr ring() const;
    [[nodiscard]] size_t ring_size() const;

    // Before writing `written` over `original` at `at`. A write that puts back what the first
    // change at `at` found there forgets it; one that changes it again keeps the first original.
    // Throws Error(Process) when the log is full: the write must not be made.
    void record(Addr at, std::span<const uint8_t> original, std::span<const uint8_t> written);

    // Everything is undone: the guardian has nothing to do.
    void mark_done();
    [[nodiscard]] bool done() const;

    // The changes still in the process.
    [[nodiscard]] std::vector<Change> pending() const;

private:
    struct Header;
    struct Entry;
    Header *header_ = nullptr;
    Entry *entries_ = nullptr;
    size_t capacity_ = 0, bytes_ = 0;
    std::unordered_map<uint64_t, size_t> live_; // this process's index of the live entries, by address
    std::vector<size_t> free_;                  // entries freed, to be reused
};

} // namespace deftrace
