// Where a thread stopped inside a signal handler goes on once the handler returns. On x86-64
// Linux the kernel delivers a signal by pushing a `struct rt_sigframe` on the handler's stack
// (the alternate signal stack, if the thread has one): the handler's return address (the
// sa_restorer the program registered, which calls rt_sigreturn), then the ucontext whose
// uc_mcontext holds every register of the interrupted code. rt_sigreturn reloads them: the
// thread continues at the saved rip, which is neither its pc while stopped nor a return address
// any stack walk would find. (arch/x86/kernel/signal_64.c, arch/x86/include/uapi/asm/sigcontext.h.)
#pragma once

#include "binary/address.h"
#include "process/process_memory.h"

#include <span>
#include <utility>
#include <vector>

namespace deftrace {

struct InterruptedContext {
    Addr pc; // uc_mcontext.rip: where the interrupted code goes on
    Addr sp; // uc_mcontext.rsp
    Addr ucontext;
};

// Every signal frame on the stack of a thread stopped at `pc` with stack pointer `sp`, innermost
// (lowest) first: each a word equal to the entry of a restorer (one of `restorers`, [entry, end)
// ranges) followed by its ucontext, searched for in the `span` bytes above `sp` that can be read.
// A thread already in the restorer has popped that word: its ucontext is at `sp`. A word equal to
// a restorer's entry by chance would add a context that is not one; every caller treats a
// context as a place to keep its hands off, so such a mistake costs a probe, not the program.
std::vector<InterruptedContext> signal_frames(const ProcessMemory &mem, Addr pc, Addr sp,
                                              std::span<const std::pair<Addr, Addr>> restorers,
                                              size_t span = 64 * 1024);

} // namespace deftrace
