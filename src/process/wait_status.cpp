#include "process/wait_status.h"

#include <csignal>
#include <cstring>
#include <sys/ptrace.h>
#include <sys/wait.h>

namespace deftrace {

std::string ExitStatus::describe() const {
    if (signaled)
        return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) + ")" +
               (core_dumped ? ", core dumped" : "");
    return "exited with status " + std::to_string(code);
}

WaitStop decode_wait_status(int status) {
    using Kind = WaitStop::Kind;
    WaitStop s;
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        s.kind = Kind::Ended;
        s.exit.signaled = WIFSIGNALED(status);
        s.exit.code = s.exit.signaled ? 0 : WEXITSTATUS(status);
        s.exit.signal = s.exit.signaled ? WTERMSIG(status) : 0;
        s.exit.core_dumped = s.exit.signaled && WCOREDUMP(status);
        return s;
    }
    if (!WIFSTOPPED(status))
        return s;
    s.signal = WSTOPSIG(status);
    const int event = status >> 16;
    if (event == PTRACE_EVENT_STOP) {
        const int sig = s.signal;
        s.kind =
            sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU ? Kind::GroupStop : Kind::EventStop;
    } else if (s.signal == SIGTRAP && event != 0) {
        s.kind = event == PTRACE_EVENT_CLONE                                 ? Kind::Clone
                 : event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ? Kind::Fork
                 : event == PTRACE_EVENT_EXEC                                ? Kind::Exec
                 : event == PTRACE_EVENT_EXIT                                ? Kind::Exit
                                                                             : Kind::OtherEvent;
        s.vfork = event == PTRACE_EVENT_VFORK;
    } else {
        s.kind = s.signal == SIGTRAP ? Kind::Trap : Kind::Signal;
    }
    return s;
}

} // namespace deftrace
