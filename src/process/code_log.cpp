#include "process/code_log.h"

#include "binary/error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/mman.h>

namespace deftrace {

struct CodeLog::Header {
    pid_t pid;
    uint32_t done; // 1: nothing left to undo
    uint64_t region, region_size;
    uint64_t ring, ring_size;
    uint64_t parking_lo, parking_hi;
    uint64_t used; // entries in use or freed (live == 0), from the first
};

struct CodeLog::Entry {
    uint64_t at;
    uint8_t len, live;
    uint8_t original[16], written[16];
};

CodeLog::CodeLog(size_t changes) : capacity_(changes) {
    bytes_ = sizeof(Header) + changes * sizeof(Entry);
    void *p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw Error(ErrorKind::Process, std::string("code log: mmap: ") + std::strerror(errno));
    header_ = static_cast<Header *>(p);
    entries_ = reinterpret_cast<Entry *>(static_cast<uint8_t *>(p) + sizeof(Header));
}

CodeLog::~CodeLog() {
    munmap(header_, bytes_);
}

void CodeLog::set_process(pid_t pid) {
    header_->pid = pid;
}

pid_t CodeLog::process() const {
    return header_->pid;
}

void CodeLog::set_region(Addr remote, size_t size) {
    header_->region = remote.value();
    header_->region_size = size;
}

void CodeLog::set_parking(Addr lo, Addr hi) {
    header_->parking_lo = lo.value();
    header_->parking_hi = hi.value();
}

std::pair<Addr, Addr> CodeLog::parking() const {
    return {Addr(header_->parking_lo), Addr(header_->parking_hi)};
}

void CodeLog::set_ring(Addr remote, size_t size) {
    header_->ring = remote.value();
    header_->ring_size = size;
}

Addr CodeLog::ring() const {
    return Addr(header_->ring);
}

size_t CodeLog::ring_size() const {
    return header_->ring_size;
}

Addr CodeLog::region() const {
    return Addr(header_->region);
}

size_t CodeLog::region_size() const {
    return header_->region_size;
}

void CodeLog::record(Addr at, std::span<const uint8_t> original, std::span<const uint8_t> written) {
    const size_t n = std::min(original.size(), written.size());
    if (n == 0)
        return;
    if (n > sizeof Entry::original)
        throw Error(ErrorKind::Process, "code log: a change of " + std::to_string(n) + " bytes at " + at.hex());
    if (auto it = live_.find(at.value()); it != live_.end() && entries_[it->second].len == n) {
        Entry &e = entries_[it->second];
        if (std::memcmp(e.original, written.data(), n) != 0) {
            std::memcpy(e.written, written.data(), n);
            return;
        }
        e.live = 0; // put back
        free_.push_back(it->second);
        live_.erase(it);
        return;
    }
    size_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        if (header_->used == capacity_)
            throw Error(ErrorKind::Process, "code log: more than " + std::to_string(capacity_) + " changes");
        slot = header_->used++;
    }
    Entry e{};
    e.at = at.value();
    e.len = static_cast<uint8_t>(n);
    std::memcpy(e.original, original.data(), n);
    std::memcpy(e.written, written.data(), n);
    e.live = 1;
    entries_[slot] = e;
    live_[at.value()] = slot;
}

void CodeLog::mark_done() {
    header_->done = 1;
}

bool CodeLog::done() const {
    return header_->done != 0;
}

std::vector<CodeLog::Change> CodeLog::pending() const {
    std::vector<Change> out;
    for (uint64_t i = 0; i < header_->used; ++i)
        if (const Entry &e = entries_[i]; e.live)
            out.push_back({Addr(e.at), {e.original, e.original + e.len}, {e.written, e.written + e.len}});
    return out;
}

} // namespace deftrace
