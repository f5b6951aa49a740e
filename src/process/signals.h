// Signals around a traced program: what it starts with, and what deftrace passes on to it.
//
// Untraced, the program would inherit its parent's signal dispositions; traced, its parent is
// deftrace, which ignores SIGPIPE (a closed trace output must not kill the tracer and with it the
// program) — and an ignored signal stays ignored across exec. So deftrace records what it
// inherited before changing anything, and the child puts that back before exec.
//
// While the program runs, every catchable signal sent to deftrace that would otherwise kill it
// (SIGTERM, SIGUSR2, SIGALRM, SIGPIPE, real-time signals...) is passed on to the program instead,
// as strace does: whoever signals the tracer means the program. Signals the terminal sent to the
// whole foreground process group (si_code SI_KERNEL) reached the program already and are not
// sent twice; a SIGPIPE or SIGXFSZ deftrace's own write raised is deftrace's and is dropped.
#pragma once

#include <sys/types.h>

namespace deftrace {

// Records the signal dispositions deftrace inherited. Call first thing in main().
void save_inherited_signal_dispositions();

// In a forked child, before exec: restores what save_inherited_signal_dispositions() recorded.
// Async-signal-safe.
void restore_inherited_signal_dispositions();

// While alive, signals sent to deftrace are forwarded to `pid` (see above).
class SignalForwarding {
public:
    explicit SignalForwarding(pid_t pid);
    ~SignalForwarding();
    SignalForwarding(const SignalForwarding &) = delete;
    SignalForwarding &operator=(const SignalForwarding &) = delete;
};

} // namespace deftrace
