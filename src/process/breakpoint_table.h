// Software breakpoints that stay inserted. Each owns a stub slot in a scratch page of the tracee
// where its displaced instruction runs (see analysis/displacement.h), so a hit never needs the
// int3 to be removed, single-stepped over and put back while other threads run past it.
#pragma once

#include "analysis/displacement.h"
#include "process/process_memory.h"

#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace deftrace {

struct Breakpoint {
    Displacement plan;
    Addr slot;     // stub address for OutOfLine plans
    int users = 0; // insertions not yet removed
};

class BreakpointTable {
public:
    // The scratch area for stubs: [base, base+size) in the tracee, executable.
    void set_scratch(Addr base, size_t size);
    [[nodiscard]] bool has_scratch() const { return !scratch_.is_null(); }

    // Inserts (or adds a user to) a breakpoint at `addr`, reading the original instruction from
    // the tracee. Throws Error when the instruction cannot be displaced.
    void insert(const ProcessMemory &mem, const Disassembler &dis, Addr addr);
    // Drops one user; the last one restores the original byte.
    void remove(const ProcessMemory &mem, Addr addr);
    // Restores every original byte (before detaching, or when deftrace fails).
    void remove_all(const ProcessMemory &mem);
    // The tracee's image was replaced (exec): forget everything without writing.
    void forget_all();

    [[nodiscard]] const Breakpoint *find(Addr addr) const;
    // True for an address whose breakpoint was removed: a thread may still report a hit on it
    // that happened before the removal.
    [[nodiscard]] bool was_removed(Addr addr) const { return removed_.contains(addr); }
    [[nodiscard]] size_t size() const { return table_.size(); }

private:
    Addr allocate_slot();

    Addr scratch_;
    size_t scratch_size_ = 0;
    size_t next_slot_ = 0;
    std::vector<Addr> free_slots_;
    std::unordered_map<Addr, Breakpoint> table_;
    std::unordered_set<Addr> removed_;
};

} // namespace deftrace
