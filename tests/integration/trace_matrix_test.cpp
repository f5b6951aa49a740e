// `deftrace PROGRAM` on every testdata program, Go release and build variant:
//   - the program's stdout, stderr and exit status are exactly those of an untraced run;
//   - the trace is well-formed (schema deftrace.trace/1);
//   - the normalized trace equals testdata/<program>/expected.json, or expected.go1.NN.json for
//     releases from 1.NN on where the runtime truly differs (scripts/regen-expectations.sh
//     regenerates them), compared the way `deftrace --expect` compares;
//   - the runtime model (docs/validation.md) agrees with every observation: 0 divergences.
#include "manifest.h"
#include "output/trace_diff.h"
#include "release/go_releases.h"
#include "run_program.h"
#include "scratch_dir.h"
#include "views/view_checks.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kEnv = {"GOMAXPROCS=2"};

// The matrix builds but testdata/signals, which waits for signals (TraceSignals sends them),
// and the generated programs (GeneratedPrograms: their expectation is their own output).
std::vector<BuiltProgram> traced_builds() {
    std::vector<BuiltProgram> out;
    for (auto &b : builds_under_test())
        if (b.program != "signals" && b.program != "generated")
            out.push_back(std::move(b));
    return out;
}

// The expectation for a release: the versioned file with the highest 1.NN not above it, else
// the shared one.
fs::path expectation_for(const fs::path &src_dir, const std::string &minor) {
    fs::path best = src_dir / "expected.json";
    int best_minor = -1;
    const int want = std::stoi(minor.substr(2));
    for (const auto &entry : fs::directory_iterator(src_dir)) {
        const std::string name = entry.path().filename().string();
        if (!name.starts_with("expected.go1.") || !name.ends_with(".json"))
            continue;
        const int m = std::stoi(name.substr(13));
        if (m <= want && m > best_minor) {
            best = entry.path();
            best_minor = m;
        }
    }
    return best;
}

// A copy of deftrace's data without the layout table of `minor`: a stripped build traced with it
// uses the layout inferred from its own code (analysis/layout_inference.h), as a stripped Go 1.18
// or 1.20 binary does.
fs::path data_without_table(const fs::path &tmp, const std::string &minor) {
    const fs::path dir = tmp / ("probes-without-go" + minor);
    fs::remove_all(dir);
    fs::copy(fs::path(DEFTRACE_SOURCE_DIR) / "probes", dir, fs::copy_options::recursive);
    fs::remove(dir / "layouts" / ("go" + minor + ".json"));
    return dir;
}

