#include "arch/displacement.h"

#include "arch/guarded_trap.h"

#include "binary/error.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace deftrace {

namespace {

bool fits_rel32(int64_t v) {
    return v >= INT32_MIN && v <= INT32_MAX;
}

[[noreturn]] void cannot(const RuntimeInstruction &in, const std::string &why) {
    throw Error(ErrorKind::Process,
                "cannot place a breakpoint on '" + in.text + "' at " + in.address.hex() + ": " + why);
}

void append32(std::vector<uint8_t> &out, uint32_t v) {
    const auto *p = reinterpret_cast<const uint8_t *>(&v);
    out.insert(out.end(), p, p + 4);
}

// The first half of a call run out of line: push the original return address, so the callee
// returns straight to the instruction after the call and every stack walk (the Go runtime's
// tracebacks, GC stack scans, panics, deftrace's own) sees a real code address, never the slot.
// No flags are touched (lea, not sub): the call itself touches none.
void push_return_address(std::vector<uint8_t> &s, uint64_t ret) {
    if (ret <= 0x7fffffff) {
        s.push_back(0x68); // push $imm32 (sign-extended)
        append32(s, static_cast<uint32_t>(ret));
        return;
    }
    s.insert(s.end(), {0x48, 0x8d, 0x64, 0x24, 0xf8}); // lea -0x8(%rsp), %rsp
    s.insert(s.end(), {0xc7, 0x04, 0x24});             // movl $lo, (%rsp)
    append32(s, static_cast<uint32_t>(ret));
    s.insert(s.end(), {0xc7, 0x44, 0x24, 0x04}); // movl $hi, 4(%rsp)
    append32(s, static_cast<uint32_t>(ret >> 32));
}

// `call` as a stub: a stop on it then costs no memory write in the tracee (the emulated form
// pushes the return address through /proc/PID/mem). Empty when it cannot be built: a memory
// operand (its address may depend on %rsp), or a target out of rel32 reach of the slot.
std::vector<uint8_t> call_stub(const RuntimeInstruction &in, Addr slot) {
    std::vector<uint8_t> s;
    push_return_address(s, (in.address + in.size).value());
    if (in.branch_target) {
        const int64_t rel =
            static_cast<int64_t>(in.branch_target->value()) - static_cast<int64_t>((slot + s.size() + 5).value());
        if (!fits_rel32(rel))
            return {};
        s.push_back(0xe9); // jmp rel32
        append32(s, static_cast<uint32_t>(static_cast<int32_t>(rel)));
    } else {
        const int r = in.operands.size() == 1 && in.operands[0].kind == Operand::Kind::Reg
                          ? encoding_number(in.operands[0].reg)
                          : -1;
        if (r < 0 || r == 4)
            return {};
        if (r >= 8)
            s.push_back(0x41); // REX.B
        s.push_back(0xff);     // jmp *%reg (FF /4)
        s.push_back(static_cast<uint8_t>(0xe0 | (r & 7)));
    }
    return s;
}

// Re-targets the RIP-relative displacement of `in` (its bytes in `bytes`) for the copy at `to`.
bool retarget_rip_relative(const RuntimeInstruction &in, std::vector<uint8_t> &bytes, Addr to) {
    if (!in.rip_relative)
        return true;
    if (in.disp_offset == 0 || in.disp_size != 4)
        return false;
    int32_t disp;
    std::memcpy(&disp, bytes.data() + in.disp_offset, 4);
    const int64_t moved = static_cast<int64_t>(disp) + static_cast<int64_t>(in.address.value() - to.value());
    if (!fits_rel32(moved))
        return false;
    const auto v = static_cast<int32_t>(moved);
    std::memcpy(bytes.data() + in.disp_offset, &v, 4);
    return true;
}

void append_jmp(std::vector<uint8_t> &out, Addr at, Addr target) {
    const int64_t rel = static_cast<int64_t>(target.value()) - static_cast<int64_t>((at + 5).value());
    out.push_back(0xe9);
    append32(out, static_cast<uint32_t>(static_cast<int32_t>(rel)));
}

template <class A> bool transfers_control(const BasicInstruction<A> &in) {
    switch (in.op) {
    case Op::Call:
    case Op::Jmp:
    case Op::Jcc:
    case Op::Ret:
    case Op::Int3: return true;
    default: break;
    }
    // pushf/popf too: a single-stepped pushf would save the trap flag (a tracer steps through
    // trampolines).
    for (std::string_view m : {"loop", "jrcxz", "jecxz", "syscall", "sysenter", "int", "ud", "hlt", "iret", "lret",
                               "ljmp", "lcall", "xbegin", "xabort", "xend", "pushf", "popf"})
        if (in.text.starts_with(m))
            return true;
    return false;
}

// Memory operands on the stack or RIP-relative only: a Go nil check is a load through a register
// that faults, and in the trampoline that fault would be a crash, not a panic.
template <class A> bool cannot_fault(const BasicInstruction<A> &in) {
    for (const auto &o : in.operands)
        if (o.kind == Operand::Kind::Mem &&
            (o.mem.fs_segment || (o.mem.base != Gpr::Rsp && o.mem.base != Gpr::Rbp && o.mem.base != Gpr::Rip) ||
             (o.mem.base == Gpr::Rip && o.mem.index != Gpr::None)))
            return false;
    return true;
}

} // namespace

