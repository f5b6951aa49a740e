#include "process/breakpoint_table.h"

#include "binary/error.h"

namespace deftrace {

namespace {
constexpr uint8_t kInt3 = 0xcc;
}

void BreakpointTable::set_scratch(Addr base, size_t size) {
    scratch_ = base;
    scratch_size_ = size;
    next_slot_ = 0;
    free_slots_.clear();
}

Addr BreakpointTable::allocate_slot() {
    if (!free_slots_.empty()) {
        Addr a = free_slots_.back();
        free_slots_.pop_back();
        return a;
    }
    if (scratch_.is_null() || (next_slot_ + 1) * kStubSlotSize > scratch_size_)
        throw Error(ErrorKind::Process, "no room left for breakpoint stubs in the tracee's scratch page");
    return scratch_ + (next_slot_++) * kStubSlotSize;
}

void BreakpointTable::insert(const ProcessMemory &mem, const Disassembler &dis, Addr addr) {
    if (auto it = table_.find(addr); it != table_.end()) {
        ++it->second.users;
        return;
    }
    uint8_t code[16];
    if (!mem.read(addr, code))
        throw Error(ErrorKind::Process, "cannot read the instruction at " + addr.hex() + " for a breakpoint");
    Breakpoint bp;
    bp.slot = allocate_slot();
    try {
        bp.plan = plan_displacement(dis, Bytes(code), addr, bp.slot);
    } catch (...) {
        free_slots_.push_back(bp.slot);
        throw;
    }
    if (bp.plan.kind == Displacement::Kind::OutOfLine)
        mem.write(bp.slot, bp.plan.stub);
    else
        free_slots_.push_back(bp.slot); // emulated: no stub needed
    mem.write(addr, std::span<const uint8_t>(&kInt3, 1));
    bp.users = 1;
    removed_.erase(addr);
    table_.emplace(addr, std::move(bp));
}

void BreakpointTable::remove(const ProcessMemory &mem, Addr addr) {
    auto it = table_.find(addr);
    if (it == table_.end() || --it->second.users > 0)
        return;
    mem.write(addr, std::span<const uint8_t>(it->second.plan.original.data(), 1));
    if (it->second.plan.kind == Displacement::Kind::OutOfLine)
        free_slots_.push_back(it->second.slot);
    removed_.insert(addr);
    table_.erase(it);
}

void BreakpointTable::remove_all(const ProcessMemory &mem) {
    for (auto &[addr, bp] : table_) {
        try {
            mem.write(addr, std::span<const uint8_t>(bp.plan.original.data(), 1));
        } catch (const Error &) {
            // The process may already be gone; nothing is left to restore then.
        }
        removed_.insert(addr);
    }
    table_.clear();
}

void BreakpointTable::forget_all() {
    table_.clear();
    removed_.clear();
    free_slots_.clear();
    scratch_ = Addr();
    next_slot_ = 0;
}

const Breakpoint *BreakpointTable::find(Addr addr) const {
    auto it = table_.find(addr);
    return it == table_.end() ? nullptr : &it->second;
}

} // namespace deftrace