TEST(TraceMatrix, TracedProgramsBehaveExactlyAsUntracedAndTellTheExpectedStory) {
    auto builds = traced_builds();
    ASSERT_FALSE(builds.empty());
    const fs::path tmp = fs::temp_directory_path() / ("deftrace-trace-" + std::to_string(getpid()));
    fs::create_directories(tmp);
    // Raw traces of the default builds are kept for the schema check (scripts/validate-traces.sh).
    const fs::path keep = fs::path(DEFTRACE_TESTDATA_OUT) / "traces";
    fs::create_directories(keep);
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        auto u1 = run_program({b.binary()}, kEnv);
        const fs::path text = tmp / "trace.txt", json = tmp / "trace.json";
        // The default and stripped builds are traced whole (--scope all: every defer seen and
        // checked by the model); PIE builds in the default scope, whose trace must tell the same
        // normalized story (the standard library's defers are not part of it).
        const bool whole = b.variant != "pie";
        // The stripped builds of the odd-numbered releases (1.15, 1.19, 1.21, 1.23, ...: both eras,
        // both calling conventions) are traced with the layout inferred from their code, those of
        // the others with the table.
        std::vector<std::string> env = kEnv;
        if (b.variant == "stripped" && std::stoi(b.minor.substr(2)) % 2 == 1)
            env.push_back("DEFTRACE_PROBES_DIR=" + data_without_table(tmp, b.minor).string());
        // DEFTRACE_TEST_NO_INLINE (trace.no_inline.go1.NN): every probe stops, none records.
        std::vector<std::string> argv = {DEFTRACE_EXE,  "--scope", whole ? "all" : "main", "-o",
                                         text.string(), "--json",  json.string()};
        if (std::getenv("DEFTRACE_TEST_NO_INLINE") != nullptr)
            argv.push_back("--no-inline-probes");
        argv.push_back(b.binary());
        auto t = run_program(argv, env);

        EXPECT_EQ(t.status, u1.status) << "traced " << describe_status(t.status) << ", untraced "
                                       << describe_status(u1.status) << "\n"
                                       << slurp(text).substr(0, 2000);
        EXPECT_EQ(t.out, u1.out) << "stdout differs";
        if (t.err != u1.err) { // exact unless Go printed scheduling-dependent numbers
            EXPECT_EQ(mask_traceback(t.err), mask_traceback(u1.err))
                << "stderr differs (beyond goroutine ids/addresses)";
        }

        auto trace = nlohmann::ordered_json::parse(slurp(json), nullptr, false);
        ASSERT_FALSE(trace.is_discarded()) << "no valid JSON trace";
        EXPECT_EQ(trace["schema"], "deftrace.trace/1");
        EXPECT_TRUE(trace["go_version"].get<std::string>().starts_with("go" + b.minor));
        uint64_t seq = 0;
        std::map<uint64_t, std::string> started; // go_start: said once a goroutine, before its panics
        for (const auto &e : trace["events"]) {
            EXPECT_GT(e["seq"].get<uint64_t>(), seq);
            seq = e["seq"];
            EXPECT_TRUE(e.contains("goroutine") && e.contains("kind"));
            const uint64_t g = e.value("goroutine", uint64_t{0});
            if (e["kind"] == "exec" && e.value("traced", false))
                started.clear(); // the new program's goroutine ids start again from 1
            if (e.contains("go_start") && !e.contains("pid")) {
                EXPECT_FALSE(started.count(g)) << "a second go_start for g" << g;
                started[g] = e["go_start"];
            }
            if ((e["kind"] == "panic" || e["kind"] == "repanic") && !e.contains("pid")) {
                EXPECT_TRUE(started.count(g)) << "g" << g << " panicked before its go_start";
            }
        }
        if (started.count(1)) {
            EXPECT_EQ(started[1], "runtime.main");
        }
        ASSERT_TRUE(trace.contains("exit"));
        ASSERT_TRUE(trace.contains("validation")) << "no validation summary";
        EXPECT_EQ(trace.value("scope", ""), whole ? "all" : "main module " + b.program);
        if (whole) {
            EXPECT_GT(trace["validation"].value("observations", 0), 0);
        }
        if (trace["validation"].value("divergences", -1) != 0) {
            std::string shown;
            for (const auto &e : trace["events"])
                if (e.value("kind", "") == "divergence")
                    shown += "  g" + std::to_string(e.value("goroutine", 0)) + " " + e.value("rule", "") +
                             ": expected " + e.value("expected", "") + ", observed " + e.value("observed", "") + "\n";
            ADD_FAILURE() << trace["validation"].dump() << " divergences from the runtime model:\n" << shown;
        }
        if (WIFEXITED(u1.status)) {
            EXPECT_EQ(trace["exit"]["status"], WEXITSTATUS(u1.status));
        }
        if (b.variant == "default" && std::getenv("DEFTRACE_TEST_NO_INLINE") == nullptr)
            fs::copy_file(json, keep / (b.minor + "-" + b.program + ".json"), fs::copy_options::overwrite_existing);
        // Its views (timeline, report, summary) are well formed and count what it holds.
        if (test::view_checks_enabled()) {
            const auto view_problems = test::views_problems(json.string(), trace, tmp.string());
            EXPECT_TRUE(view_problems.empty()) << "the views of the trace:\n" << test::lines(view_problems);
        }

        const fs::path expected = expectation_for(b.src_dir, b.minor);
        ASSERT_TRUE(fs::exists(expected)) << "no " << expected << " (scripts/regen-expectations.sh)";
        auto want = nlohmann::ordered_json::parse(slurp(expected), nullptr, false);
        ASSERT_FALSE(want.is_discarded()) << expected << " is not JSON";
        TraceDiff d = diff_traces(want, trace);
        EXPECT_TRUE(d.same) << "the trace differs from " << expected << ":\n" << d.report;
    }
    fs::remove_all(tmp);
}

