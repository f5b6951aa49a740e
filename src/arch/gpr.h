// The x86-64 general-purpose registers, named by family: what both the decoder (operands) and
// the ptrace layer (a stopped thread's registers) speak of.
#pragma once

#include <cstdint>

namespace deftrace {

// General-purpose registers by family (al/ax/eax/rax are all Rax).
enum class Gpr : uint8_t { None, Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rbp, Rsp, R8, R9, R10, R11, R12, R13, R14, R15, Rip };

// The register's number in an instruction's encoding (ModRM, SIB, REX bits); -1 for None and Rip.
constexpr int encoding_number(Gpr r) {
    switch (r) {
    case Gpr::Rax: return 0;
    case Gpr::Rcx: return 1;
    case Gpr::Rdx: return 2;
    case Gpr::Rbx: return 3;
    case Gpr::Rsp: return 4;
    case Gpr::Rbp: return 5;
    case Gpr::Rsi: return 6;
    case Gpr::Rdi: return 7;
    case Gpr::R8: return 8;
    case Gpr::R9: return 9;
    case Gpr::R10: return 10;
    case Gpr::R11: return 11;
    case Gpr::R12: return 12;
    case Gpr::R13: return 13;
    case Gpr::R14: return 14;
    case Gpr::R15: return 15;
    default: return -1;
    }
}

} // namespace deftrace
