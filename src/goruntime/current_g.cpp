#include "goruntime/current_g.h"

namespace deftrace {

CurrentG CurrentG::locate(const GoBinary &bin, const Disassembler &dis) {
    CurrentG c;
    c.r14_holds_g_ = bin.facts().abi == CallingConvention::Register;
    auto index = bin.pclntab().find_by_name("runtime.rt0_go");
    if (!index)
        return c;
    const FuncInfo f = bin.pclntab().func(*index);
    // rt0_go: `get_tls(BX); MOVQ $0x123, g(BX)` (a check that TLS works), later
    // `MOVQ CX, g(BX)` for g0: 8-byte stores to fs:[offset] with no base register, or (a PIE
    // before Go 1.17) to fs:[reg] after `mov $offset, reg`.
    std::optional<std::pair<Gpr, int64_t>> imm; // the last register loaded with a constant
    for (const auto &in : dis.decode(bin.code(f), f.entry)) {
        if (in.op != Op::Mov && in.op != Op::MovImm)
            continue;
        if (in.operands.size() != 2)
            continue;
        if (in.operands[0].kind == Operand::Kind::Reg && in.operands[1].kind == Operand::Kind::Imm)
            imm = {in.operands[0].reg, in.operands[1].imm};
        if (in.operands[0].kind != Operand::Kind::Mem || in.operands[0].size != 8 || !in.operands[0].mem.fs_segment)
            continue;
        const MemOperand &m = in.operands[0].mem;
        if (m.base == Gpr::None && m.index == Gpr::None) {
            c.tls_offset_ = m.disp;
            break;
        }
        if (m.index == Gpr::None && m.disp == 0 && imm && imm->first == m.base) {
            c.tls_offset_ = imm->second;
            break;
        }
    }
    return c;
}

std::optional<Addr> CurrentG::slot(const Registers &regs) const {
    if (!tls_offset_ || regs.fs_base() == 0)
        return std::nullopt;
    return Addr(regs.fs_base() + static_cast<uint64_t>(*tls_offset_));
}

CurrentG::Found CurrentG::at(const Registers &regs, const ProcessMemory &mem) const {
    Found f{Addr(regs.raw.r14)};
    if (auto s = slot(regs))
        if (auto word = mem.read_u64(*s)) {
            f.checked = true;
            f.r14_agrees = !r14_holds_g_ || *word == regs.raw.r14;
            f.g = Addr(*word);
        }
    return f;
}

std::optional<Addr> CurrentG::curg_of_g0(Addr g0, const RuntimeState &state) {
    auto m = state.m_of(g0);
    if (!m)
        return std::nullopt;
    auto curg = state.curg_of(*m);
    if (!curg || curg->is_null())
        return std::nullopt;
    return curg;
}

} // namespace deftrace
