#include "process/process_memory.h"

#include "process/code_log.h"

#include "binary/error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/uio.h>

namespace deftrace {

ProcessMemory::ProcessMemory(pid_t pid) : pid_(pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/mem";
    mem_ = UniqueFd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!mem_.valid())
        throw Error(ErrorKind::Process, "cannot open " + path + ": " + std::strerror(errno));
}

void ProcessMemory::reopen() {
    // A /proc/PID/mem descriptor stays bound to the address space it was opened on
    // (fs/proc/base.c mem_open takes the mm), which execve replaces.
    blocks_.clear();
    *this = ProcessMemory(pid_, syscalls_);
}

ProcessMemory::ProcessMemory(pid_t pid, uint64_t syscalls) : ProcessMemory(pid) {
    syscalls_ = syscalls;
}

const ProcessMemory::Block *ProcessMemory::cached(uint64_t base) const {
    for (const auto &b : blocks_)
        if (b.base == base)
            return &b;
    return nullptr;
}

bool ProcessMemory::fetch_blocks(std::span<const uint64_t> bases) const {
    // One process_vm_readv for all of them. It stops at the first unreadable block: those before
    // it are kept, that one is not cached, and the rest are fetched again when asked for.
    constexpr size_t kMax = 8;
    iovec local[kMax], remote[kMax];
    const size_t first = blocks_.size();
    size_t n = 0;
    for (uint64_t base : bases) {
        if (n == kMax || cached(base) != nullptr) // cached, or already in this batch
            continue;
        auto &b = blocks_.emplace_back();
        b.base = base;
        ++n;
    }
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; ++i) {
        auto &b = blocks_[first + i];
        local[i] = {b.bytes.data(), kBlock};
        remote[i] = {reinterpret_cast<void *>(b.base), kBlock};
    }
    ++syscalls_;
    ssize_t got = process_vm_readv(pid_, local, n, remote, n, 0);
    const size_t whole = got > 0 ? static_cast<size_t>(got) / kBlock : 0;
    blocks_.resize(first + std::min(whole, n));
    return whole == n;
}

void ProcessMemory::prefetch(std::span<const Addr> addrs) const {
    if (!caching_)
        return;
    uint64_t bases[8];
    size_t n = 0;
    for (Addr a : addrs)
        if (n < 8 && !a.is_null())
            bases[n++] = a.value() & ~(kBlock - 1);
    fetch_blocks({bases, n});
}

bool ProcessMemory::read(Addr addr, std::span<uint8_t> out) const {
    if (out.empty())
        return true;
    if (staging_) {
        if (stage_pages(addr, out.size())) {
            read_staged(addr, out);
            return true;
        }
        if (!read_uncached(addr, out)) // a page cannot be read whole: exactly these bytes then
            return false;
        read_staged(addr, out);
        return true;
    }
    if (caching_ && out.size() <= kBlock) {
        const uint64_t base = addr.value() & ~(kBlock - 1);
        const uint64_t end = addr.value() + out.size();
        const uint64_t last = (end - 1) & ~(kBlock - 1);
        if (end > addr.value()) { // no wrap-around
            const uint64_t wanted[2] = {base, last};
            const size_t blocks = base == last ? 1 : 2;
            const Block *b0 = cached(base);
            const Block *b1 = blocks == 2 ? cached(last) : b0;
            if (b0 == nullptr || b1 == nullptr) {
                fetch_blocks({wanted, blocks});
                b0 = cached(base);
                b1 = blocks == 2 ? cached(last) : b0;
            }
            if (b0 != nullptr && b1 != nullptr) {
                const size_t off = addr.value() - base;
                const size_t in_first = std::min<size_t>(out.size(), kBlock - off);
                std::memcpy(out.data(), b0->bytes.data() + off, in_first);
                if (in_first < out.size())
                    std::memcpy(out.data() + in_first, b1->bytes.data(), out.size() - in_first);
                return true;
            }
            // Part of it unreadable as whole blocks (or without read permission): read exactly.
        }
    }
    return read_uncached(addr, out);
}

bool ProcessMemory::read_uncached(Addr addr, std::span<uint8_t> out) const {
    ++syscalls_;
    iovec local{out.data(), out.size()};
    iovec remote{reinterpret_cast<void *>(addr.value()), out.size()};
    ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
    if (n == static_cast<ssize_t>(out.size()))
        return true;
    // process_vm_readv refuses pages without read permission; /proc/PID/mem does not.
    n = pread(mem_.get(), out.data(), out.size(), static_cast<off_t>(addr.value()));
    return n == static_cast<ssize_t>(out.size());
}

std::optional<uint64_t> ProcessMemory::read_u64(Addr addr) const {
    uint64_t v;
    if (!read(addr, {reinterpret_cast<uint8_t *>(&v), 8}))
        return std::nullopt;
    return v;
}

std::optional<uint32_t> ProcessMemory::read_u32(Addr addr) const {
    uint32_t v;
    if (!read(addr, {reinterpret_cast<uint8_t *>(&v), 4}))
        return std::nullopt;
    return v;
}

