#include "run_program.h"

#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace deftrace::testing {

namespace {

std::string slurp(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

RunResult run_program(const std::vector<std::string> &argv, const std::vector<std::string> &env_extra) {
    char out_tmpl[] = "/tmp/deftrace-run-out-XXXXXX";
    char err_tmpl[] = "/tmp/deftrace-run-err-XXXXXX";
    int out_fd = mkstemp(out_tmpl), err_fd = mkstemp(err_tmpl);
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        for (const auto &e : env_extra)
            putenv(const_cast<char *>(e.c_str()));
        exec_program(argv);
    }
    RunResult r;
    waitpid(pid, &r.status, 0);
    close(out_fd);
    close(err_fd);
    r.out = slurp(out_tmpl);
    r.err = slurp(err_tmpl);
    unlink(out_tmpl);
    unlink(err_tmpl);
    return r;
}

void exec_program(const std::vector<std::string> &argv) {
    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
}

int exit_code(const RunResult &r) {
    return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
}

std::string describe_status(int status) {
    if (WIFEXITED(status))
        return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return std::string("signal ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// Go's crash tracebacks print argument words and goroutine ids. The words can be heap addresses
// (randomised from Go 1.26), and ids come from per-P batches (runtime.newproc1: _GoidCacheBatch),
// so they depend on which P ran the creating goroutine: scheduling, which any tracer perturbs.
// A fatal error's traceback (runtime.throw) also names the M the goroutine ran on (" m=N ") and
// lists the runtime's own goroutines (forcegchelper, bgsweep, ... "created by runtime.*"), whose
// state at that instant ([runnable] or [force gc (idle)]) is scheduling again, untraced runs
// included. So are the other goroutines' states: one that has just sent on a channel and is about
// to block on another is [runnable] in runtime.chanrecv, or [chan receive] in runtime.gopark a
// moment later; such a goroutine is compared from its first frame outside the runtime on.
// Output that differs from the untraced run is compared with those masked.
std::string mask_traceback(const std::string &s) {
    static const std::regex hex("0x[0-9a-f]+"), goid("goroutine [0-9]+"), mid(" m=[0-9]+ "),
        other_state("^\n\ngoroutine [0-9]+ \\[[^\\]]*\\]:\n((runtime\\.[^\n]*\n\t[^\n]*\n)*)");
    std::string kept;
    for (size_t at = 0; at < s.size();) {
        size_t next = s.find("\n\ngoroutine ", at + 1);
        if (next == std::string::npos)
            next = s.size();
        const std::string block = s.substr(at, next - at);
        if (at == 0)
            kept += block;
        else if (block.find("\ncreated by runtime.") == std::string::npos)
            kept += std::regex_replace(block, other_state, "\n\ngoroutine ? [?]:\n",
                                       std::regex_constants::format_first_only);
        at = next;
    }
    // The "runtime stack:" of a fatal error is the g0 stack of the thread that found it: which
    // scheduler path that was (mstart, park_m, goexit0 ...) depends on timing (Go 1.15 prints
    // it for a deadlock).
    static const std::regex g0_stack("runtime stack:\n(([^\n]+\n)*)");
    const std::string masked =
        std::regex_replace(std::regex_replace(std::regex_replace(kept, hex, "0x?"), goid, "goroutine ?"), mid, " m=? ");
    return std::regex_replace(masked, g0_stack, "runtime stack:\n?\n");
}

} // namespace deftrace::testing
