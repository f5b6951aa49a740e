#include "process/guardian.h"

#include "binary/error.h"
#include "process/probe_region.h"
#include "process/tracee.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace deftrace {

namespace {

// The guardian keeps its standard error (to say what it did) and its end of the pipe; nothing
// else of deftrace's: a trace file or a pipe it held open would not see its end when deftrace's
// does.
void close_all_but(int keep) {
    const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
    }
    for (int fd = STDERR_FILENO + 1; fd < 1024; ++fd)
        if (fd != keep)
            ::close(fd);
}

// Signals deftrace's terminal or its caller sends to deftrace's process group or session do not
// concern the guardian: it ends when its work is done.
void ignore_signals() {
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
            sig == SIGABRT || sig == SIGTRAP || sig == SIGCHLD)
            continue;
        std::signal(sig, SIG_IGN);
    }
}

[[noreturn]] void guard(int pipe, const CodeLog &log) {
    for (char c;;) { // deftrace never writes: this returns at its end
        const ssize_t n = read(pipe, &c, 1);
        if (n == 0 || (n < 0 && errno != EINTR))
            break;
    }
    if (log.done() || log.process() <= 0)
        _exit(0);
    try {
        const Guardian::Restored r = Guardian::restore(log);
        std::fprintf(stderr,
                     "deftrace: guardian: deftrace ended without detaching from process %d; its %zu code change%s "
                     "put back, %s, the process detached\n",
                     log.process(), r.changes, r.changes == 1 ? "" : "s",
                     r.unmapped ? "its probe region unmapped"
                                : "its probe region left mapped (a thread would not leave it; nothing jumps there)");
        _exit(0);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "deftrace: guardian: could not restore process %d: %s\n", log.process(), e.what());
        _exit(1);
    }
}

} // namespace

bool Guardian::wait_for_earlier(pid_t pid, std::chrono::milliseconds limit) {
    const std::string proc = "/proc/" + std::to_string(pid);
    // A guardian at work traces the process; a region with no tracer is one whose guardian is
    // about to (its deftrace just died). A live deftrace tracing it is no reason to wait: the
    // attach fails at once, naming it.
    auto busy = [&] {
        pid_t tracer = 0;
        std::ifstream status(proc + "/status");
        for (std::string line; std::getline(status, line);)
            if (line.starts_with("TracerPid:"))
                tracer = static_cast<pid_t>(std::stol(line.substr(10)));
        if (tracer != 0) {
            std::ifstream comm("/proc/" + std::to_string(tracer) + "/comm");
            std::string name;
            return std::getline(comm, name) && name == kCommand;
        }
        std::ifstream maps(proc + "/maps");
        for (std::string line; std::getline(maps, line);)
            if (line.find(ProbeRegion::kName) != std::string::npos)
                return true;
        return false;
    };
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (busy()) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

Guardian Guardian::start(CodeLog &log) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw Error(ErrorKind::Process, std::string("guardian: pipe: ") + std::strerror(errno));
    UniqueFd reader(fds[0]), writer(fds[1]);
    std::fflush(nullptr);
    const pid_t middle = fork();
    if (middle < 0)
        throw Error(ErrorKind::Process, std::string("guardian: fork: ") + std::strerror(errno));
    if (middle == 0) {
        // A session of its own, and no parent to wait for it: the middle process exits at once.
        setsid();
        const pid_t guardian = fork();
        if (guardian != 0)
            _exit(guardian < 0 ? 1 : 0);
        ignore_signals();
        close_all_but(reader.get());
        prctl(PR_SET_NAME, kCommand); // what a later deftrace waits for (wait_for_earlier)
        guard(reader.get(), log);
    }
    int st = 0;
    while (waitpid(middle, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        throw Error(ErrorKind::Process, "guardian: could not start it");
    return Guardian(std::move(writer));
}

Guardian::~Guardian() = default; // closing the pipe is the signal

Guardian::Restored Guardian::restore(const CodeLog &log) {
    // The kernel lets go of the process as deftrace's exit completes, after its files (the pipe)
    // are closed: until then the process is still traced, and attaching is refused.
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
        try {
            Tracee t = Tracee::attach(log.process());
            t.set_parking(log.parking().first, log.parking().second);
            Restored r;
            r.changes = t.undo(log);
            t.detach();
            r.unmapped = !t.holds_area();
            return r;
        } catch (const Error &e) {
            if (e.kind() == ErrorKind::NotFound)
                return {}; // the process is gone: nothing to put back
            if (e.kind() != ErrorKind::Permission || Clock::now() > deadline)
                throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

} // namespace deftrace
