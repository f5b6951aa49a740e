// Software breakpoints that stay inserted. Each owns a stub slot in a scratch page of the tracee
// where its displaced instruction runs (see arch/displacement.h), so a hit never needs the
// int3 to be removed, single-stepped over and put back while other threads run past it.
#pragma once

#include "arch/displacement.h"
#include "process/process_memory.h"

#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace deftrace {

struct Breakpoint {
    Displacement plan;
    Addr slot;     // stub address for OutOfLine plans
    int users = 0; // insertions not yet removed
    // Carried by a jump to a trampoline instead of an int3 (insert_patched); the hit is then
    // reported at the trampoline's int3.
    std::optional<JumpPatch> patch;
    Addr trampoline;
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
    void insert_patched(const ProcessMemory &mem, const Disassembler &dis, Addr addr, size_t patchable);
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
    // A trampoline int3 whose breakpoint was removed (it is a nop now): a thread that trapped on
    // it before continues where it is.
    [[nodiscard]] bool was_removed_trampoline(Addr addr) const { return removed_trampolines_.contains(addr); }
    // True for an address whose breakpoint was removed: a thread may still report a hit on it
    // that happened before the removal.
    [[nodiscard]] bool was_removed(Addr addr) const { return removed_.contains(addr); }
    [[nodiscard]] size_t size() const { return table_.size(); }
    // How many are carried by a jump patch.
    [[nodiscard]] size_t jump_patched() const { return trampolines_.size(); }

private:
    Addr allocate_slot();
    void unpatch(const ProcessMemory &mem, const Breakpoint &bp, bool restore_code);

    Addr scratch_;
    size_t scratch_size_ = 0;
    size_t next_slot_ = 0;
    std::vector<Addr> free_slots_;
    size_t trampoline_top_ = 0; // trampolines are allocated downwards from the scratch's end
    std::unordered_map<Addr, Breakpoint> table_;
    std::unordered_map<Addr, Addr> trampolines_; // int3 address -> breakpoint address
    std::unordered_set<Addr> removed_, removed_trampolines_;
};

} // namespace deftrace
