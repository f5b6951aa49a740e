// The x86-64 general-purpose registers, named by family: what both the decoder (operands) and
// the ptrace layer (a stopped thread's registers) speak of.
#pragma once

#include <cstdint>

namespace deftrace {

// General-purpose registers by family (al/ax/eax/rax are all Rax).
enum class Gpr : uint8_t { None, Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rbp, Rsp, R8, R9, R10, R11, R12, R13, R14, R15, Rip };

} // namespace deftrace
