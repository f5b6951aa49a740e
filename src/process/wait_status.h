// A waitpid status of a traced thread, decoded into what happened (ptrace(2), "Stopped states"),
// so that the tracing loop dispatches on a kind instead of on bit fields.
#pragma once

#include <string>

namespace deftrace {

struct ExitStatus {
    bool signaled = false;
    int code = 0;   // exit code when !signaled
    int signal = 0; // terminating signal when signaled
    bool core_dumped = false;
    bool detached = false; // deftrace let go of a process it attached to (-p), which goes on running
    [[nodiscard]] std::string describe() const;
};

struct WaitStop {
    enum class Kind {
        Ended,      // the thread exited or was killed: `exit`
        GroupStop,  // PTRACE_EVENT_STOP for a stopping signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU)
        EventStop,  // any other PTRACE_EVENT_STOP: a new thread's first stop, or PTRACE_INTERRUPT
        Clone,      // PTRACE_EVENT_CLONE: the thread created another
        Fork,       // PTRACE_EVENT_FORK or PTRACE_EVENT_VFORK: the thread created a process (`vfork`)
        Exec,       // PTRACE_EVENT_EXEC: the program replaced itself
        Exit,       // PTRACE_EVENT_EXIT: the thread is about to exit, its memory still readable
        OtherEvent, // any other PTRACE_EVENT_*
        Trap,       // a SIGTRAP: a breakpoint's, or the program's own
        Signal,     // any other signal, for the program
        NotStopped, // none of these (a WIFCONTINUED report)
    };
    Kind kind = Kind::NotStopped;
    int signal = 0;     // the stop signal (WSTOPSIG) of a stop
    bool vfork = false; // Fork: PTRACE_EVENT_VFORK (the parent thread waits for the child's exec or exit)
    ExitStatus exit;    // Ended
};

WaitStop decode_wait_status(int status);

} // namespace deftrace