namespace {

// One instruction of a patch copied to `at`: a call as the push of its return address and a jump
// (call_stub), anything else with its RIP-relative operand re-targeted; empty when it cannot be.
std::vector<uint8_t> relocated(const RuntimeInstruction &in, Bytes bytes, Addr at) {
    if (in.op == Op::Call)
        return call_stub(in, at);
    std::vector<uint8_t> copy(bytes.begin(), bytes.end());
    if (!retarget_rip_relative(in, copy, at))
        return {};
    return copy;
}

// The patch from instruction `first` of `insns` (decoded from `code` at `from`), whose
// breakpoint is instruction `site`; nullopt when the instructions from `first` do not allow one.
std::optional<JumpPatch> patch_from(const std::vector<RuntimeInstruction> &insns, Bytes code, Addr from, size_t first,
                                    size_t site, size_t limit, Addr trampoline, const TrampolineTrap &trap,
                                    bool vetted_before) {
    JumpPatch p;
    p.address = insns[first].address;
    p.site = insns[site].address;
    size_t covered = 0;
    bool ended = false; // by a call or a ret: nothing follows it in the trampoline
    for (size_t i = first; i < insns.size() && !ended && (covered < 5 || i <= site); ++i) {
        const RuntimeInstruction &in = insns[i];
        const size_t off = in.address - from;
        if (off + in.size > limit)
            return std::nullopt;
        if (i == site) {
            std::optional<size_t> recorded; // the recording code's jump past the trap
            if (trap.record != nullptr) {
                recorded = append_record(p.trampoline, trampoline + p.trampoline.size(), *trap.record);
                if (!recorded)
                    return std::nullopt;
            }
            if (trap.kind == TrampolineTrap::Kind::Int3) {
                p.trampoline.push_back(0xcc);
                p.hit_offset = p.trampoline.size();
            } else {
                const size_t trap_at = p.trampoline.size();
                auto hit = append_guarded_trap(p.trampoline, trampoline + trap_at, trap);
                if (!hit)
                    return std::nullopt;
                p.hit_offset = trap_at + *hit;
            }
            if (recorded) {
                const auto past = static_cast<uint32_t>(static_cast<int32_t>(p.trampoline.size() - (*recorded + 4)));
                std::memcpy(p.trampoline.data() + *recorded, &past, 4);
            }
        }
        // The breakpoint's own instruction runs displaced either way, in a stub or here; the
        // others must not transfer control nor fault.
        const bool own = i == site;
        if (own && (in.op == Op::Call || (in.op == Op::Ret && in.size == 1))) {
            ended = true;
        } else if (transfers_control(in) || (!own && !cannot_fault(in) && !(vetted_before && i < site))) {
            return std::nullopt;
        }
        auto bytes = relocated(in, code.subspan(off, in.size), trampoline + p.trampoline.size());
        if (bytes.empty())
            return std::nullopt;
        p.trampoline.insert(p.trampoline.end(), bytes.begin(), bytes.end());
        covered = off + in.size - (p.address - from);
    }
    if (covered < 5)
        return std::nullopt;
    p.length = static_cast<uint8_t>(covered);
    if (!ended) {
        const Addr at = trampoline + p.trampoline.size();
        if (!fits_rel32(static_cast<int64_t>((p.address + covered).value()) - static_cast<int64_t>((at + 5).value())))
            return std::nullopt;
        append_jmp(p.trampoline, at, p.address + covered);
    }
    if (!fits_rel32(static_cast<int64_t>(trampoline.value()) - static_cast<int64_t>((p.address + 5).value())))
        return std::nullopt;
    append_jmp(p.jump, p.address, trampoline);
    p.jump.resize(covered, 0xcc); // never executed: nothing jumps into the patch
    const size_t start = p.address - from;
    p.original.assign(code.begin() + static_cast<ptrdiff_t>(start),
                      code.begin() + static_cast<ptrdiff_t>(start + covered));
    return p;
}

} // namespace

