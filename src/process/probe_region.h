// The memory deftrace shares with a process it attached to: the trampolines of its breakpoints
// and the words they consult (arch/guarded_trap.h).
//
// It is a memfd the process itself created (deftrace injects the system calls), mapped there
// read-and-execute only and here read-write: deftrace writes the trampolines and words through
// its own mapping, the process only runs and reads them (so even a process that may not map
// memory writable and executable at once can be traced). Its first bytes hold a robust,
// process-shared mutex that deftrace locks: the lock word is the gate of every trampoline, equal
// to deftrace's thread id while it holds the lock; unlocking it (at detach), or deftrace's death
// however it comes (the kernel marks a dead owner's robust futex, FUTEX_OWNER_DIED), closes every
// gate at once, and the trampolines then only run the code they carry.
#pragma once

#include "binary/address.h"
#include "binary/unique_fd.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <sys/types.h>

namespace deftrace {

class ProbeRegion {
public:
    static constexpr size_t kSize = 2 * 1024 * 1024;
    // The memfd's name: /proc/PID/maps shows the region as /memfd:deftrace-probes (deleted).
    static constexpr const char *kName = "deftrace-probes";

    // Maps `fd` (the process's memfd, reopened here through /proc) here, lays the region out and
    // takes the lock. `remote` is where the process mapped it.
    ProbeRegion(UniqueFd fd, Addr remote);
    ~ProbeRegion();
    ProbeRegion(const ProbeRegion &) = delete;
    ProbeRegion &operator=(const ProbeRegion &) = delete;

    [[nodiscard]] Addr remote() const { return remote_; }
    [[nodiscard]] size_t size() const { return kSize; }
    [[nodiscard]] bool contains(Addr a) const { return a >= remote_ && a < remote_ + kSize; }
    // This process's view of the bytes at the process's address `a` (inside the region).
    [[nodiscard]] uint8_t *local(Addr a) const { return base_ + (a - remote_); }

    // The gate word and the value that opens it.
    [[nodiscard]] Addr gate() const { return remote_; }
    [[nodiscard]] uint32_t gate_open() const { return gate_open_; }
    // An armed byte for one more trampoline (set), or nullopt when all are taken.
    std::optional<Addr> allocate_armed();
    void set_armed(Addr armed, bool on) const;
    // Where trampolines go.
    [[nodiscard]] Addr code() const { return remote_ + kCodeOffset; }
    [[nodiscard]] size_t code_size() const { return kSize - kCodeOffset; }

    // Unlocks: every gate closes. Idempotent.
    void close_gates();

private:
    static constexpr size_t kArmedOffset = 64, kCodeOffset = 8192;

    UniqueFd fd_;
    Addr remote_;
    uint8_t *base_ = nullptr;
    uint32_t gate_open_ = 0;
    size_t next_armed_ = kArmedOffset;
    bool locked_ = false;
};

} // namespace deftrace
