// What becomes of the processes a traced program starts, when Tracee::follow_children is set up.
#pragma once

#include "process/wait_status.h"

#include <string>

namespace deftrace {

class StopHandler;
class Tracee;

// The tracing loop traces every process the program starts (fork, vfork, clone without
// CLONE_THREAD), and theirs, from its first instruction, with none of the parent's breakpoints
// (a forked copy gets the original code back; a vfork child, which shares the parent's memory
// until it execs, steps over them unreported). What happens to it from its first exec on is the
// policy's to say.
class ChildPolicy {
public:
    virtual ~ChildPolicy() = default;
    // Child `child` replaced its program (its first exec): it is stopped at the new program's
    // first instruction, as after launch (breakpoints may be inserted). Returns the handler of its
    // stops from now on, or nullptr to let it go: it runs on untraced.
    virtual StopHandler *on_exec(Tracee &child) = 0;
    // Child `child` ended; or deftrace let go of it (`status.detached`): because on_exec said
    // so, the traced program ended first, or tracing it failed (`error`, its handler's).
    virtual void on_ended(Tracee &child, const ExitStatus &status, const std::string &error) = 0;
};

} // namespace deftrace
