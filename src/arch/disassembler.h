// x86-64 instruction decoding (Capstone), reduced to what deftrace's analyses need.
#pragma once

#include "arch/gpr.h"
#include "binary/address.h"
#include "binary/byte_reader.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

struct MemOperand {
    Gpr base = Gpr::None;
    Gpr index = Gpr::None;
    int scale = 1;
    int64_t disp = 0;
    bool fs_segment = false;
};

struct Operand {
    enum class Kind : uint8_t { Reg, Imm, Mem } kind = Kind::Reg;
    Gpr reg = Gpr::None; // Reg; Gpr::None for non-GPR registers (xmm, ...)
    int64_t imm = 0;     // Imm
    MemOperand mem;      // Mem
    uint8_t size = 0;    // bytes
};

enum class Op : uint8_t {
    Other,
    Mov,
    MovImm,
    Or,
    And,
    Xor,
    Test,
    Call,
    Jmp,
    Jcc,
    Ret,
    Lea,
    Movzx,
    Setcc,
    Int3,
    Nop,
    Cmp,
    Add,
    Sub,
    Push,
    Pop,
    Cmpxchg
};

// One decoded instruction at an address of space `A`: LinkAddr when decoding the ELF file's
// code for the analyses, Addr when decoding the live process's code to move it out of line.
template <class A> struct BasicInstruction {
    A address;
    uint8_t size = 0;
    Op op = Op::Other;
    std::vector<Operand> operands;  // Intel order: destination first
    std::optional<A> branch_target; // direct call/jmp/jcc
    bool rip_relative = false;
    uint8_t disp_offset = 0; // where the memory displacement sits in the encoding (0: none)
    uint8_t disp_size = 0;
    uint32_t gpr_writes = 0; // bit (1 << Gpr) for every general register the instruction writes
    std::string text;        // "mov byte ptr [rsp + 0xf], al"

    [[nodiscard]] A next() const { return address + size; }
    [[nodiscard]] bool writes_gpr(Gpr r) const { return (gpr_writes >> static_cast<unsigned>(r)) & 1u; }
};
using Instruction = BasicInstruction<LinkAddr>;
using RuntimeInstruction = BasicInstruction<Addr>;

// Cheap pre-filter before decoding: whether `code` mapped at `address` has the bytes of a rel32
// CALL (E8) to one of `targets` anywhere. False positives (an E8 byte inside another
// instruction) are for the decode to reject; there are no false negatives.
[[nodiscard]] bool may_call(Bytes code, LinkAddr address, const std::vector<LinkAddr> &targets);

class Disassembler {
public:
    Disassembler();
    ~Disassembler();
    Disassembler(const Disassembler &) = delete;
    Disassembler &operator=(const Disassembler &) = delete;

    // Decodes `code` mapped at `address` until the end or the first undecodable byte.
    [[nodiscard]] std::vector<Instruction> decode(Bytes code, LinkAddr address) const;
    [[nodiscard]] std::vector<RuntimeInstruction> decode(Bytes code, Addr address) const;
    // Decodes one instruction; nullopt if the bytes are not a valid instruction.
    [[nodiscard]] std::optional<Instruction> decode_one(Bytes code, LinkAddr address) const;
    [[nodiscard]] std::optional<RuntimeInstruction> decode_one(Bytes code, Addr address) const;

private:
    template <class A> std::vector<BasicInstruction<A>> decode_in(Bytes code, A address) const;

    size_t handle_ = 0; // csh
};

} // namespace deftrace
