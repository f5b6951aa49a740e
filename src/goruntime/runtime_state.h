// The runtime's per-goroutine defer and panic state, read from the live process through
// RuntimeOffsets: g._defer (linked records) and g._panic (panics and Goexits in progress).
// Addresses are re-read at every stop: stack growth moves stack-allocated records and every
// _panic (runtime.adjustdefers / adjustpanics).
#pragma once

#include "binary/address.h"
#include "goruntime/runtime_offsets.h"
#include "process/process_memory.h"

#include <optional>
#include <vector>

namespace deftrace {

struct DeferRecord {
    Addr addr;
    bool heap = false;
    bool rangefunc = false;  // Go 1.22+: head of a range-over-func defer list
    bool started = false;    // Go ≤1.21
    bool open_defer = false; // Go ≤1.21: stands for a frame's open-coded defers during a panic
    Addr sp, pc;
    Addr fn;                // *funcval (nil for open records outside their call)
    Addr panic;             // Go ≤1.21: the panic running it
    Addr varp, fd, framepc; // Go ≤1.21 open records
    Addr link;
};

struct PanicRecord {
    Addr addr;
    Addr arg_type, arg_data;
    Addr link;
    bool recovered = false, aborted = false, goexit = false, repanicked = false, deferreturn = false;
    std::optional<Addr> argp, start_pc, start_sp, sp, lr, pc, fp, retpc, deferbits_ptr, slots_ptr, gopanic_fp;
};

// The words of runtime.g read at every stop, taken in one read.
struct GHeader {
    uint64_t goid = 0;
    Addr stack_lo, stack_hi;
};

class RuntimeState {
public:
    RuntimeState(const ProcessMemory &mem, const RuntimeOffsets &off) : mem_(mem), off_(off) {}

    [[nodiscard]] std::optional<uint64_t> goid(Addr g) const;
    // goid and g.stack in one read (they are ~150 bytes apart in every release).
    [[nodiscard]] std::optional<GHeader> header(Addr g) const;
    [[nodiscard]] std::optional<Addr> defer_head(Addr g) const;
    [[nodiscard]] std::optional<Addr> panic_head(Addr g) const;
    [[nodiscard]] std::optional<Addr> m_of(Addr g) const;
    [[nodiscard]] std::optional<Addr> curg_of(Addr m) const;
    [[nodiscard]] std::optional<std::pair<Addr, Addr>> stack_bounds(Addr g) const;
    [[nodiscard]] std::optional<uint64_t> word(Addr g, std::optional<uint32_t> field) const;

    // One record; nullopt when unreadable.
    [[nodiscard]] std::optional<DeferRecord> defer_at(Addr d) const;
    [[nodiscard]] std::optional<PanicRecord> panic_at(Addr p) const;
    // Chains from g, newest first; at most `limit` entries (a cycle or garbage stops the walk).
    [[nodiscard]] std::vector<DeferRecord> defers(Addr g, size_t limit = 4096) const;
    [[nodiscard]] std::vector<PanicRecord> panics(Addr g, size_t limit = 256) const;

    [[nodiscard]] const RuntimeOffsets &offsets() const { return off_; }
    [[nodiscard]] const ProcessMemory &memory() const { return mem_; }

private:
    const ProcessMemory &mem_;
    const RuntimeOffsets &off_;
};

} // namespace deftrace
