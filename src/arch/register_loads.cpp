#include "arch/register_loads.h"

namespace deftrace {

namespace {

bool memory_operand(const Operand &o) {
    return o.kind == Operand::Kind::Mem && !o.mem.fs_segment && o.mem.base != Gpr::None;
}

// The operand's address, for an instruction that ends at `next` (RIP-relative).
uint64_t address_of(const MemOperand &m, uint64_t next, const RegisterFile &regs) {
    uint64_t a = static_cast<uint64_t>(m.disp);
    a += m.base == Gpr::Rip ? next : regs.get(m.base);
    if (m.index != Gpr::None)
        a += regs.get(m.index) * static_cast<uint64_t>(m.scale);
    return a;
}

// A no-op: nop, or the two-byte `xchg %ax,%ax` the compiler pads with.
bool is_nop(const Instruction &in) {
    return in.op == Op::Nop || in.text == "xchg ax, ax";
}

} // namespace

bool is_register_load(const Instruction &in) {
    if (is_nop(in))
        return true;
    if (in.operands.size() != 2 || in.operands[0].kind != Operand::Kind::Reg || in.operands[0].reg == Gpr::None ||
        in.operands[0].reg == Gpr::Rip || in.operands[0].reg == Gpr::Rsp)
        return false;
    const Operand &dst = in.operands[0], &src = in.operands[1];
    if (in.op == Op::Lea)
        return dst.size == 8 && memory_operand(src);
    if (in.op != Op::Mov)
        return false;
    if (src.kind == Operand::Kind::Reg)
        return dst.size == 8 && src.size == 8 && src.reg != Gpr::None;
    return memory_operand(src) && (dst.size == 8 || dst.size == 4) && src.size == dst.size;
}

bool emulate_loads(const std::vector<Instruction> &insns, const std::function<uint64_t(LinkAddr)> &runtime,
                   const RegisterFile &regs) {
    for (const Instruction &in : insns) {
        if (is_nop(in))
            continue;
        const Gpr dst = in.operands[0].reg;
        const Operand &src = in.operands[1];
        if (src.kind == Operand::Kind::Reg) {
            regs.set(dst, regs.get(src.reg));
            continue;
        }
        const uint64_t at = address_of(src.mem, runtime(in.next()), regs);
        if (in.op == Op::Lea) {
            regs.set(dst, at);
            continue;
        }
        const auto v = regs.read(at, src.size);
        regs.set(dst, v.value_or(0));
        if (!v)
            return false;
    }
    return true;
}

} // namespace deftrace
