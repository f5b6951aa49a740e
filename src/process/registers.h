// One thread's general registers (PTRACE_GETREGS layout), addressed by register family.
#pragma once

#include "arch/gpr.h"
#include "binary/address.h"

#include <sys/user.h>

namespace deftrace {

struct Registers {
    user_regs_struct raw{};

    [[nodiscard]] Addr pc() const { return Addr(raw.rip); }
    void set_pc(Addr a) { raw.rip = a.value(); }
    [[nodiscard]] Addr sp() const { return Addr(raw.rsp); }
    void set_sp(Addr a) { raw.rsp = a.value(); }
    [[nodiscard]] uint64_t fs_base() const { return raw.fs_base; }

    [[nodiscard]] uint64_t get(Gpr r) const;
    void set(Gpr r, uint64_t v);
};

} // namespace deftrace
