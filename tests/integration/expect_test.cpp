// What CI relies on: `deftrace --expect FILE` and `deftrace diff A B` exit 0 on a match and 79
// with a precise report on a change, and a normalized trace is the same on every run even when
// goroutines race (GOMAXPROCS=2).
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const std::vector<std::string> kEnv = {"GOMAXPROCS=2"};
constexpr int kMismatch = 79;

void write(const fs::path &p, const json &j) {
    std::ofstream(p) << j.dump(2) << "\n";
}

// A normalized trace recorded now, for the build at hand (the checked-in expectation may be a
// versioned file; recording avoids choosing it here).
json record(const BuiltProgram &b, const fs::path &out) {
    auto r = run_program({DEFTRACE_EXE, "-o", "/dev/null", "--normalize", "--json", out.string(), b.binary()}, kEnv);
    EXPECT_TRUE(WIFEXITED(r.status)) << describe_status(r.status);
    return json::parse(slurp(out), nullptr, false);
}

// The first event of goroutine `g` with kind `kind`; null if none.
json *find_event(json &trace, uint64_t g, const std::string &kind) {
    for (auto &e : trace["events"])
        if (e["goroutine"] == g && e["kind"] == kind)
            return &e;
    return nullptr;
}

TEST(TraceExpect, AMatchingExpectationExitsZeroEvenWhenTheProgramFails) {
    ScratchDir tmp("expect");
    for (const auto &b : oldest_and_newest({"main_panic"})) { // the program exits with status 2
        SCOPED_TRACE(b.label());
        json want = record(b, tmp / "want.json");
        ASSERT_FALSE(want.is_discarded());
        auto r = run_program({DEFTRACE_EXE, "-o", "/dev/null", "--expect", tmp / "want.json", b.binary()}, kEnv);
        EXPECT_EQ(exit_code(r), 0) << describe_status(r.status) << "\n" << r.err;
        EXPECT_EQ(r.err.find("deftrace:"), std::string::npos) << r.err;
        // The program's own output is untouched.
        EXPECT_NE(r.err.find("panic: fatal: 7"), std::string::npos) << r.err;
    }
}

TEST(TraceExpect, AChangedEventIsReportedWithItsGoroutineAndExitCode79) {
    ScratchDir tmp("expect");
    for (const auto &b : oldest_and_newest({"recover_patterns"})) {
        SCOPED_TRACE(b.label());
        json want = record(b, tmp / "actual.json");
        ASSERT_FALSE(want.is_discarded());
        json *rec = find_event(want, 1, "recover");
        ASSERT_NE(rec, nullptr);
        (*rec)["value"] = "not what the program recovers";
        write(tmp / "want.json", want);

        auto r = run_program({DEFTRACE_EXE, "-o", "/dev/null", "--expect", tmp / "want.json", b.binary()}, kEnv);
        EXPECT_EQ(exit_code(r), kMismatch) << describe_status(r.status);
        EXPECT_NE(r.err.find("the trace differs from"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("goroutine 1:"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("- expected event"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("value=not what the program recovers"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("+ actual   event"), std::string::npos) << r.err;

        // The same comparison between saved traces.
        auto d = run_program({DEFTRACE_EXE, "diff", tmp / "want.json", tmp / "actual.json"});
        EXPECT_EQ(exit_code(d), kMismatch);
        EXPECT_NE(d.out.find("value=not what the program recovers"), std::string::npos) << d.out;
        auto same = run_program({DEFTRACE_EXE, "diff", tmp / "actual.json", tmp / "actual.json"});
        EXPECT_EQ(exit_code(same), 0) << same.out;
        EXPECT_EQ(same.out, "");
    }
}

TEST(TraceExpect, AMissingEventAGoroutineAndTheExitStatusAreEachReported) {
    ScratchDir tmp("expect");
    for (const auto &b : oldest_and_newest({"concurrent_panics"})) {
        SCOPED_TRACE(b.label());
        json actual = record(b, tmp / "actual.json");
        ASSERT_FALSE(actual.is_discarded());

        // One event less in goroutine 2: only that goroutine is reported.
        json fewer = actual;
        auto &ev = fewer["events"];
        for (auto it = ev.begin(); it != ev.end(); ++it)
            if ((*it)["goroutine"] == 2 && (*it)["kind"] == "recover") {
                ev.erase(it);
                break;
            }
        write(tmp / "fewer.json", fewer);
        auto d = run_program({DEFTRACE_EXE, "diff", tmp / "fewer.json", tmp / "actual.json"});
        EXPECT_EQ(exit_code(d), kMismatch);
        EXPECT_NE(d.out.find("goroutine 2:"), std::string::npos) << d.out;
        EXPECT_EQ(d.out.find("goroutine 3:"), std::string::npos) << d.out;
        EXPECT_NE(d.out.find("+ actual   event"), std::string::npos) << d.out;
        EXPECT_NE(d.out.find("recover"), std::string::npos) << d.out;

        // A different exit status alone is a mismatch too.
        json status = actual;
        status["exit"] = json{{"status", 3}};
        write(tmp / "status.json", status);
        auto s = run_program({DEFTRACE_EXE, "diff", tmp / "status.json", tmp / "actual.json"});
        EXPECT_EQ(exit_code(s), kMismatch);
        EXPECT_NE(s.out.find("exit"), std::string::npos) << s.out;
    }
}

TEST(TraceExpect, AnUnreadableExpectationIsAUsageErrorBeforeTheProgramRuns) {
    ScratchDir tmp("expect");
    const auto builds = oldest_and_newest({"basic"});
    ASSERT_FALSE(builds.empty());
    const auto &b = builds.back();
    auto missing = run_program({DEFTRACE_EXE, "-o", "/dev/null", "--expect", tmp / "none.json", b.binary()});
    EXPECT_EQ(exit_code(missing), 66) << missing.err;
    EXPECT_EQ(missing.out, "") << "the program must not have run";
    std::ofstream(tmp / "bad.json") << "{ not json";
    auto bad = run_program({DEFTRACE_EXE, "-o", "/dev/null", "--expect", tmp / "bad.json", b.binary()});
    EXPECT_EQ(exit_code(bad), 64) << bad.err;
    EXPECT_EQ(bad.out, "");
    EXPECT_NE(bad.err.find("not a deftrace JSON trace"), std::string::npos) << bad.err;
}

// Goroutines racing under GOMAXPROCS=2 interleave differently on every run; the normalized
// trace must not.
TEST(TraceDeterminism, TwentyRunsGiveTheSameNormalizedTrace) {
    ScratchDir tmp("expect");
    for (const std::string program : {"concurrent_panics", "goroutines", "txleak_fake"}) {
        for (const auto &b : oldest_and_newest({program})) {
            SCOPED_TRACE(b.label());
            std::string first;
            for (int run = 0; run < 20; ++run) {
                json t = record(b, tmp / "run.json");
                ASSERT_FALSE(t.is_discarded());
                const std::string text = t.dump();
                if (run == 0)
                    first = text;
                else if (text != first) {
                    write(tmp / "first.json", json::parse(first));
                    auto d = run_program({DEFTRACE_EXE, "diff", tmp / "first.json", tmp / "run.json"});
                    FAIL() << "run " << run + 1 << " differs from run 1:\n" << d.out;
                }
            }
        }
    }
}

} // namespace
} // namespace deftrace::testing
