// A trap that a thread takes by signalling itself, and only while a gate says its tracer lives.
//
// An int3 left in a process whose tracer is gone kills it: the SIGTRAP it raises is delivered
// to the program, and Go's runtime treats SIGTRAP as fatal. The same holds for a thread stopped
// on an int3 at the instant the tracer dies: the kernel resumes it with the SIGTRAP still to be
// delivered. This trap instead
//   1. saves the registers its system calls use, and the flags, just below the stack pointer
//      (at the probes' sites, inside Go functions past their stack check, the runtime leaves
//      hundreds of bytes there; Go code keeps nothing below SP, and signal handlers run on their
//      own stack);
//   2. goes on only while the 32-bit gate word equals the value the tracer set (the tracer holds
//      a robust futex there: the kernel rewrites the word the moment the tracer dies, however it
//      dies) and while the probe's armed byte is not 0;
//   3. marks this pass with the time-stamp counter, just below what it saved;
//   4. sends its own thread a signal (tgkill); under ptrace the thread stops there, in a
//      signal-delivery-stop the tracer handles;
//   5. restores what it saved and falls through to the relocated instructions.
// The signal is one the program tolerates uninvited (Go's SIGURG: the runtime sends it itself to
// preempt goroutines, and treats one that asks nothing as a no-op), so a thread caught in that
// stop when the tracer dies simply receives it. The program's own SIGURG may merge with the
// trap's (the kernel keeps one pending), or reach the thread as it comes back to the hit's pc
// from the handler of the last one: the mark tells a new pass through the trap from the same
// pass seen again.
#pragma once

#include "arch/displacement.h"
#include "arch/gpr.h"

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace deftrace {

// What the trap leaves around the stack pointer at its stop: the pass's mark at SP - 8, rflags at
// SP + 0, then each saved register at its offset. The stopped thread's SP is the original SP
// minus kGuardedSaveSize.
inline constexpr uint64_t kGuardedSaveSize = 0x38;
inline constexpr uint64_t kGuardedMarkBelow = 8;
inline constexpr std::array<std::pair<Gpr, uint64_t>, 6> kGuardedSaved = {{
    {Gpr::R11, 0x08},
    {Gpr::Rdi, 0x10},
    {Gpr::Rsi, 0x18},
    {Gpr::Rdx, 0x20},
    {Gpr::Rcx, 0x28},
    {Gpr::Rax, 0x30},
}};

// Appends the trap for a trampoline being built at `at` (its current end) to `out`; returns the
// offset in `out` of the pc a stopped hit reports (just after the system call). nullopt when a
// RIP-relative operand would not reach the gate or the armed byte.
std::optional<size_t> append_guarded_trap(std::vector<uint8_t> &out, Addr at, const TrampolineTrap &trap);

// The longest trap append_guarded_trap writes.
inline constexpr size_t kMaxGuardedTrapSize = 160;

} // namespace deftrace
