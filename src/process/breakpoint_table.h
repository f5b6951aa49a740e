// Software breakpoints that stay inserted. Each owns a stub slot in a scratch page of the tracee
// where its displaced instruction runs (see arch/displacement.h), so a hit never needs the
// int3 to be removed, single-stepped over and put back while other threads run past it.
#pragma once

#include "arch/displacement.h"
#include "process/process_memory.h"

#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace deftrace {

struct Breakpoint {
    Displacement plan;
    Addr slot;     // stub address for OutOfLine plans
    int users = 0; // insertions not yet removed
    // Carried by a jump to a trampoline instead of an int3 (insert_patched, insert_guarded); the
    // hit is then reported at the trampoline's hit pc.
    std::optional<JumpPatch> patch;
    Addr trampoline;
    Addr armed; // guarded: its armed byte (arch/guarded_trap.h)
    [[nodiscard]] bool guarded() const { return !armed.is_null(); }
    [[nodiscard]] Addr hit_pc() const { return trampoline + patch->hit_offset; }
    // An int3 trampoline's int3 (after its recording code, if it has any).
    [[nodiscard]] Addr trap_int3() const { return hit_pc() - 1; }
    bool recording = false; // its trampoline records hits (arch/record_stub.h)
};

class BreakpointTable {
public:
    // The scratch area for stubs: [base, base+size) in the tracee, executable.
    void set_scratch(Addr base, size_t size);
    [[nodiscard]] bool has_scratch() const { return !scratch_.is_null(); }

    // Inserts (or adds a user to) a breakpoint at `addr`, reading the original instruction from
    // the tracee. Throws Error when the instruction cannot be displaced.
    void insert(const ProcessMemory &mem, const Disassembler &dis, Addr addr);
    // The same, carried by a jump patch when one fits in the `patchable` bytes from `addr` (the
    // caller's analysis: no jump lands inside them, no other breakpoint is there). Only while no
    // thread of the tracee runs (at launch): the patch rewrites several bytes at once. Otherwise,
    // or when no patch fits, an int3 as insert() places.
    // With `record`, the trampoline records its hits without stopping when it can
    // (arch/record_stub.h); records() says whether it does. Without `or_int3`, nothing is
    // inserted when no patch fits (false).
    bool insert_patched(const ProcessMemory &mem, const Disassembler &dis, Addr addr, size_t patchable,
                        const RecordSpec *record = nullptr, bool or_int3 = true);
    // A breakpoint whose trampoline traps by signalling its thread while its gate lets it
    // (arch/guarded_trap.h; `trap` names the gate, the siginfo and the signal, and gets the armed
    // byte `armed`), placed where it leaves no int3 in the code: the patch may start up to
    // `before` bytes before `addr` and run up to `patchable` bytes from it (the caller's
    // analysis), over no byte `may_cover` refuses. Only while no thread runs. False when no
    // patch fits (nothing is inserted). With an Int3 `trap` (a launched program), the same
    // window for a trampoline whose trap is an int3.
    bool insert_guarded(const ProcessMemory &mem, const Disassembler &dis, Addr addr, size_t before, size_t patchable,
                        TrampolineTrap trap, const std::function<bool(Addr, size_t)> &may_cover);
    // Switches an int3 breakpoint off (the original byte back) or on again, keeping its entry and
    // stub slot: safe while other threads run, one of which may be in the stub of an earlier hit
    // (a hit reported from before it went off is still a hit). Jump-patched ones stay on.
    void set_enabled(const ProcessMemory &mem, Addr addr, bool enabled);
    // Drops one user; the last one restores the original byte.
    void remove(const ProcessMemory &mem, Addr addr);
    // Restores every original byte (before detaching, or when deftrace fails). With jump
    // patches, only while every thread is stopped.
    void remove_all(const ProcessMemory &mem);
    // Writes every original instruction back into `copy`, a process forked from this one (its
    // memory a copy of this one's), leaving this table and this process as they are. The copy's
    // scratch page stays (unreachable once the code is restored).
    void restore_in(const ProcessMemory &copy) const;
    // The tracee's image was replaced (exec): forget everything without writing.
    void forget_all();

    [[nodiscard]] const Breakpoint *find(Addr addr) const;
    // The jump-patched breakpoint whose trampoline int3 is at `addr`.
    [[nodiscard]] const Breakpoint *find_trampoline(Addr addr) const;
    // The guarded breakpoint whose trampoline's hit pc is `pc`.
    [[nodiscard]] const Breakpoint *find_guarded_hit(Addr pc) const;
    // Every guarded breakpoint's armed byte (arming on demand writes it).
    [[nodiscard]] size_t guarded() const { return guarded_hits_.size(); }
    // A trampoline int3 whose breakpoint was removed (it is a nop now): a thread that trapped on
    // it before continues where it is.
    [[nodiscard]] bool was_removed_trampoline(Addr addr) const { return removed_trampolines_.contains(addr); }
    // The hit pc of a guarded breakpoint removed since: a thread stopped there trapped before.
    [[nodiscard]] bool was_removed_guarded_hit(Addr pc) const { return removed_guarded_hits_.contains(pc); }
    // True for an address whose breakpoint was removed: a thread may still report a hit on it
    // that happened before the removal.
    [[nodiscard]] bool was_removed(Addr addr) const { return removed_.contains(addr); }
    [[nodiscard]] size_t size() const { return table_.size(); }
    // How many are carried by a jump patch.
    [[nodiscard]] size_t jump_patched() const { return trampolines_.size(); }
    // Whether the breakpoint at `addr` records its hits without stopping.
    [[nodiscard]] bool records(Addr addr) const;

private:
    Addr allocate_slot();
    void unpatch(const ProcessMemory &mem, const Breakpoint &bp, bool restore_code);
    void clamp_window(Addr addr, size_t &before, size_t &patchable) const;

    Addr scratch_;
    size_t scratch_size_ = 0;
    size_t next_slot_ = 0;
    std::vector<Addr> free_slots_;
    size_t trampoline_top_ = 0; // trampolines are allocated downwards from the scratch's end
    std::unordered_map<Addr, Breakpoint> table_;
    std::unordered_map<Addr, Addr> trampolines_;  // int3 address -> breakpoint address
    std::unordered_map<Addr, Addr> guarded_hits_; // hit pc -> breakpoint address
    std::map<Addr, Addr> patched_;                // start -> end of every jump patch in place
    std::vector<JumpPatch> orphaned_;             // jumps left in place by remove()
    std::unordered_set<Addr> removed_, removed_trampolines_, removed_guarded_hits_;
};

} // namespace deftrace
