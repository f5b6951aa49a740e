// Probes that record without a stop (arch/record_stub.h, trace/tracer_records.cpp) against the
// same probes stopping every time (--no-inline-probes), on the Go release under test:
//   - many goroutines registering and running defers at once, in a ring of a few records (so that
//     it fills and hits fall back to stopping), tell the same normalized story as the stopping
//     run, with 0 divergences, the program's output and status untouched;
//   - probes record on every release with the register ABI (g in R14), none before it;
//   - the stopping run has no record at all, and more stops.
// The whole matrix of expectations is traced both ways by trace.go1.NN and trace.no_inline.go1.NN.
#include "manifest.h"
#include "output/trace_diff.h"
#include "release/go_releases.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <filesystem>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

struct Stats {
    uint64_t stops = 0, recorded = 0, recording_probes = 0, fell_back = 0;
};

// The --stats lines of a text trace.
Stats stats_of(const std::string &text) {
    Stats s;
    std::smatch m;
    if (std::regex_search(text, m, std::regex(R"(, (\d+) stops, )")))
        s.stops = std::stoull(m[1]);
    if (std::regex_search(
            text, m, std::regex(R"(stats: (\d+) hits recorded without a stop by (\d+) recording probes; (\d+) )"))) {
        s.recorded = std::stoull(m[1]);
        s.recording_probes = std::stoull(m[2]);
        s.fell_back = std::stoull(m[3]);
    }
    return s;
}

struct Traced {
    RunResult run;
    json trace;
    std::string text;
};

Traced traced(const BuiltProgram &b, bool inline_probes, const ScratchDir &tmp, const std::string &ring = "") {
    const fs::path text = tmp / "t.txt", js = tmp / "t.json";
    std::vector<std::string> argv = {DEFTRACE_EXE, "--scope",     "all",    "--stats",
                                     "-o",         text.string(), "--json", js.string()};
    if (!inline_probes)
        argv.push_back("--no-inline-probes");
    argv.push_back(b.binary());
    std::vector<std::string> env = {"GOMAXPROCS=2"};
    if (!ring.empty())
        env.push_back("DEFTRACE_TEST_RING_RECORDS=" + ring);
    Traced r;
    r.run = run_program(argv, env);
    r.trace = json::parse(slurp(js), nullptr, false);
    r.text = slurp(text);
    return r;
}

bool register_abi(const BuiltProgram &b) {
    return go_release(1, std::stoi(b.minor.substr(2)))->abi == CallingConvention::Register;
}

TEST(InlineProbes, ManyGoroutinesInASmallRingTellTheStoryTheStopsTell) {
    ScratchDir tmp("inline");
    int tried = 0;
    for (const auto &b : builds_under_test()) {
        if (b.program != "defer_storm")
            continue;
        SCOPED_TRACE(b.label());
        ++tried;
        const RunResult untraced = run_program({b.binary()}, {"GOMAXPROCS=2"});
        const Traced stopping = traced(b, false, tmp);
        // Eight records: the storm's hundreds overflow it again and again.
        const Traced recording = traced(b, true, tmp, "8");
        for (const Traced *r : {&stopping, &recording}) {
            EXPECT_EQ(r->run.status, untraced.status) << r->run.err;
            EXPECT_EQ(r->run.out, untraced.out);
            ASSERT_FALSE(r->trace.is_discarded()) << r->run.err;
            EXPECT_EQ(r->trace["validation"].value("divergences", -1), 0) << r->text;
        }
        const TraceDiff d = diff_traces(stopping.trace, recording.trace);
        EXPECT_TRUE(d.same) << "recorded and stopped traces differ:\n" << d.report;

        const Stats s = stats_of(stopping.text), r = stats_of(recording.text);
        EXPECT_EQ(s.recorded, 0u);
        EXPECT_EQ(s.recording_probes, 0u);
        if (register_abi(b)) {
            EXPECT_GT(r.recording_probes, 0u) << recording.text;
            EXPECT_GT(r.recorded, 0u) << recording.text;
            EXPECT_GT(r.fell_back, 0u) << "an eight-record ring never filled?\n" << recording.text;
            EXPECT_LT(r.stops, s.stops);
        } else { // g is not in a register: every probe stops
            EXPECT_EQ(r.recording_probes, 0u) << recording.text;
            EXPECT_EQ(r.recorded, 0u);
        }
    }
    EXPECT_GT(tried, 0) << "no build of testdata/defer_storm";
}

// The default ring, on programs with every defer form and panics: the same story both ways, and
// most hits recorded.
TEST(InlineProbes, EveryDeferFormRecordsTheEventItsStopWouldMake) {
    ScratchDir tmp("inline");
    int tried = 0;
    for (const auto &b : builds_under_test()) {
        if (b.variant != "default" || (b.program != "basic" && b.program != "defer_heavy" &&
                                       b.program != "recover_patterns" && b.program != "conditional"))
            continue;
        SCOPED_TRACE(b.label());
        ++tried;
        const Traced stopping = traced(b, false, tmp), recording = traced(b, true, tmp);
        ASSERT_FALSE(stopping.trace.is_discarded() || recording.trace.is_discarded());
        EXPECT_EQ(recording.run.status, stopping.run.status);
        EXPECT_EQ(recording.run.out, stopping.run.out);
        const TraceDiff d = diff_traces(stopping.trace, recording.trace);
        EXPECT_TRUE(d.same) << d.report;
        EXPECT_EQ(recording.trace["validation"].value("divergences", -1), 0) << recording.text;
        if (register_abi(b)) {
            EXPECT_GT(stats_of(recording.text).recorded, 0u) << recording.text;
        }
    }
    EXPECT_GT(tried, 0);
}

} // namespace
} // namespace deftrace::testing
