// The runtime's per-goroutine defer and panic state, read from the live process through
// RuntimeOffsets: g._defer (linked records) and g._panic (panics and Goexits in progress).
// Addresses are re-read at every stop: stack growth moves stack-allocated records and every
// _panic (runtime.adjustdefers / adjustpanics).
#pragma once

#include "binary/address.h"
#include "goruntime/runtime_offsets.h"
#include "process/process_memory.h"
#include "release/go_releases.h"

#include <optional>
#include <string>
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

// The goroutine's g._panic head: its address (null when no panic is in progress) and the
// record, when it could be read.
struct PanicHead {
    Addr addr;
    std::optional<PanicRecord> record;
};

// Where a parked goroutine continues: g.sched.pc / g.sched.sp.
struct SavedContext {
    Addr pc, sp;
};

// The words of runtime.g read at every stop, taken in one read.
struct GHeader {
    uint64_t goid = 0;
    Addr stack_lo, stack_hi;
};

class RuntimeState {
public:
    // `era`: the one of the release's registry row (GoBinary::facts().era), asked once here for
    // every reader of the state. Era A (≤1.21): _defer records for open-coded frames, recovery
    // through gp.sigcode0/1; era B (1.22+): _panic.startSP/sp/retpc, recovery from the panic's
    // own fields (go-runtime.md §3).
    RuntimeState(const ProcessMemory &mem, const RuntimeOffsets &off, Era era) : mem_(mem), off_(off), era_(era) {}

    [[nodiscard]] Era era() const { return era_; }

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
    // d.fn alone (deferprocStack's argument: a record being filled in); null when unreadable.
    [[nodiscard]] Addr defer_fn(Addr d) const;
    // Chains from g, newest first; at most `limit` entries (a cycle or garbage stops the walk).
    [[nodiscard]] std::vector<DeferRecord> defers(Addr g, size_t limit = 4096) const;
    [[nodiscard]] std::vector<PanicRecord> panics(Addr g, size_t limit = 256) const;
    // The chain that starts at panic record `first` (preprintpanics' argument), newest first.
    [[nodiscard]] std::vector<PanicRecord> panic_chain(Addr first, size_t limit) const;
    [[nodiscard]] PanicHead top_panic(Addr g) const;
    // gopanic's entry with the eface (type, data) while the panic in progress was recovered and
    // carries the same value: the deferred call that recovered it raises it again (the test Go
    // 1.25's preprintpanics uses to mark a panic repanicked).
    [[nodiscard]] bool is_repanic(Addr g, uint64_t type_word, uint64_t data_word) const;
    // g.atomicstatus without the scan bit (runtime2.go's _G* values); its name, "idle", "running", ...
    [[nodiscard]] std::optional<uint32_t> status(Addr g) const;
    [[nodiscard]] static std::string status_name(uint32_t status);
    [[nodiscard]] SavedContext saved_context(Addr g) const;
    // Every goroutine in runtime.allgs (`allgs`: the run-time address of the []*g); empty when the
    // list cannot be read or does not hold what it must (`current`, or the main goroutine first
    // when `current` is null) — how a stripped binary's guessed address is checked.
    [[nodiscard]] std::vector<Addr> all_goroutines(Addr allgs, Addr current) const;
    // A 1.22+ range-over-func head record's list (*d.head), newest first; stops at badDefer (1).
    [[nodiscard]] std::vector<DeferRecord> rangefunc_list(const DeferRecord &head, size_t limit = 4096) const;
    // Whether the head record's d.head still points at `list_head` (deferconvert has not run).
    [[nodiscard]] bool rangefunc_points_at(const DeferRecord &head, Addr list_head) const;

    [[nodiscard]] const RuntimeOffsets &offsets() const { return off_; }
    [[nodiscard]] const ProcessMemory &memory() const { return mem_; }

private:
    const ProcessMemory &mem_;
    const RuntimeOffsets &off_;
    Era era_;
};

} // namespace deftrace
