// deftrace -p must never take the service down, whatever happens to deftrace: every signal it can
// receive, SIGKILL at any moment (the guardian puts the code back), attaching and detaching again
// and again, a thread another tracer holds. The service (tests/fixtures/attach_loop) is built with
// the release under test (DEFTRACE_GO_MINOR).
#include "attached_service.h"
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// `deftrace -p PID ARGS...`, its stderr in a file, running until it is waited for.
class Deftrace {
public:
    Deftrace(pid_t target, const std::vector<std::string> &args, const std::string &err) : err_(err) {
        fs::remove(err); // what a previous one wrote there must not pass for this one's
        std::vector<std::string> argv = {DEFTRACE_EXE, "-p", std::to_string(target), "-o", "/dev/null"};
        argv.insert(argv.end(), args.begin(), args.end());
        pid_ = fork();
        if (pid_ == 0) {
            const int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, 2);
            setpgid(0, 0); // as a job of its own: signals the test sends are for it alone
            exec_program(argv);
        }
    }
    ~Deftrace() {
        if (!done_) {
            ::kill(pid_, SIGKILL);
            waitpid(pid_, &status_, 0);
        }
    }
    Deftrace(const Deftrace &) = delete;
    Deftrace &operator=(const Deftrace &) = delete;
    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] std::string err() const { return slurp(err_); }
    // Waits (up to 20 s) for its "attached to process" line; false if it ended first.
    bool attached() {
        for (int i = 0; i < 2000; ++i) {
            if (err().find("deftrace: attached to process") != std::string::npos)
                return true;
            if (ended())
                return false;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
    // Whether it has ended (collected then).
    bool ended() {
        if (!done_ && waitpid(pid_, &status_, WNOHANG) == pid_)
            done_ = true;
        return done_;
    }
    // Waits up to `limit` for it to end; its wait status, or nullopt.
    std::optional<int> wait(std::chrono::milliseconds limit) {
        for (auto t = 0ms; t < limit; t += 10ms) {
            if (ended())
                return status_;
            std::this_thread::sleep_for(10ms);
        }
        return std::nullopt;
    }
    [[nodiscard]] char state() const {
        const std::string stat = slurp("/proc/" + std::to_string(pid_) + "/stat");
        const size_t close = stat.rfind(')');
        return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
    }

private:
    pid_t pid_ = -1;
    std::string err_;
    bool done_ = false;
    int status_ = 0;
};

// Waits (up to 10 s) until the service's code is `text` again and no mapping of deftrace's is left
// (the guardian's work after a SIGKILL).
bool restored(pid_t pid, const std::string &text) {
    for (int i = 0; i < 1000; ++i) {
        if (deftrace_mappings(pid).empty() && text_of(pid) == text)
            return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

// A dead service's output, cut to what tells how it died: from its first line that is not a
// heartbeat (Go's "SIGSEGV: ..." or "fatal error: ..." and the registers), at most 6000 bytes.
std::string death(const std::string &out) {
    size_t at = 0;
    while (at < out.size() && out.compare(at, 5, "beat ") == 0)
        at = std::min(out.find('\n', at), out.size()) + 1;
    return out.substr(std::min(at, out.size()), 6000);
}

class AttachSafety : public ::testing::Test {
protected:
    void SetUp() override {
        prog_ = build_attach_fixture(dir_);
        if (prog_.empty())
            FAIL() << "no Go " << minor_under_test() << " toolchain to build the fixture (scripts/setup-go.sh)";
    }
    // The service is still there, its code byte for byte as before, nothing of deftrace's mapped,
    // its heartbeat going.
    void expect_untouched(Service &svc, const std::string &before) {
        int st = 0;
        ASSERT_FALSE(svc.ended(&st)) << "the service died: " << describe_status(st) << "\n" << death(svc.output());
        EXPECT_TRUE(text_of(svc.pid()) == before) << "the service's code differs";
        const auto maps = deftrace_mappings(svc.pid());
        EXPECT_TRUE(maps.empty()) << maps.front();
        EXPECT_TRUE(svc.beats_after(svc.last_beat() + 2)) << "no heartbeat";
    }
    ScratchDir dir_{"attach-safety"};
    std::string prog_;
};

enum class Expect { Detach, Ignored, Report };

Expect expected_answer(int sig) {
    switch (sig) {
    case SIGUSR1: return Expect::Report;
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
    case SIGPIPE:
    case SIGALRM:
    case SIGWINCH:
    case SIGURG:
    case SIGXFSZ:
    case SIGCHLD:
    case SIGCONT: return Expect::Ignored;
    default: return Expect::Detach;
    }
}

// Every signal `kill -l` lists that a process can catch (not SIGKILL, SIGSTOP; glibc keeps 32
// and 33 for itself and lists neither).
std::vector<int> catchable_signals() {
    std::vector<int> out;
    for (int sig = 1; sig <= 64; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP && sig != 32 && sig != 33)
            out.push_back(sig);
    return out;
}

TEST_F(AttachSafety, EverySignalToDeftraceDetachesReportsOrIsIgnored) {
    Service svc({prog_}, dir_ / "svc-signals.txt");
    ASSERT_TRUE(svc.beats_after(2));
    const std::string before = text_of(svc.pid());
    for (int sig : catchable_signals()) {
        const char *abbrev = sigabbrev_np(sig); // none for the real-time signals
        SCOPED_TRACE("signal " + std::to_string(sig) + " (" + (abbrev != nullptr ? abbrev : "RT") + ")");
        Deftrace d(svc.pid(), {}, dir_ / "deftrace-signals.err");
        ASSERT_TRUE(d.attached()) << d.err();
        ::kill(d.pid(), sig);
        const Expect expect = expected_answer(sig);
        if (expect == Expect::Detach) {
            const auto st = d.wait(20s);
            ASSERT_TRUE(st) << "deftrace did not detach";
            EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << describe_status(*st) << "\n" << d.err();
        } else {
            std::this_thread::sleep_for(300ms);
            EXPECT_FALSE(d.ended()) << "deftrace ended: " << d.err();
            EXPECT_NE(d.state(), 'T') << "deftrace stopped";
            EXPECT_TRUE(svc.beats_after(svc.last_beat() + 2)) << "the service stalls while deftrace is signalled";
            ::kill(d.pid(), SIGTERM);
            const auto st = d.wait(20s);
            ASSERT_TRUE(st) << "deftrace did not detach on SIGTERM";
            EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << describe_status(*st) << "\n" << d.err();
        }
        expect_untouched(svc, before);
        if (HasFatalFailure())
            return;
    }
}

// kill -9 of deftrace while the service hits its probes thousands of times a second: the
// trampolines' gates close with deftrace, a thread caught in a trampoline's stop receives the
// signal it sent itself (a no-op to Go's runtime), and the guardian puts the code back.
TEST_F(AttachSafety, KillNineNeverTakesTheServiceDown) {
    const int rounds = std::getenv("DEFTRACE_KILL_ROUNDS") ? std::atoi(std::getenv("DEFTRACE_KILL_ROUNDS")) : 100;
    Service svc({prog_, "busy"}, dir_ / "svc-kill.txt");
    ASSERT_TRUE(svc.beats_after(2));
    ASSERT_FALSE(svc.ended()) << svc.output();
    const std::string before = text_of(svc.pid());
    std::mt19937 random(12345);
    int crashes = 0, guarded = 0;
    for (int i = 0; i < rounds && crashes == 0; ++i) {
        SCOPED_TRACE("round " + std::to_string(i));
        Deftrace d(svc.pid(), {}, dir_ / "deftrace-kill.err");
        ASSERT_TRUE(d.attached()) << d.err();
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 50));
        ::kill(d.pid(), SIGKILL);
        d.wait(5s);
        if (svc.ended()) {
            ++crashes;
            break;
        }
        ASSERT_TRUE(restored(svc.pid(), before)) << "the guardian did not put the code back:\n" << d.err();
        for (int w = 0; w < 200 && d.err().find("deftrace: guardian:") == std::string::npos; ++w)
            std::this_thread::sleep_for(10ms); // it says so once done
        guarded += d.err().find("deftrace: guardian:") != std::string::npos;
    }
    std::printf("kill -9 of an attached deftrace: %d rounds, %d service crashes, %d guardian restores\n", rounds,
                crashes, guarded);
    EXPECT_EQ(crashes, 0) << death(svc.output());
    EXPECT_EQ(guarded, rounds) << "each kill leaves the guardian work to do";
    expect_untouched(svc, before);
}

TEST_F(AttachSafety, AttachingAndDetachingAgainAndAgainLeavesNothingBehind) {
    const int cycles = std::getenv("DEFTRACE_ATTACH_CYCLES") ? std::atoi(std::getenv("DEFTRACE_ATTACH_CYCLES")) : 500;
    Service svc({prog_, "busy"}, dir_ / "svc-cycles.txt");
    ASSERT_TRUE(svc.beats_after(2));
    const std::string before = text_of(svc.pid());
    int failed = 0;
    for (int i = 0; i < cycles && !svc.ended(); ++i) {
        const RunResult r =
            run_program({DEFTRACE_EXE, "-p", std::to_string(svc.pid()), "--duration", "0.01", "-o", "/dev/null"});
        if (exit_code(r) != 0 && ++failed <= 3)
            ADD_FAILURE() << "cycle " << i << ": exit " << exit_code(r) << ": " << r.err;
    }
    std::printf("attach/detach: %d cycles, %d failed\n", cycles, failed);
    expect_untouched(svc, before);
}

// Sends SIGURG (the runtime's own preemption signal, which a Go program takes at any time) to
// every thread of a process, one thread after another, about every `period`, while it lives.
class SignalFlood {
public:
    SignalFlood(pid_t pid, std::chrono::microseconds period)
        : thread_([this, pid, period] {
              const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
              while (!stop_) {
                  std::error_code ec;
                  for (const auto &e : fs::directory_iterator(tasks, ec))
                      syscall(SYS_tgkill, pid, std::stoi(e.path().filename().string()), SIGURG);
                  ++rounds_;
                  std::this_thread::sleep_for(period);
              }
          }) {}
    ~SignalFlood() {
        stop_ = true;
        thread_.join();
    }
    SignalFlood(const SignalFlood &) = delete;
    SignalFlood &operator=(const SignalFlood &) = delete;
    [[nodiscard]] uint64_t rounds() const { return rounds_; }

private:
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> rounds_{0};
    std::thread thread_;
};

// A service that receives signals all the time has threads inside signal handlers whenever
// deftrace stops it, each to return to the pc the signal interrupted (its ucontext): neither a
// patch over such a pc nor a detach that waits for no handler to be running may follow. Every
// cycle attaches, places every probe and detaches, and the service lives on as it was.
TEST_F(AttachSafety, AServiceFloodedWithSignalsIsLeftAsItWas) {
    const int cycles = std::getenv("DEFTRACE_FLOOD_CYCLES") ? std::atoi(std::getenv("DEFTRACE_FLOOD_CYCLES")) : 100;
    Service svc({prog_, "busy"}, dir_ / "svc-flood.txt");
    ASSERT_TRUE(svc.beats_after(2));
    const std::string before = text_of(svc.pid());
    int failed = 0, unplaced = 0;
    {
        SignalFlood flood(svc.pid(), 1ms);
        for (int i = 0; i < cycles && !svc.ended(); ++i) {
            const RunResult r =
                run_program({DEFTRACE_EXE, "-p", std::to_string(svc.pid()), "--duration", "0.01", "-o", "/dev/null"});
            if (exit_code(r) != 0 && ++failed <= 3)
                ADD_FAILURE() << "cycle " << i << ": exit " << exit_code(r) << ": " << r.err;
            unplaced += r.err.find("not placed") != std::string::npos;
        }
        std::printf("attach/detach under a SIGURG flood (%llu rounds): %d cycles, %d failed, %d with a probe not "
                    "placed\n",
                    static_cast<unsigned long long>(flood.rounds()), cycles, failed, unplaced);
    }
    expect_untouched(svc, before);
}

// A thread another tracer holds would trap on the breakpoints with nobody to catch it: deftrace
// changes nothing, and says which thread and which tracer.
TEST_F(AttachSafety, AThreadHeldByAnotherTracerMeansNoAttach) {
    Service svc({prog_}, dir_ / "svc-strace.txt");
    ASSERT_TRUE(svc.beats_after(2));
    const std::string before = text_of(svc.pid());
    pid_t thread = 0;
    for (const auto &e : fs::directory_iterator("/proc/" + std::to_string(svc.pid()) + "/task"))
        if (const pid_t t = std::stoi(e.path().filename().string()); t != svc.pid())
            thread = t;
    ASSERT_NE(thread, 0) << "a Go program has more than one thread";
    Service strace({"/usr/bin/strace", "-p", std::to_string(thread), "-o", "/dev/null"}, dir_ / "strace.txt");
    bool held = false;
    for (int i = 0; i < 500 && !held; ++i) {
        std::this_thread::sleep_for(10ms);
        const std::string status = slurp("/proc/" + std::to_string(thread) + "/status");
        held = status.find("TracerPid:\t" + std::to_string(strace.pid())) != std::string::npos;
    }
    ASSERT_TRUE(held) << "strace did not attach: " << strace.output();
    const RunResult r = run_program({DEFTRACE_EXE, "-p", std::to_string(svc.pid()), "-o", "/dev/null"});
    EXPECT_EQ(exit_code(r), 77) << r.err;
    EXPECT_NE(r.err.find("thread " + std::to_string(thread)), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("traced by process " + std::to_string(strace.pid()) + " (strace)"), std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    expect_untouched(svc, before);
}

// A process that has ended (its status not yet collected) is no process to attach to: 66.
TEST_F(AttachSafety, AProcessThatEndedIsNoSuchProcess) {
    const pid_t child = fork();
    if (child == 0)
        _exit(0);
    std::this_thread::sleep_for(100ms); // a zombie now
    const RunResult r = run_program({DEFTRACE_EXE, "-p", std::to_string(child), "-o", "/dev/null"});
    int st;
    waitpid(child, &st, 0);
    EXPECT_EQ(exit_code(r), 66) << r.err;
    EXPECT_NE(r.err.find("no such process"), std::string::npos) << r.err;
    const RunResult huge = run_program({DEFTRACE_EXE, "-p", "1", "--duration", "1e10"});
    EXPECT_EQ(exit_code(huge), 64) << huge.err;
    EXPECT_NE(huge.err.find("more than a year"), std::string::npos) << huge.err;
}

} // namespace
} // namespace deftrace::testing
