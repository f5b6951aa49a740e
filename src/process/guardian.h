// A process that outlives deftrace to put back what deftrace changed in a process it attached
// to, should deftrace die without doing it itself: SIGKILL, the OOM killer, a crash.
//
// Forked before anything in the traced process is changed, in a session of its own (a Ctrl-C at
// the terminal does not reach it) and with none of deftrace's files open but the end of a pipe:
// it waits for that pipe to close, which happens when deftrace ends, however it ends. If the
// code log (process/code_log.h) then says everything was undone, it exits; otherwise it
// attaches to the process once the kernel has let go of it (its tracer dead), writes the
// original bytes back, waits for every thread to leave the probe region, unmaps it, detaches and
// says so on the standard error it inherited. Meanwhile the process runs: the region's gates
// closed at deftrace's death (process/probe_region.h), so its trampolines only run the code they
// carry.
#pragma once

#include "binary/unique_fd.h"
#include "process/code_log.h"

#include <chrono>
#include <sys/types.h>

namespace deftrace {

class Guardian {
public:
    // Forks the guardian; `log` is shared with it.
    static Guardian start(CodeLog &log);
    Guardian(Guardian &&) noexcept = default;
    Guardian &operator=(Guardian &&) = delete;
    // Closes deftrace's end of the pipe: the guardian looks at the log now.
    ~Guardian();

    // The guardian's own work, in the forked process: the number of changes put back, and
    // whether the probe region could be unmapped (no thread was left inside it); throws on
    // failure.
    struct Restored {
        size_t changes = 0;
        bool unmapped = true;
    };
    static Restored restore(const CodeLog &log);

    // Before attaching to `pid`: waits (up to `limit`) while an earlier deftrace's probe region
    // is still mapped there, or the process still traced by its guardian (a deftrace killed a
    // moment ago, its guardian at work). False when that does not end in time.
    static bool wait_for_earlier(pid_t pid, std::chrono::milliseconds limit);

    // Its command name (/proc/PID/comm), as `ps` shows it.
    static constexpr const char *kCommand = "deftrace-guard";

private:
    explicit Guardian(UniqueFd pipe) : pipe_(std::move(pipe)) {}
    UniqueFd pipe_;
};

} // namespace deftrace
