// Reading and writing another process's memory. Reads use process_vm_readv (one syscall, no
// stop needed); writes go through /proc/PID/mem, which may write read-only text (breakpoints).
#pragma once

#include "binary/address.h"
#include "binary/unique_fd.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

namespace deftrace {

class CodeLog;

class ProcessMemory {
public:
    ProcessMemory() = default;
    explicit ProcessMemory(pid_t pid);

    // Fills `out` from `addr`; false if any byte is unreadable (unmapped, process gone).
    [[nodiscard]] bool read(Addr addr, std::span<uint8_t> out) const;
    [[nodiscard]] std::optional<uint64_t> read_u64(Addr addr) const;
    [[nodiscard]] std::optional<uint32_t> read_u32(Addr addr) const;
    [[nodiscard]] std::optional<uint8_t> read_u8(Addr addr) const;
    // Up to `max` bytes of a Go string's data; nullopt when unreadable.
    [[nodiscard]] std::optional<std::string> read_bytes(Addr addr, uint64_t len) const;
    // A NUL-terminated C string of at most `max` bytes.
    [[nodiscard]] std::optional<std::string> read_cstring(Addr addr, size_t max = 4096) const;

    // Writes `data` at `addr` (also into read-only mappings). Throws Error(Process) on failure.
    // Forgets every cached block.
    void write(Addr addr, std::span<const uint8_t> data) const;
    // The same for the program's code (breakpoints, trampolines, an injected instruction):
    // recorded first in the code log, if any.
    void patch(Addr addr, std::span<const uint8_t> code) const;
    // [remote, remote + size) of the process is also mapped here at `local` (a shared mapping):
    // writes there go through it (the process may map it without write permission, which
    // /proc/PID/mem does not override for shared mappings), and are not logged.
    void map_local(Addr remote, uint8_t *local, size_t size);
    void unmap_local() { local_ = {}; }
    // patch() records every change it makes outside the local mapping in `log` first
    // (process/code_log.h); nullptr: none.
    void set_code_log(CodeLog *log) { log_ = log; }
    // After an exec: /proc/PID/mem, opened on the old address space, writes nowhere any more.
    void reopen();

    // Read caching while one thread is stopped (see StopCache). A read of at most a block then
    // fetches the whole aligned block it lies in and later reads within it cost no syscall;
    // `prefetch` fetches several blocks in a single process_vm_readv.
    //
    // Why this is sound: other threads keep running while one is stopped at a breakpoint, so
    // two uncached reads were never one snapshot either; a block is at most a few microseconds
    // old, and what deftrace reads at a stop (the stopped goroutine's g, its own stack, its
    // defer and panic records, immutable closures and type data) is not written by other
    // threads while the goroutine runs.
    static constexpr uint64_t kBlock = 256; // divides the page size: a block never straddles pages
    void prefetch(std::span<const Addr> addrs) const;
    [[nodiscard]] uint64_t syscalls() const { return syscalls_; }

private:
    friend class StopCache;
    friend class WriteBatch;
    // Pages written while a WriteBatch is open: their contents as they will be, in address order.
    static constexpr uint64_t kPage = 4096;
    struct StagedPage {
        std::array<uint8_t, kPage> bytes{};
        bool dirty = false;
    };
    // The pages [addr, addr + n) lies in, read from the process into staged_ if they are not
    // there yet; false when one cannot be read.
    bool stage_pages(Addr addr, size_t n) const;
    bool stage(Addr addr, std::span<const uint8_t> data) const;
    void read_staged(Addr addr, std::span<uint8_t> out) const;
    void flush_staged() const;
    mutable bool staging_ = false;
    mutable std::map<uint64_t, StagedPage> staged_;
    struct Block {
        uint64_t base = 0;
        std::array<uint8_t, kBlock> bytes{};
    };
    [[nodiscard]] const Block *cached(uint64_t base) const;
    bool fetch_blocks(std::span<const uint64_t> bases) const;
    mutable bool caching_ = false;
    mutable std::vector<Block> blocks_; // a handful per stop: searched linearly
    mutable uint64_t syscalls_ = 0;

public:
    [[nodiscard]] pid_t pid() const { return pid_; }
    // Memory-reading system calls made so far (for --stats and measurements).
    [[nodiscard]] uint64_t read_syscalls() const { return syscalls_; }

private:
    bool read_uncached(Addr addr, std::span<uint8_t> out) const;
    [[nodiscard]] bool in_local(Addr addr, size_t n) const {
        return local_.local != nullptr && addr >= local_.remote && addr + n <= local_.remote + local_.size;
    }
    ProcessMemory(pid_t pid, uint64_t syscalls);
    pid_t pid_ = 0;
    UniqueFd mem_;
    struct Local {
        Addr remote;
        uint8_t *local = nullptr;
        size_t size = 0;
    } local_;
    CodeLog *log_ = nullptr;
};

// Caching is on for the lifetime of a StopCache (one breakpoint stop, from the handler to the
// resume); its end forgets every block.
class StopCache {
public:
    explicit StopCache(const ProcessMemory &mem) : mem_(mem) { mem_.caching_ = true; }
    ~StopCache() {
        mem_.caching_ = false;
        mem_.blocks_.clear();
    }
    StopCache(const StopCache &) = delete;
    StopCache &operator=(const StopCache &) = delete;

private:
    const ProcessMemory &mem_;
};

// While a WriteBatch is open, writes outside the local mapping change a copy of each page they
// touch instead of the process, and reads are served from copies too (a page is read once);
// flush() writes the changed pages back,
// one pwrite per run of adjacent pages. For planting thousands of probes in a process that
// cannot run meanwhile (a program launched, stopped before its first instruction): one read
// and one write per page instead of a read and two writes per probe. Closing a batch without
// flush() drops what it staged (the process keeps its code as it was).
class WriteBatch {
public:
    explicit WriteBatch(const ProcessMemory &mem) : mem_(mem) { mem_.staging_ = true; }
    ~WriteBatch() {
        mem_.staging_ = false;
        mem_.staged_.clear();
    }
    WriteBatch(const WriteBatch &) = delete;
    WriteBatch &operator=(const WriteBatch &) = delete;
    // Throws Error(Process) when a page cannot be written.
    void flush() { mem_.flush_staged(); }

private:
    const ProcessMemory &mem_;
};

} // namespace deftrace
