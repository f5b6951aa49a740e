// Reading and writing another process's memory. Reads use process_vm_readv (one syscall, no
// stop needed); writes go through /proc/PID/mem, which may write read-only text (breakpoints).
#pragma once

#include "binary/address.h"
#include "process/unique_fd.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <sys/types.h>

namespace deftrace {

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
    void write(Addr addr, std::span<const uint8_t> data) const;

    [[nodiscard]] pid_t pid() const { return pid_; }

private:
    pid_t pid_ = 0;
    UniqueFd mem_;
};

} // namespace deftrace
