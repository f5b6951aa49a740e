#include "process/record_ring.h"

#include "binary/error.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace deftrace {

namespace {

uint64_t load_acquire(const uint8_t *at) {
    // The program's threads write these words with plain stores (x86 keeps them in order).
    return std::atomic_ref<const uint64_t>(*reinterpret_cast<const uint64_t *>(at)).load(std::memory_order_acquire);
}

} // namespace

RecordRing::RecordRing(UniqueFd fd, Addr remote, uint32_t capacity)
    : fd_(std::move(fd)), remote_(remote),
      capacity_(std::has_single_bit(capacity) && capacity >= 8 && capacity <= kCapacity ? capacity : kCapacity) {
    if (ftruncate(fd_.get(), static_cast<off_t>(kSize)) != 0)
        throw Error(ErrorKind::Process, std::string("record ring: ftruncate: ") + std::strerror(errno));
    void *p = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
    if (p == MAP_FAILED)
        throw Error(ErrorKind::Process, std::string("record ring: mmap: ") + std::strerror(errno));
    base_ = static_cast<uint8_t *>(p);
}

RecordRing::~RecordRing() {
    munmap(base_, kSize);
}

void RecordRing::describe(RecordSpec &spec) const {
    spec.head = remote_ + kHeadOffset;
    spec.tail = remote_ + kTailOffset;
    spec.records = remote_ + kRecordsOffset;
    spec.capacity = capacity_;
    spec.record_size = kRecordSize;
    spec.slack = capacity_ / 4;
}

bool RecordRing::backlog() const {
    return load_acquire(base_ + kHeadOffset) != cursor_;
}

// Record `seq`, consumed, if it is whole.
std::optional<Record> RecordRing::take(uint64_t seq) {
    const uint8_t *r = base_ + kRecordsOffset + (seq % capacity_) * kRecordSize;
    if (load_acquire(r) != seq + 1)
        return std::nullopt;
    Record out;
    out.seq = seq;
    std::memcpy(&out.probe, r + 16, sizeof out.probe);
    std::memcpy(&out.tsc, r + 24, sizeof out.tsc);
    std::memcpy(out.words.data(), r + kRecordHeaderWords * 8, sizeof out.words);
    return out;
}

std::optional<Record> RecordRing::next(bool skip_unfinished) {
    std::optional<Record> got;
    // The oldest unfinished ones first: they were taken before everything after the cursor.
    for (auto it = unfinished_.begin(); it != unfinished_.end(); ++it)
        if ((got = take(*it))) {
            unfinished_.erase(it);
            break;
        }
    const uint64_t head = load_acquire(base_ + kHeadOffset);
    while (!got && cursor_ < head) {
        if ((got = take(cursor_))) {
            ++cursor_;
        } else if (skip_unfinished) {
            unfinished_.push_back(cursor_++);
        } else {
            break;
        }
    }
    if (!got)
        return std::nullopt;
    // The producers may reuse every slot before the oldest record not read.
    tail_ = unfinished_.empty() ? cursor_ : std::min(cursor_, unfinished_.front());
    std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t *>(base_ + kTailOffset))
        .store(tail_, std::memory_order_release);
    return got;
}

} // namespace deftrace
