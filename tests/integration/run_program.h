// Runs a program with stdin from /dev/null and captures stdout, stderr and the wait status.
#pragma once

#include <string>
#include <vector>

namespace deftrace::testing {

struct RunResult {
    std::string out, err;
    int status = 0; // raw wait status
};

RunResult run_program(const std::vector<std::string> &argv, const std::vector<std::string> &env_extra = {});
// In a forked child: execv(argv[0], argv), or _exit(127) when that fails.
[[noreturn]] void exec_program(const std::vector<std::string> &argv);
std::string describe_status(int status);
// The exit code, or -1 when the program was killed by a signal.
int exit_code(const RunResult &r);
// A crash's traceback with what scheduling and address randomisation change between runs
// masked: argument words, goroutine and M ids, the runtime's own goroutines.
std::string mask_traceback(const std::string &s);

} // namespace deftrace::testing