std::optional<JumpPatch> plan_patch(const Disassembler &dis, Bytes code, Addr from, Addr site, size_t limit,
                                    Addr trampoline, const TrampolineTrap &trap, bool vetted_before) {
    limit = std::min(limit, code.size());
    if (limit < 5 || site < from)
        return std::nullopt;
    const auto insns = dis.decode(code.first(limit), from);
    size_t at = insns.size();
    for (size_t i = 0; i < insns.size(); ++i)
        if (insns[i].address == site)
            at = i;
    if (at == insns.size())
        return std::nullopt; // not on an instruction boundary of the window
    // The latest start that makes a patch: as few instructions moved before the breakpoint as
    // possible (each must pass the tests of the instructions after it).
    for (size_t first = at + 1; first-- > 0;)
        if (auto p = patch_from(insns, code, from, first, at, limit, trampoline, trap, vetted_before))
            return p;
    return std::nullopt;
}

bool movable_before_breakpoint(const Instruction &in) {
    return !transfers_control(in) && cannot_fault(in);
}

std::optional<JumpPatch> plan_jump_patch(const Disassembler &dis, Bytes code, Addr address, size_t patchable,
                                         Addr trampoline) {
    return plan_patch(dis, code, address, address, patchable, trampoline, TrampolineTrap{});
}

Displacement plan_displacement(const Disassembler &dis, Bytes code, Addr address, Addr slot) {
    auto decoded = dis.decode_one(code, address);
    if (!decoded)
        throw_corrupt("no valid instruction at " + address.hex() + " for a breakpoint");
    const RuntimeInstruction &in = *decoded;
    Displacement d;
    d.address = address;
    d.length = in.size;
    d.text = in.text;
    d.original.assign(code.begin(), code.begin() + in.size);

    switch (in.op) {
    case Op::Call:
        if (auto stub = call_stub(in, slot); !stub.empty()) {
            d.kind = Displacement::Kind::OutOfLine;
            d.stub = std::move(stub);
            return d;
        }
        if (in.branch_target) {
            d.kind = Displacement::Kind::CallDirect;
            d.target = *in.branch_target;
        } else {
            if (in.operands.size() != 1 || in.operands[0].mem.base == Gpr::Rip ||
                (in.operands[0].kind == Operand::Kind::Reg && in.operands[0].reg == Gpr::None))
                cannot(in, "unsupported indirect call form");
            d.kind = Displacement::Kind::CallIndirect;
            d.operand = in.operands[0];
        }
        return d;
    case Op::Jmp:
        if (!in.branch_target)
            cannot(in, "indirect jumps are not displaced");
        d.kind = Displacement::Kind::JmpDirect;
        d.target = *in.branch_target;
        return d;
    case Op::Ret:
        if (in.size != 1)
            cannot(in, "only a plain ret is emulated");
        d.kind = Displacement::Kind::Ret;
        return d;
    case Op::Jcc: cannot(in, "conditional jumps are not displaced");
    default: break;
    }

    // Any other instruction runs unchanged in the slot, except that a RIP-relative displacement
    // is re-targeted so it still addresses the same byte.
    d.kind = Displacement::Kind::OutOfLine;
    d.stub = d.original;
    if (in.rip_relative && (in.disp_offset == 0 || in.disp_size != 4))
        cannot(in, "RIP-relative operand without a 32-bit displacement");
    if (!retarget_rip_relative(in, d.stub, slot))
        cannot(in, "the scratch page is too far away to re-target its RIP-relative operand");
    const int64_t back =
        static_cast<int64_t>((address + in.size).value()) - static_cast<int64_t>((slot + in.size + 5).value());
    if (!fits_rel32(back))
        cannot(in, "the scratch page is too far away to jump back");
    d.stub.push_back(0xe9);
    auto rel = static_cast<int32_t>(back);
    const auto *p = reinterpret_cast<const uint8_t *>(&rel);
    d.stub.insert(d.stub.end(), p, p + 4);
    return d;
}

} // namespace deftrace
