#include "process/breakpoint_table.h"

#include "binary/error.h"

#include <algorithm>

namespace deftrace {

namespace {
constexpr uint8_t kInt3 = 0xcc, kNop = 0x90;
}

void BreakpointTable::set_scratch(Addr base, size_t size) {
    scratch_ = base;
    scratch_size_ = size;
    next_slot_ = 0;
    trampoline_top_ = size;
    free_slots_.clear();
}

Addr BreakpointTable::allocate_slot() {
    if (!free_slots_.empty()) {
        Addr a = free_slots_.back();
        free_slots_.pop_back();
        return a;
    }
    if (scratch_.is_null() || (next_slot_ + 1) * kStubSlotSize > trampoline_top_)
        throw Error(ErrorKind::Process, "no room left for breakpoint stubs in the tracee's scratch page");
    return scratch_ + (next_slot_++) * kStubSlotSize;
}

void BreakpointTable::insert_patched(const ProcessMemory &mem, const Disassembler &dis, Addr addr, size_t patchable) {
    if (table_.contains(addr) || patchable < 5 || scratch_.is_null()) {
        insert(mem, dis, addr);
        return;
    }
    uint8_t code[32];
    const size_t n = std::min(patchable, sizeof code);
    if (!mem.read(addr, std::span<uint8_t>(code, n)))
        throw Error(ErrorKind::Process, "cannot read the instructions at " + addr.hex() + " for a breakpoint");
    // The trampoline's size is known once planned; its encoding does not depend on where it
    // goes, so plan once at the lowest place it could take, then at its place.
    const size_t room = trampoline_top_ - std::min(trampoline_top_, next_slot_ * kStubSlotSize);
    std::optional<JumpPatch> patch;
    if (room >= kMaxTrampolineSize) {
        patch = plan_jump_patch(dis, Bytes(code, n), addr, n, scratch_ + (trampoline_top_ - kMaxTrampolineSize));
        if (patch) {
            const size_t at = (trampoline_top_ - patch->trampoline.size()) & ~size_t{7};
            patch = plan_jump_patch(dis, Bytes(code, n), addr, n, scratch_ + at);
            if (patch)
                trampoline_top_ = at;
        }
    }
    if (!patch) {
        insert(mem, dis, addr);
        return;
    }
    Breakpoint bp;
    bp.trampoline = scratch_ + trampoline_top_;
    bp.plan.address = addr; // the rest of `plan` is for int3s: the patch holds the original bytes
    bp.users = 1;
    mem.write(bp.trampoline, patch->trampoline);
    mem.write(addr, patch->jump);
    bp.patch = std::move(patch);
    trampolines_.emplace(bp.trampoline, addr);
    removed_.erase(addr);
    table_.emplace(addr, std::move(bp));
}

void BreakpointTable::insert(const ProcessMemory &mem, const Disassembler &dis, Addr addr) {
    if (auto it = table_.find(addr); it != table_.end()) {
        ++it->second.users;
        return;
    }
    for (const auto &[site, bp] : table_)
        if (bp.patch && addr > site && addr < site + bp.patch->length)
            throw Error(ErrorKind::Process, "cannot place a breakpoint at " + addr.hex() +
                                                ": the instruction is replaced by the jump to the breakpoint at " +
                                                site.hex());
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

void BreakpointTable::unpatch(const ProcessMemory &mem, const Breakpoint &bp, bool restore_code) {
    // The trampoline stays, a nop where its int3 was: a thread may be on its way through it.
    mem.write(bp.trampoline, std::span<const uint8_t>(&kNop, 1));
    if (restore_code)
        mem.write(bp.plan.address, bp.patch->original);
    trampolines_.erase(bp.trampoline);
    removed_trampolines_.insert(bp.trampoline);
}

void BreakpointTable::set_enabled(const ProcessMemory &mem, Addr addr, bool enabled) {
    auto it = table_.find(addr);
    if (it == table_.end() || it->second.patch)
        return;
    mem.write(addr, enabled ? std::span<const uint8_t>(&kInt3, 1)
                            : std::span<const uint8_t>(it->second.plan.original.data(), 1));
}

void BreakpointTable::remove(const ProcessMemory &mem, Addr addr) {
    auto it = table_.find(addr);
    if (it == table_.end() || --it->second.users > 0)
        return;
    if (it->second.patch) {
        // Other threads run: the jump stays (rewriting several bytes under them is unsafe) and
        // leads through the trampoline's relocated copy.
        unpatch(mem, it->second, false);
        table_.erase(it);
        return;
    }
    mem.write(addr, std::span<const uint8_t>(it->second.plan.original.data(), 1));
    if (it->second.plan.kind == Displacement::Kind::OutOfLine)
        free_slots_.push_back(it->second.slot);
    removed_.insert(addr);
    table_.erase(it);
}

void BreakpointTable::remove_all(const ProcessMemory &mem) {
    for (auto &[addr, bp] : table_) {
        try {
            if (bp.patch)
                unpatch(mem, bp, true);
            else
                mem.write(addr, std::span<const uint8_t>(bp.plan.original.data(), 1));
        } catch (const Error &) {
            // The process may already be gone; nothing is left to restore then.
        }
        removed_.insert(addr);
    }
    table_.clear();
}

void BreakpointTable::restore_in(const ProcessMemory &copy) const {
    for (const auto &[addr, bp] : table_) {
        try {
            if (bp.patch)
                copy.write(bp.plan.address, bp.patch->original);
            else
                copy.write(addr, std::span<const uint8_t>(bp.plan.original.data(), 1));
        } catch (const Error &) {
            // The copy may be gone already (killed): nothing is left to restore then.
        }
    }
}

void BreakpointTable::forget_all() {
    table_.clear();
    removed_.clear();
    trampolines_.clear();
    removed_trampolines_.clear();
    trampoline_top_ = 0;
    free_slots_.clear();
    scratch_ = Addr();
    next_slot_ = 0;
}

const Breakpoint *BreakpointTable::find(Addr addr) const {
    auto it = table_.find(addr);
    return it == table_.end() || it->second.patch ? nullptr : &it->second;
}

const Breakpoint *BreakpointTable::find_trampoline(Addr addr) const {
    auto t = trampolines_.find(addr);
    if (t == trampolines_.end())
        return nullptr;
    auto it = table_.find(t->second);
    return it == table_.end() ? nullptr : &it->second;
}

} // namespace deftrace
