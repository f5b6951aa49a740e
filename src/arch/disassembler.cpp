#include "arch/disassembler.h"

#include "binary/error.h"

#include <algorithm>
#include <capstone/capstone.h>
#include <cstring>
#include <memory>

namespace deftrace {

namespace {

Gpr gpr_of(unsigned reg) {
    switch (reg) {
    case X86_REG_AL:
    case X86_REG_AH:
    case X86_REG_AX:
    case X86_REG_EAX:
    case X86_REG_RAX: return Gpr::Rax;
    case X86_REG_BL:
    case X86_REG_BH:
    case X86_REG_BX:
    case X86_REG_EBX:
    case X86_REG_RBX: return Gpr::Rbx;
    case X86_REG_CL:
    case X86_REG_CH:
    case X86_REG_CX:
    case X86_REG_ECX:
    case X86_REG_RCX: return Gpr::Rcx;
    case X86_REG_DL:
    case X86_REG_DH:
    case X86_REG_DX:
    case X86_REG_EDX:
    case X86_REG_RDX: return Gpr::Rdx;
    case X86_REG_SIL:
    case X86_REG_SI:
    case X86_REG_ESI:
    case X86_REG_RSI: return Gpr::Rsi;
    case X86_REG_DIL:
    case X86_REG_DI:
    case X86_REG_EDI:
    case X86_REG_RDI: return Gpr::Rdi;
    case X86_REG_BPL:
    case X86_REG_BP:
    case X86_REG_EBP:
    case X86_REG_RBP: return Gpr::Rbp;
    case X86_REG_SPL:
    case X86_REG_SP:
    case X86_REG_ESP:
    case X86_REG_RSP: return Gpr::Rsp;
    case X86_REG_R8B:
    case X86_REG_R8W:
    case X86_REG_R8D:
    case X86_REG_R8: return Gpr::R8;
    case X86_REG_R9B:
    case X86_REG_R9W:
    case X86_REG_R9D:
    case X86_REG_R9: return Gpr::R9;
    case X86_REG_R10B:
    case X86_REG_R10W:
    case X86_REG_R10D:
    case X86_REG_R10: return Gpr::R10;
    case X86_REG_R11B:
    case X86_REG_R11W:
    case X86_REG_R11D:
    case X86_REG_R11: return Gpr::R11;
    case X86_REG_R12B:
    case X86_REG_R12W:
    case X86_REG_R12D:
    case X86_REG_R12: return Gpr::R12;
    case X86_REG_R13B:
    case X86_REG_R13W:
    case X86_REG_R13D:
    case X86_REG_R13: return Gpr::R13;
    case X86_REG_R14B:
    case X86_REG_R14W:
    case X86_REG_R14D:
    case X86_REG_R14: return Gpr::R14;
    case X86_REG_R15B:
    case X86_REG_R15W:
    case X86_REG_R15D:
    case X86_REG_R15: return Gpr::R15;
    case X86_REG_RIP:
    case X86_REG_EIP: return Gpr::Rip;
    default: return Gpr::None;
    }
}

Op classify(const cs_insn &insn, const cs_x86 &x86) {
    switch (insn.id) {
    case X86_INS_MOV:
    case X86_INS_MOVABS: return x86.op_count == 2 && x86.operands[1].type == X86_OP_IMM ? Op::MovImm : Op::Mov;
    case X86_INS_MOVZX: return Op::Movzx;
    case X86_INS_OR: return Op::Or;
    case X86_INS_AND: return Op::And;
    case X86_INS_XOR: return Op::Xor;
    case X86_INS_SETAE:
    case X86_INS_SETA:
    case X86_INS_SETBE:
    case X86_INS_SETB:
    case X86_INS_SETE:
    case X86_INS_SETGE:
    case X86_INS_SETG:
    case X86_INS_SETLE:
    case X86_INS_SETL:
    case X86_INS_SETNE:
    case X86_INS_SETNO:
    case X86_INS_SETNP:
    case X86_INS_SETNS:
    case X86_INS_SETO:
    case X86_INS_SETP:
    case X86_INS_SETS: return Op::Setcc;
    case X86_INS_TEST: return Op::Test;
    case X86_INS_CALL: return Op::Call;
    case X86_INS_JMP: return Op::Jmp;
    case X86_INS_RET: return Op::Ret;
    case X86_INS_LEA: return Op::Lea;
    case X86_INS_INT3: return Op::Int3;
    case X86_INS_NOP: return Op::Nop;
    case X86_INS_CMP: return Op::Cmp;
    case X86_INS_ADD: return Op::Add;
    case X86_INS_SUB: return Op::Sub;
    case X86_INS_PUSH: return Op::Push;
    case X86_INS_POP: return Op::Pop;
    case X86_INS_CMPXCHG: return Op::Cmpxchg;
    default: break;
    }
    for (uint8_t i = 0; i < insn.detail->groups_count; ++i)
        if (insn.detail->groups[i] == X86_GRP_JUMP)
            return Op::Jcc;
    return Op::Other;
}

Operand to_operand(const cs_x86_op &o) {
    Operand op;
    op.size = o.size;
    switch (o.type) {
    case X86_OP_REG:
        op.kind = Operand::Kind::Reg;
        op.reg = gpr_of(o.reg);
        break;
    case X86_OP_IMM:
        op.kind = Operand::Kind::Imm;
        op.imm = o.imm;
        break;
    case X86_OP_MEM:
        op.kind = Operand::Kind::Mem;
        op.mem = {gpr_of(o.mem.base), gpr_of(o.mem.index), o.mem.scale, o.mem.disp, o.mem.segment == X86_REG_FS};
        break;
    default: break;
    }
    return op;
}

template <class A> BasicInstruction<A> to_instruction(csh h, const cs_insn &insn) {
    const cs_x86 &x86 = insn.detail->x86;
    BasicInstruction<A> in;
    in.address = A(insn.address);
    in.size = static_cast<uint8_t>(insn.size);
    in.op = classify(insn, x86);
    in.text = std::string(insn.mnemonic) + (insn.op_str[0] ? " " : "") + insn.op_str;
    for (uint8_t i = 0; i < x86.op_count; ++i) {
        Operand op = to_operand(x86.operands[i]);
        if (op.kind == Operand::Kind::Mem && op.mem.base == Gpr::Rip)
            in.rip_relative = true;
        in.operands.push_back(op);
    }
    in.disp_offset = x86.encoding.disp_offset;
    in.disp_size = x86.encoding.disp_size;
    if ((in.op == Op::Call || in.op == Op::Jmp || in.op == Op::Jcc) && x86.op_count == 1 &&
        x86.operands[0].type == X86_OP_IMM)
        in.branch_target = A(static_cast<uint64_t>(x86.operands[0].imm));
    cs_regs read{}, written{};
    uint8_t nread = 0, nwritten = 0;
    if (cs_regs_access(h, &insn, read, &nread, written, &nwritten) == CS_ERR_OK)
        for (uint8_t i = 0; i < nwritten; ++i)
            if (Gpr g = gpr_of(written[i]); g != Gpr::None)
                in.gpr_writes |= 1u << static_cast<unsigned>(g);
    return in;
}

// The buffer cs_disasm_iter decodes into, from cs_malloc: owned, so that an exception while
// decoding (bad_alloc) does not leak it.
struct InsnDeleter {
    void operator()(cs_insn *insn) const { cs_free(insn, 1); }
};
using InsnPtr = std::unique_ptr<cs_insn, InsnDeleter>;

} // namespace

Disassembler::Disassembler() {
    csh h = 0;
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
        throw Error(ErrorKind::Io, "Capstone: cannot open an x86-64 disassembler");
    cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
    handle_ = h;
}

Disassembler::~Disassembler() {
    csh h = handle_;
    cs_close(&h);
}

template <class A> std::vector<BasicInstruction<A>> Disassembler::decode_in(Bytes code, A address) const {
    std::vector<BasicInstruction<A>> out;
    out.reserve(code.size() / 4);
    csh h = handle_;
    InsnPtr insn(cs_malloc(h));
    if (insn == nullptr)
        throw Error(ErrorKind::Io, "Capstone: out of memory");
    const uint8_t *p = code.data();
    size_t left = code.size();
    uint64_t pc = address.value();
    while (left > 0 && cs_disasm_iter(h, &p, &left, &pc, insn.get()))
        out.push_back(to_instruction<A>(h, *insn));
    return out;
}

std::vector<Instruction> Disassembler::decode(Bytes code, LinkAddr address) const {
    return decode_in(code, address);
}
std::vector<RuntimeInstruction> Disassembler::decode(Bytes code, Addr address) const {
    return decode_in(code, address);
}

namespace {
template <class A> std::optional<A> first_of(std::vector<A> v) {
    if (v.empty())
        return std::nullopt;
    return std::move(v.front());
}
} // namespace

std::optional<Instruction> Disassembler::decode_one(Bytes code, LinkAddr address) const {
    return first_of(decode(code.first(std::min<size_t>(code.size(), 16)), address));
}
std::optional<RuntimeInstruction> Disassembler::decode_one(Bytes code, Addr address) const {
    return first_of(decode(code.first(std::min<size_t>(code.size(), 16)), address));
}

bool may_call(Bytes code, LinkAddr address, const std::vector<LinkAddr> &targets) {
    for (size_t i = 0; i + 5 <= code.size(); ++i) {
        if (code[i] != 0xe8)
            continue;
        int32_t rel;
        std::memcpy(&rel, code.data() + i + 1, 4);
        const LinkAddr dest = address + (i + 5 + static_cast<int64_t>(rel));
        if (std::find(targets.begin(), targets.end(), dest) != targets.end())
            return true;
    }
    return false;
}

} // namespace deftrace
