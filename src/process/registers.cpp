#include "process/registers.h"

#include "binary/error.h"

namespace deftrace {

namespace {

// The slot of each register family in user_regs_struct.
unsigned long long *slot(user_regs_struct &r, Gpr g) {
    switch (g) {
    case Gpr::Rax: return &r.rax;
    case Gpr::Rbx: return &r.rbx;
    case Gpr::Rcx: return &r.rcx;
    case Gpr::Rdx: return &r.rdx;
    case Gpr::Rsi: return &r.rsi;
    case Gpr::Rdi: return &r.rdi;
    case Gpr::Rbp: return &r.rbp;
    case Gpr::Rsp: return &r.rsp;
    case Gpr::R8: return &r.r8;
    case Gpr::R9: return &r.r9;
    case Gpr::R10: return &r.r10;
    case Gpr::R11: return &r.r11;
    case Gpr::R12: return &r.r12;
    case Gpr::R13: return &r.r13;
    case Gpr::R14: return &r.r14;
    case Gpr::R15: return &r.r15;
    case Gpr::Rip: return &r.rip;
    case Gpr::None: break;
    }
    throw Error(ErrorKind::Process, "no such register");
}

} // namespace

uint64_t Registers::get(Gpr r) const {
    return *slot(const_cast<user_regs_struct &>(raw), r);
}
void Registers::set(Gpr r, uint64_t v) {
    *slot(raw, r) = v;
}

} // namespace deftrace
