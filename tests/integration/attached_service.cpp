#include "attached_service.h"

#include "manifest.h"
#include "run_program.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace deftrace::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string minor_under_test() {
    const char *m = std::getenv("DEFTRACE_GO_MINOR");
    return m != nullptr ? m : "1.22";
}

std::string build_attach_fixture(const ScratchDir &dir) {
    const std::string src = DEFTRACE_SOURCE_DIR, out = dir / "attach_loop";
    const std::string cmd =
        "bash -c " +
        shell_quote(". " + shell_quote(src + "/scripts/go-env.sh") + " && [ -n \"$(go_root_for " + minor_under_test() +
                    ")\" ] && cd " + shell_quote(src + "/tests/fixtures/attach_loop") + " && go_for " +
                    minor_under_test() + " build -o " + shell_quote(out) + " .") +
        " 2>&1";
    int status = 0;
    run_capture(cmd, &status);
    return status == 0 && fs::exists(out) ? out : "";
}

Service::Service(const std::vector<std::string> &argv, const std::string &out) : out_(out) {
    pid_ = fork();
    if (pid_ == 0) {
        int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        exec_program(argv);
    }
}

Service::~Service() {
    if (reaped_)
        return;
    ::kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
}

std::string Service::output() const {
    return slurp(out_);
}

long Service::last_beat() const {
    const std::string s = output();
    const size_t at = s.rfind("beat ");
    return at == std::string::npos ? 0 : std::strtol(s.c_str() + at + 5, nullptr, 10);
}

bool Service::beats_after(long after) const {
    for (int i = 0; i < 500; ++i) {
        if (last_beat() > after)
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

char Service::state() const {
    const std::string stat = slurp("/proc/" + std::to_string(pid_) + "/stat");
    const size_t close = stat.rfind(')');
    return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

bool Service::ended(int *status) {
    if (!reaped_ && waitpid(pid_, &status_, WNOHANG) == pid_)
        reaped_ = true;
    if (status != nullptr)
        *status = status_;
    return reaped_;
}

std::string text_of(pid_t pid) {
    const std::string proc = "/proc/" + std::to_string(pid);
    const std::string exe = fs::read_symlink(proc + "/exe").string();
    std::ifstream maps(proc + "/maps");
    std::string line, text;
    const int mem = open((proc + "/mem").c_str(), O_RDONLY);
    while (std::getline(maps, line)) {
        unsigned long lo = 0, hi = 0;
        char perms[8] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[2] != 'x')
            continue;
        if (!line.ends_with(exe))
            continue;
        std::string bytes(hi - lo, '\0');
        if (pread(mem, bytes.data(), bytes.size(), static_cast<off_t>(lo)) != static_cast<ssize_t>(bytes.size()))
            ADD_FAILURE() << "cannot read " << line;
        text += bytes;
    }
    close(mem);
    return text;
}

std::vector<std::string> deftrace_mappings(pid_t pid) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::vector<std::string> out;
    for (std::string line; std::getline(maps, line);)
        if (line.find("deftrace-probes") != std::string::npos)
            out.push_back(line);
    return out;
}

} // namespace deftrace::testing
