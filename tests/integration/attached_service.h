// A Go service for the tests of `deftrace -p` (attach_test.cpp, attach_safety_test.cpp):
// tests/fixtures/attach_loop built with the release under test, run until the end of a scope,
// and what the tests look at in it.
#pragma once

#include "scratch_dir.h"

#include <string>
#include <sys/types.h>
#include <vector>

namespace deftrace::testing {

// DEFTRACE_GO_MINOR, default 1.22.
std::string minor_under_test();

// Builds the fixture with the release under test into `dir`; empty when that toolchain is not
// installed.
std::string build_attach_fixture(const ScratchDir &dir);

// A child process that runs until the end of the scope (SIGKILL then), its stdout and stderr in
// a file.
class Service {
public:
    Service(const std::vector<std::string> &argv, const std::string &out);
    ~Service();
    Service(const Service &) = delete;
    Service &operator=(const Service &) = delete;
    [[nodiscard]] pid_t pid() const { return pid_; }
    // The number of the last heartbeat line ("beat N"), 0 before the first.
    [[nodiscard]] long last_beat() const;
    // Waits (up to 5 s) for a heartbeat after `after`.
    [[nodiscard]] bool beats_after(long after) const;
    // Its state letter in /proc/PID/stat ('t': traced-stopped); '?' when gone.
    [[nodiscard]] char state() const;
    // Whether it ended (collected then), and how.
    [[nodiscard]] bool ended(int *status = nullptr);
    [[nodiscard]] std::string output() const;

private:
    pid_t pid_;
    std::string out_;
    bool reaped_ = false;
    int status_ = 0;
};

// The executable mappings of the program's own file, read through /proc/PID/mem.
std::string text_of(pid_t pid);
// The lines of /proc/PID/maps that deftrace mapped (its probe region, or a scratch page).
std::vector<std::string> deftrace_mappings(pid_t pid);

} // namespace deftrace::testing
