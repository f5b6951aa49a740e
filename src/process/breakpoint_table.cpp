#include "process/breakpoint_table.h"

#include "binary/error.h"

#include <algorithm>

namespace deftrace {

namespace {
constexpr uint8_t kInt3 = 0xcc, kNop = 0x90;
}

bool BreakpointTable::records(Addr addr) const {
    auto it = table_.find(addr);
    return it != table_.end() && it->second.recording;
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

bool BreakpointTable::insert_patched(const ProcessMemory &mem, const Disassembler &dis, Addr addr, size_t patchable,
                                     const RecordSpec *record, bool or_int3) {
    if (table_.contains(addr) || patchable < 5 || scratch_.is_null()) {
        if (or_int3)
            insert(mem, dis, addr);
        return or_int3;
    }
    uint8_t code[32];
    const size_t n = std::min(patchable, sizeof code);
    if (!mem.read(addr, std::span<uint8_t>(code, n)))
        throw Error(ErrorKind::Process, "cannot read the instructions at " + addr.hex() + " for a breakpoint");
    // The trampoline's size is known once planned; its encoding does not depend on where it
    // goes, so plan once at the lowest place it could take, then at its place.
    const size_t room = trampoline_top_ - std::min(trampoline_top_, next_slot_ * kStubSlotSize);
    std::optional<JumpPatch> patch;
    bool trap_recording = false;
    if (room >= kMaxTrampolineSize) {
        TrampolineTrap trap;
        trap.record = record;
        patch = plan_patch(dis, Bytes(code, n), addr, addr, n, scratch_ + (trampoline_top_ - kMaxTrampolineSize), trap);
        if (!patch && record != nullptr) { // a ring out of reach: trap at every hit
            trap.record = nullptr;
            patch =
                plan_patch(dis, Bytes(code, n), addr, addr, n, scratch_ + (trampoline_top_ - kMaxTrampolineSize), trap);
        }
        if (patch) {
            const size_t at = (trampoline_top_ - patch->trampoline.size()) & ~size_t{7};
            patch = plan_patch(dis, Bytes(code, n), addr, addr, n, scratch_ + at, trap);
            if (patch)
                trampoline_top_ = at;
            trap_recording = patch && trap.record != nullptr;
        }
    }
    if (!patch) {
        if (or_int3)
            insert(mem, dis, addr);
        return or_int3;
    }
    Breakpoint bp;
    bp.trampoline = scratch_ + trampoline_top_;
    bp.plan.address = addr; // the rest of `plan` is for int3s: the patch holds the original bytes
    bp.users = 1;
    mem.patch(bp.trampoline, patch->trampoline);
    mem.patch(addr, patch->jump);
    patched_.emplace(patch->address, patch->address + patch->length);
    bp.patch = std::move(patch);
    bp.recording = trap_recording;
    trampolines_.emplace(bp.trap_int3(), addr);
    removed_.erase(addr);
    table_.emplace(addr, std::move(bp));
    return true;
}

// Where a guarded patch for `addr` may start and end, given the patches and int3s in place.
void BreakpointTable::clamp_window(Addr addr, size_t &before, size_t &patchable) const {
    for (const auto &[start, end] : patched_) {
        if (end <= addr && end > addr - before)
            before = addr - end;
        if (start >= addr && start < addr + patchable)
            patchable = start - addr;
        if (start < addr && end > addr)
            before = patchable = 0;
    }
    for (const auto &[site, bp] : table_)
        if (!bp.patch) {
            if (site < addr && site + bp.plan.length > addr - before)
                before = site + bp.plan.length > addr ? 0 : addr - (site + bp.plan.length);
            if (site >= addr && site < addr + patchable)
                patchable = site - addr;
        }
}

bool BreakpointTable::insert_guarded(const ProcessMemory &mem, const Disassembler &dis, Addr addr, size_t before,
                                     size_t patchable, TrampolineTrap trap,
                                     const std::function<bool(Addr, size_t)> &may_cover) {
    if (table_.contains(addr) || scratch_.is_null())
        return false;
    before = std::min<size_t>(before, 60);
    patchable = std::min<size_t>(patchable, 32);
    clamp_window(addr, before, patchable);
    if (before + patchable < 5)
        return false;
    std::vector<uint8_t> code(before + patchable);
    const Addr from = addr - before;
    if (!mem.read(from, code))
        throw Error(ErrorKind::Process, "cannot read the instructions around " + addr.hex() + " for a breakpoint");
    const size_t room = trampoline_top_ - std::min(trampoline_top_, next_slot_ * kStubSlotSize);
    if (room < kMaxTrampolineSize)
        return false;
    // The window before `addr` is the caller's analysis: what it holds may move.
    auto patch = plan_patch(dis, Bytes(code), from, addr, code.size(),
                            scratch_ + (trampoline_top_ - kMaxTrampolineSize), trap, true);
    if (!patch && trap.record != nullptr) { // a ring out of reach: trap at every hit
        trap.record = nullptr;
        patch = plan_patch(dis, Bytes(code), from, addr, code.size(), scratch_ + (trampoline_top_ - kMaxTrampolineSize),
                           trap, true);
    }
    if (!patch)
        return false;
    const size_t at = (trampoline_top_ - patch->trampoline.size()) & ~size_t{7};
    patch = plan_patch(dis, Bytes(code), from, addr, code.size(), scratch_ + at, trap, true);
    if (!patch || !may_cover(patch->address, patch->length))
        return false;
    trampoline_top_ = at;
    Breakpoint bp;
    bp.trampoline = scratch_ + at;
    bp.plan.address = addr;
    bp.users = 1;
    bp.armed = trap.armed;
    bp.recording = trap.record != nullptr;
    mem.patch(bp.trampoline, patch->trampoline);
    mem.patch(patch->address, patch->jump);
    patched_.emplace(patch->address, patch->address + patch->length);
    bp.patch = std::move(patch);
    if (trap.kind == TrampolineTrap::Kind::Int3)
        trampolines_.emplace(bp.trap_int3(), addr);
    else
        guarded_hits_.emplace(bp.hit_pc(), addr);
    removed_.erase(addr);
    table_.emplace(addr, std::move(bp));
    return true;
}

void BreakpointTable::insert(const ProcessMemory &mem, const Disassembler &dis, Addr addr) {
    if (auto it = table_.find(addr); it != table_.end()) {
        ++it->second.users;
        return;
    }
    // The last jump patch starting at or before `addr` (patches never overlap), by address: a
    // launch plants thousands of breakpoints.
    if (auto p = patched_.upper_bound(addr); p != patched_.begin() && std::prev(p)->second > addr)
        throw Error(ErrorKind::Process, "cannot place a breakpoint at " + addr.hex() +
                                            ": the instruction is replaced by the jump patch at " +
                                            std::prev(p)->first.hex());
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
        mem.patch(bp.slot, bp.plan.stub);
    else
        free_slots_.push_back(bp.slot); // emulated: no stub needed
    mem.patch(addr, std::span<const uint8_t>(&kInt3, 1));
    bp.users = 1;
    removed_.erase(addr);
    table_.emplace(addr, std::move(bp));
}

void BreakpointTable::unpatch(const ProcessMemory &mem, const Breakpoint &bp, bool restore_code) {
    // The trampoline stays, its trap off (a nop where its int3 was; a guarded one disarmed): a
    // thread may be on its way through it.
    if (bp.guarded()) {
        const uint8_t off = 0;
        mem.write(bp.armed, std::span<const uint8_t>(&off, 1));
        guarded_hits_.erase(bp.hit_pc());
        removed_guarded_hits_.insert(bp.hit_pc());
    } else {
        mem.patch(bp.trap_int3(), std::span<const uint8_t>(&kNop, 1));
        trampolines_.erase(bp.trap_int3());
        removed_trampolines_.insert(bp.trap_int3());
    }
    if (restore_code) {
        mem.patch(bp.patch->address, bp.patch->original);
        patched_.erase(bp.patch->address);
    }
}

void BreakpointTable::set_enabled(const ProcessMemory &mem, Addr addr, bool enabled) {
    auto it = table_.find(addr);
    if (it == table_.end())
        return;
    if (it->second.guarded()) {
        const uint8_t on = enabled ? 1 : 0;
        mem.write(it->second.armed, std::span<const uint8_t>(&on, 1));
        return;
    }
    if (it->second.patch)
        return;
    mem.patch(addr, enabled ? std::span<const uint8_t>(&kInt3, 1)
                            : std::span<const uint8_t>(it->second.plan.original.data(), 1));
}

void BreakpointTable::remove(const ProcessMemory &mem, Addr addr) {
    auto it = table_.find(addr);
    if (it == table_.end() || --it->second.users > 0)
        return;
    if (it->second.patch) {
        // Other threads run: the jump stays (rewriting several bytes under them is unsafe) and
        // leads through the trampoline's relocated copy, until remove_all.
        unpatch(mem, it->second, false);
        orphaned_.push_back(*it->second.patch);
        table_.erase(it);
        return;
    }
    mem.patch(addr, std::span<const uint8_t>(it->second.plan.original.data(), 1));
    if (it->second.plan.kind == Displacement::Kind::OutOfLine)
        free_slots_.push_back(it->second.slot);
    removed_.insert(addr);
    table_.erase(it);
}

void BreakpointTable::remove_all(const ProcessMemory &mem) {
    for (const JumpPatch &p : orphaned_) {
        try {
            mem.patch(p.address, p.original);
        } catch (const Error &) {
        }
    }
    orphaned_.clear();
    patched_.clear();
    for (auto &[addr, bp] : table_) {
        try {
            if (bp.patch)
                unpatch(mem, bp, true);
            else
                mem.patch(addr, std::span<const uint8_t>(bp.plan.original.data(), 1));
        } catch (const Error &) {
            // The process may already be gone; nothing is left to restore then.
        }
        removed_.insert(addr);
    }
    table_.clear();
}

void BreakpointTable::restore_in(const ProcessMemory &copy) const {
    for (const JumpPatch &p : orphaned_) {
        try {
            copy.patch(p.address, p.original);
        } catch (const Error &) {
        }
    }
    for (const auto &[addr, bp] : table_) {
        try {
            if (bp.patch)
                copy.patch(bp.patch->address, bp.patch->original);
            else
                copy.patch(addr, std::span<const uint8_t>(bp.plan.original.data(), 1));
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
    guarded_hits_.clear();
    removed_guarded_hits_.clear();
    patched_.clear();
    orphaned_.clear();
    trampoline_top_ = 0;
    free_slots_.clear();
    scratch_ = Addr();
    next_slot_ = 0;
}

const Breakpoint *BreakpointTable::find(Addr addr) const {
    auto it = table_.find(addr);
    return it == table_.end() || it->second.patch ? nullptr : &it->second;
}

const Breakpoint *BreakpointTable::find_guarded_hit(Addr pc) const {
    auto h = guarded_hits_.find(pc);
    if (h == guarded_hits_.end())
        return nullptr;
    auto it = table_.find(h->second);
    return it == table_.end() ? nullptr : &it->second;
}

const Breakpoint *BreakpointTable::find_trampoline(Addr addr) const {
    auto t = trampolines_.find(addr);
    if (t == trampolines_.end())
        return nullptr;
    auto it = table_.find(t->second);
    return it == table_.end() ? nullptr : &it->second;
}

} // namespace deftrace