std::optional<uint8_t> ProcessMemory::read_u8(Addr addr) const {
    uint8_t v;
    if (!read(addr, {&v, 1}))
        return std::nullopt;
    return v;
}

std::optional<std::string> ProcessMemory::read_bytes(Addr addr, uint64_t len) const {
    std::string s(len, '\0');
    if (!read(addr, {reinterpret_cast<uint8_t *>(s.data()), s.size()}))
        return std::nullopt;
    return s;
}

std::optional<std::string> ProcessMemory::read_cstring(Addr addr, size_t max) const {
    std::string s;
    uint8_t chunk[64];
    while (s.size() < max) {
        if (!read(addr + s.size(), chunk))
            return std::nullopt;
        for (uint8_t c : chunk) {
            if (c == 0)
                return s;
            s.push_back(static_cast<char>(c));
        }
    }
    return s;
}

void ProcessMemory::map_local(Addr remote, uint8_t *local, size_t size) {
    local_ = {remote, local, size};
}

void ProcessMemory::patch(Addr addr, std::span<const uint8_t> code) const {
    if (log_ != nullptr && !in_local(addr, code.size())) {
        std::vector<uint8_t> before(code.size());
        if (!read(addr, before))
            throw Error(ErrorKind::Process, "reading " + std::to_string(code.size()) + " bytes at " + addr.hex() +
                                                " in process " + std::to_string(pid_) + " before changing them");
        log_->record(addr, before, code);
    }
    write(addr, code);
}

void ProcessMemory::write(Addr addr, std::span<const uint8_t> data) const {
    blocks_.clear();
    if (in_local(addr, data.size())) {
        std::memcpy(local_.local + (addr - local_.remote), data.data(), data.size());
        return;
    }
    if (staging_ && stage(addr, data))
        return;
    ssize_t n = pwrite(mem_.get(), data.data(), data.size(), static_cast<off_t>(addr.value()));
    if (n != static_cast<ssize_t>(data.size()))
        throw Error(ErrorKind::Process, "writing " + std::to_string(data.size()) + " bytes at " + addr.hex() +
                                            " in process " + std::to_string(pid_) + ": " + std::strerror(errno));
}

bool ProcessMemory::stage_pages(Addr addr, size_t n) const {
    const uint64_t first = addr.value() & ~(kPage - 1), end = addr.value() + n;
    if (end < addr.value())
        return false;
    for (uint64_t page = first; page < end; page += kPage)
        if (!staged_.contains(page)) {
            StagedPage p;
            if (!read_uncached(Addr(page), p.bytes))
                return false;
            staged_.emplace(page, p);
        }
    return true;
}

// False (nothing staged) when a page cannot be read: the caller writes directly.
bool ProcessMemory::stage(Addr addr, std::span<const uint8_t> data) const {
    if (!stage_pages(addr, data.size()))
        return false;
    const uint64_t end = addr.value() + data.size();
    for (uint64_t page = addr.value() & ~(kPage - 1); page < end; page += kPage) {
        StagedPage &p = staged_.at(page);
        const uint64_t from = std::max(page, addr.value()), to = std::min(page + kPage, end);
        std::memcpy(p.bytes.data() + (from - page), data.data() + (from - addr.value()), to - from);
        p.dirty = true;
    }
    return true;
}

// The staged pages' bytes over `out` where they overlap [addr, addr + out.size()).
void ProcessMemory::read_staged(Addr addr, std::span<uint8_t> out) const {
    const uint64_t end = addr.value() + out.size();
    for (auto it = staged_.lower_bound(addr.value() & ~(kPage - 1)); it != staged_.end() && it->first < end; ++it) {
        const uint64_t from = std::max(it->first, addr.value()), to = std::min(it->first + kPage, end);
        std::memcpy(out.data() + (from - addr.value()), it->second.bytes.data() + (from - it->first), to - from);
    }
}

void ProcessMemory::flush_staged() const {
    std::vector<uint8_t> run;
    uint64_t run_base = 0;
    auto write_run = [&] {
        if (run.empty())
            return;
        ssize_t n = pwrite(mem_.get(), run.data(), run.size(), static_cast<off_t>(run_base));
        if (n != static_cast<ssize_t>(run.size()))
            throw Error(ErrorKind::Process, "writing " + std::to_string(run.size()) + " bytes at " +
                                                Addr(run_base).hex() + " in process " + std::to_string(pid_) + ": " +
                                                std::strerror(errno));
        run.clear();
    };
    for (const auto &[base, page] : staged_) {
        if (!page.dirty) {
            write_run();
            continue;
        }
        if (!run.empty() && run_base + run.size() != base)
            write_run();
        if (run.empty())
            run_base = base;
        run.insert(run.end(), page.bytes.begin(), page.bytes.end());
    }
    write_run();
    staged_.clear();
    staging_ = false;
}

} // namespace deftrace