// The newest toolchain's build of testdata/signals.
std::string signals_binary() {
    std::string best, best_minor;
    for (const auto &b : load_manifest())
        if (b.program == "signals" && b.variant == "default" &&
            (best.empty() || std::stoi(b.minor.substr(2)) > std::stoi(best_minor.substr(2)))) {
            best = b.binary();
            best_minor = b.minor;
        }
    return best;
}

// Starts deftrace on `signals MODE`, waits for "ready PID"; returns deftrace's pid, the
// program's pid and a pipe to read the rest of its stdout.
struct Started {
    pid_t deftrace = -1, program = -1;
    int out = -1;
};

// `traced`: under deftrace (its pid in `deftrace`), else the program alone. `err`: where its
// standard error goes.
Started start(const std::string &mode, bool traced = true, const std::string &err = "/dev/null") {
    Started s;
    int fds[2];
    if (pipe(fds) != 0)
        return s;
    s.deftrace = fork();
    if (s.deftrace == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        int errfd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(errfd, 2);
        setpgid(0, 0); // its own process group, like a job started by a shell
        if (traced)
            execl(DEFTRACE_EXE, DEFTRACE_EXE, "--no-color", "-o", "/dev/null", signals_binary().c_str(), mode.c_str(),
                  static_cast<char *>(nullptr));
        else
            execl(signals_binary().c_str(), signals_binary().c_str(), mode.c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    s.out = fds[0];
    std::string line;
    char c;
    while (read(s.out, &c, 1) == 1 && c != '\n')
        line += c;
    if (line.starts_with("ready "))
        s.program = std::stoi(line.substr(6));
    return s;
}

std::string rest(int fd) {
    std::string s;
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        s.append(buf, static_cast<size_t>(n));
    close(fd);
    return s;
}

TEST(TraceSignals, SignalsSentToDeftraceReachTheProgram) {
    auto s = start("int");
    ASSERT_GT(s.program, 0) << "the program did not start";
    kill(s.deftrace, SIGINT); // as `kill -INT` would (not the terminal's process-group signal)
    int st = 0;
    waitpid(s.deftrace, &st, 0);
    EXPECT_EQ(rest(s.out), "interrupted\n");
    ASSERT_TRUE(WIFEXITED(st)) << describe_status(st);
    EXPECT_EQ(WEXITSTATUS(st), 7) << "deftrace must exit with the program's status";
}

// Any catchable signal whose default action would end deftrace (and with it the program) is
// passed on instead, as strace does; SIGPIPE included.
TEST(TraceSignals, EveryCatchableSignalSentToDeftraceReachesTheProgram) {
    auto s = start("many");
    ASSERT_GT(s.program, 0) << "the program did not start";
    std::string got;
    for (int sig : {SIGUSR2, SIGALRM, SIGPIPE, SIGVTALRM, SIGRTMIN + 3}) {
        kill(s.deftrace, sig);
        std::string line;
        char c;
        while (read(s.out, &c, 1) == 1 && c != '\n')
            line += c;
        got += line + "\n";
    }
    kill(s.deftrace, SIGTERM);
    int st = 0;
    waitpid(s.deftrace, &st, 0);
    got += rest(s.out);
    EXPECT_EQ(got, "got " + std::to_string(SIGUSR2) + "\ngot " + std::to_string(SIGALRM) + "\ngot " +
                       std::to_string(SIGPIPE) + "\ngot " + std::to_string(SIGVTALRM) + "\ngot " +
                       std::to_string(SIGRTMIN + 3) + "\nterminated\n");
    ASSERT_TRUE(WIFEXITED(st)) << describe_status(st);
    EXPECT_EQ(WEXITSTATUS(st), 5) << "deftrace must exit with the program's status";
}

// The signals of a fault, sent by another process (kill -ABRT ...), are the program's too: Go's
// runtime answers SIGABRT with its goroutine dump and exit status 2, and the others as it does
// untraced.
TEST(TraceSignals, FaultSignalsSentToDeftraceReachTheProgram) {
    const fs::path err = fs::temp_directory_path() / ("deftrace-fault-" + std::to_string(getpid()) + ".err");
    for (int sig : {SIGABRT, SIGSEGV, SIGSYS, SIGBUS, SIGTRAP}) {
        SCOPED_TRACE(std::to_string(sig));
        int untraced = 0, traced = 0;
        std::string untraced_err;
        for (bool under_deftrace : {false, true}) {
            auto s = start("sleep", under_deftrace, err.string());
            ASSERT_GT(s.program, 0);
            ::kill(s.deftrace, sig); // the program itself when untraced
            int st = 0;
            // A signal the runtime ignores leaves the program sleeping: ended the same way then.
            for (int i = 0; i < 300 && waitpid(s.deftrace, &st, WNOHANG) == 0; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            if (waitpid(s.deftrace, &st, WNOHANG) == 0) {
                ::kill(s.deftrace, SIGKILL);
                waitpid(s.deftrace, &st, 0);
            }
            rest(s.out);
            (under_deftrace ? traced : untraced) = st;
            const std::string text = slurp(err);
            const std::string first = text.substr(0, text.find('\n'));
            if (!under_deftrace)
                untraced_err = first;
            else
                EXPECT_EQ(first, untraced_err) << text.substr(0, 1000);
        }
        EXPECT_EQ(describe_status(traced), describe_status(untraced));
    }
    fs::remove(err);
}

TEST(TraceSignals, DeftraceDiesByTheSignalThatKilledTheProgram) {
    auto s = start("die");
    ASSERT_GT(s.program, 0);
    kill(s.program, SIGINT); // straight to the program: its default action ends it
    int st = 0;
    waitpid(s.deftrace, &st, 0);
    rest(s.out);
    ASSERT_TRUE(WIFSIGNALED(st)) << describe_status(st);
    EXPECT_EQ(WTERMSIG(st), SIGINT);
}

TEST(TraceSignals, KillingDeftraceKillsTheProgram) {
    auto s = start("sleep");
    ASSERT_GT(s.program, 0);
    kill(s.deftrace, SIGKILL);
    int st = 0;
    waitpid(s.deftrace, &st, 0);
    rest(s.out);
    // PTRACE_O_EXITKILL: the program must not live on (nor stay stopped).
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
        std::ifstream stat("/proc/" + std::to_string(s.program) + "/stat");
        std::string content;
        std::getline(stat, content);
        gone = !stat || content.find(") Z ") != std::string::npos; // exited (maybe not yet reaped)
        if (!gone)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(gone) << "program " << s.program << " survived deftrace";
    if (!gone)
        kill(s.program, SIGKILL);
}

// The text trace of a fatal error and of an exec, on every release: what a person reads.
TEST(TraceText, FatalErrorsAndExecsAreTold) {
    struct Case {
        std::string program;
        std::vector<std::string> lines; // each must appear in the text trace, in this order
    };
    const std::vector<Case> cases = {
        {"goexit_deadlock",
         {"fatal error: all goroutines are asleep - deadlock!\n",
          "] fatal error: 1 deferred call will never run (goroutine waiting)\n"
          "            pending open-coded fmt.Println in main.parked\n"}},
        {"stack_overflow",
         {"] fatal error: stack overflow; pending defers: 3  at main.recurse (main.go:",
          "            pending open-coded fmt.Println in main.main\n"}},
        {"stack_overflow_deep",
         {"pending defers: 2 (stack too deep to walk: open-coded ones further down not listed)"}},
        {"exec_self",
         {"] exec: 1 deferred call will never run (goroutine running)\n"
          "            pending open-coded fmt.Println in main.execSelf\n",
          "] exec prog: traced from here\n", "] panic \"in the exec'd image\"",
          "] exec false: no longer traced (not a Go program"}},
    };
    int tried = 0;
    for (const auto &b : load_manifest()) {
        const auto c = std::find_if(cases.begin(), cases.end(), [&](const Case &k) { return k.program == b.program; });
        if (c == cases.end() || b.variant != "default")
            continue;
        if (const char *minor = std::getenv("DEFTRACE_GO_MINOR"); minor != nullptr && b.minor != minor)
            continue;
        SCOPED_TRACE(b.label());
        ++tried;
        const fs::path text = fs::temp_directory_path() / ("deftrace-text-" + std::to_string(getpid()) + ".txt");
        run_program({DEFTRACE_EXE, "--no-color", "-o", text.string(), b.binary()}, kEnv);
        const std::string trace = slurp(text);
        fs::remove(text);
        size_t at = 0;
        for (const auto &line : c->lines) {
            const size_t found = trace.find(line, at);
            EXPECT_NE(found, std::string::npos) << "no \"" << line << "\" (in order) in:\n" << trace;
            if (found != std::string::npos)
                at = found + line.size();
        }
    }
    EXPECT_GT(tried, 0) << "none of the programs is built (scripts/build-testdata.sh)";
}

// Before Go 1.17 a deferred call's arguments are kept behind its record: testdata/basic's
// `defer c.show("value receiver saw")` (main.go:68, c a counter{n: 1}) carries the copied
// receiver (n = 1) and the string (18 bytes long) in every variant; later releases wrap the
// call in a closure and the event has no args.
TEST(TraceText, DeferredCallArgumentsOfTheStackABI) {
    int tried = 0;
    for (const auto &b : load_manifest()) {
        if (b.program != "basic")
            continue;
        if (const char *minor = std::getenv("DEFTRACE_GO_MINOR"); minor != nullptr && b.minor != minor)
            continue;
        SCOPED_TRACE(b.label());
        ++tried;
        const ScratchDir tmp("args");
        run_program({DEFTRACE_EXE, "--scope", "all", "-o", "/dev/null", "--json", tmp / "t.json", b.binary()}, kEnv);
        const auto trace = nlohmann::json::parse(slurp(tmp / "t.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        const bool stack_abi = go_release(1, std::stoi(b.minor.substr(2)))->abi == CallingConvention::Stack;
        bool seen = false;
        for (const auto &e : trace["events"]) {
            if (e.value("kind", "") != "defer")
                continue;
            EXPECT_EQ(e.contains("args"), stack_abi && e.value("defer_kind", "") != "open-coded") << e.dump();
            if (e["site"].value("line", 0) == 68 && e["site"].value("function", "") == "main.calls") {
                seen = true;
                if (stack_abi) {
                    const std::string args = e.value("args", "");
                    ASSERT_EQ(args.size(), 48u) << e.dump(); // n, the string's pointer and length
                    EXPECT_EQ(args.substr(0, 16), "0100000000000000");
                    EXPECT_EQ(args.substr(32), "1200000000000000");
                }
            }
        }
        EXPECT_TRUE(seen) << "no defer at main.calls (main.go:68)";
    }
    EXPECT_GT(tried, 0) << "testdata/basic is not built (scripts/build-testdata.sh)";
}

} // namespace
} // namespace deftrace::testing
