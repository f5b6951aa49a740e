// Validation against the runtime model (docs/validation.md) catches a wrong observation. The
// test-only switch DEFTRACE_TEST_PERTURB (trace/validator.h) falsifies one observation or one
// memory read; on several programs, with the oldest and the newest toolchain of the matrix:
//   - the divergence is reported as a `divergence` event (JSON and text) and counted in the
//     trace's `validation`, and the text trace ends with the validation line;
//   - the program itself is untouched: its exit status is passed through without --strict;
//   - --strict makes deftrace exit 80 instead.
// Without a perturbation the same runs have 0 divergences and --strict changes nothing.
#include "manifest.h"
#include "release/go_releases.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr int kDivergence = 80;

struct Traced {
    RunResult run;
    json trace;
    std::string text;
};

Traced trace(const BuiltProgram &b, const std::string &perturb, bool strict, const ScratchDir &tmp) {
    const fs::path text = tmp / "trace.txt", js = tmp / "trace.json";
    std::vector<std::string> argv = {DEFTRACE_EXE, "--scope",     "all",    "--no-color",
                                     "-o",         text.string(), "--json", js.string()};
    if (strict)
        argv.push_back("--strict");
    argv.push_back(b.binary());
    std::vector<std::string> env = {"GOMAXPROCS=2"};
    if (!perturb.empty())
        env.push_back("DEFTRACE_TEST_PERTURB=" + perturb);
    Traced t;
    t.run = run_program(argv, env);
    t.trace = json::parse(slurp(js), nullptr, false);
    t.text = slurp(text);
    return t;
}

std::vector<json> divergence_events(const json &trace) {
    std::vector<json> out;
    for (const auto &e : trace.value("events", json::array()))
        if (e.value("kind", "") == "divergence")
            out.push_back(e);
    return out;
}

std::string last_line(const std::string &text) {
    std::string s = text;
    while (!s.empty() && s.back() == '\n')
        s.pop_back();
    const size_t nl = s.rfind('\n');
    return nl == std::string::npos ? s : s.substr(nl + 1);
}

// Programs with panics, recovers, goroutines and a fatal panic (main_panic exits 2).
const std::vector<std::string> kPrograms = {"seeds", "recover_patterns", "goexit", "main_panic"};

// Each perturbation: the 2nd deferred call reported as another function; the 1st registration
// never reported; the 1st chain snapshot reading a record that is not there; R14 disagreeing
// with the thread's TLS g word at the 3rd stop.
// And the 1st record a probe took without a stop never read (register ABI only: none before).
const std::vector<std::string> kPerturbations = {"call-fn:2", "drop-defer:1", "snapshot:1", "current-g:3",
                                                 "drop-record:1"};

TEST(TraceValidation, UnperturbedRunsHaveNoDivergenceAndStrictKeepsTheProgramsStatus) {
    ScratchDir tmp("validation");
    auto builds = oldest_and_newest(kPrograms);
    ASSERT_EQ(builds.size(), 2 * kPrograms.size()) << "testdata builds missing (scripts/build-testdata.sh)";
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        const int untraced = exit_code(run_program({b.binary()}, {"GOMAXPROCS=2"}));
        Traced t = trace(b, "", /*strict=*/true, tmp);
        ASSERT_FALSE(t.trace.is_discarded());
        ASSERT_TRUE(t.trace.contains("validation"));
        EXPECT_GT(t.trace["validation"]["observations"].get<uint64_t>(), 0u);
        EXPECT_EQ(t.trace["validation"]["divergences"], 0) << t.text;
        EXPECT_TRUE(divergence_events(t.trace).empty());
        EXPECT_EQ(exit_code(t.run), untraced) << describe_status(t.run.status) << "\n" << t.run.err;
        EXPECT_TRUE(last_line(t.text).starts_with("validation: ")) << last_line(t.text);
        EXPECT_TRUE(last_line(t.text).ends_with(" runtime model, 0 divergences")) << last_line(t.text);
    }
}

TEST(TraceValidation, AnInjectedFaultIsCaughtReportedAndCounted) {
    ScratchDir tmp("validation");
    auto builds = oldest_and_newest(kPrograms);
    ASSERT_EQ(builds.size(), 2 * kPrograms.size()) << "testdata builds missing (scripts/build-testdata.sh)";
    for (const auto &b : builds) {
        const int untraced = exit_code(run_program({b.binary()}, {"GOMAXPROCS=2"}));
        for (const auto &perturb : kPerturbations) {
            // Before Go 1.17 R14 is not g: there is no second view of g to disagree with, and
            // no probe records.
            if ((perturb.starts_with("current-g") || perturb.starts_with("drop-record")) &&
                go_release(1, std::stoi(b.minor.substr(2)))->abi != CallingConvention::Register)
                continue;
            SCOPED_TRACE(b.label() + " DEFTRACE_TEST_PERTURB=" + perturb);
            Traced t = trace(b, perturb, /*strict=*/false, tmp);
            EXPECT_FALSE(t.trace.is_discarded()) << t.run.err;
            if (t.trace.is_discarded())
                continue;
            // Reported: an event with both views, in JSON and in the text trace.
            auto divergences = divergence_events(t.trace);
            EXPECT_FALSE(divergences.empty()) << "the fault was not caught\n" << t.text;
            if (divergences.empty())
                continue;
            for (const auto &d : divergences) {
                EXPECT_FALSE(d.value("rule", "").empty());
                EXPECT_FALSE(d.value("expected", "").empty());
                EXPECT_FALSE(d.value("observed", "").empty());
                EXPECT_GT(d.value("goroutine", uint64_t{0}), 0u);
            }
            EXPECT_NE(t.text.find("divergence ("), std::string::npos);
            // Counted.
            EXPECT_TRUE(t.trace.contains("validation"));
            EXPECT_EQ(t.trace["validation"]["divergences"].get<size_t>(), divergences.size());
            const std::string summary = last_line(t.text);
            EXPECT_TRUE(summary.starts_with("validation: ")) << summary;
            EXPECT_NE(summary.find(std::to_string(divergences.size()) + " divergence"), std::string::npos) << summary;
            // The program is not affected; without --strict its status is deftrace's.
            EXPECT_EQ(exit_code(t.run), untraced) << describe_status(t.run.status) << "\n" << t.run.err;

            Traced s = trace(b, perturb, /*strict=*/true, tmp);
            EXPECT_EQ(exit_code(s.run), kDivergence) << describe_status(s.run.status) << "\n" << s.run.err;
            EXPECT_NE(s.run.err.find("deftrace: "), std::string::npos) << s.run.err;
            EXPECT_FALSE(divergence_events(s.trace).empty());
        }
    }
}

// --stats: the text trace's last line counts the run's stops, hits, threads and events.
TEST(TraceStats, TheLastLineCountsWhatTheRunCost) {
    ScratchDir tmp("validation");
    for (const auto &b : oldest_and_newest({"concurrent_panics"})) {
        SCOPED_TRACE(b.label());
        const fs::path text = tmp / "trace.txt", js = tmp / "trace.json";
        auto plain = run_program({b.binary()}, {"GOMAXPROCS=2"});
        auto r = run_program(
            {DEFTRACE_EXE, "--scope", "all", "--stats", "-o", text.string(), "--json", js.string(), b.binary()},
            {"GOMAXPROCS=2"});
        EXPECT_EQ(exit_code(r), exit_code(plain));
        EXPECT_EQ(r.out, plain.out);
        std::string body = slurp(text);
        const std::string startup = last_line(body);
        static const std::regex steps(
            "^stats: start-up [0-9]+ ms \\(reading [0-9]+ ms, analysis( \\(cached\\))? [0-9]+ "
            "ms, exec [0-9]+ ms, probes [0-9]+ ms\\)$");
        EXPECT_TRUE(std::regex_match(startup, steps)) << startup;
        body.resize(body.rfind(startup));
        const std::string recorded_line = last_line(body);
        static const std::regex recorded_stats("^stats: ([0-9]+) hits recorded without a stop by ([0-9]+) recording "
                                               "probes; ([0-9]+) of their hits stopped .*$");
        std::smatch rm;
        ASSERT_TRUE(std::regex_match(recorded_line, rm, recorded_stats)) << recorded_line;
        const uint64_t recorded = std::stoull(rm[1].str());
        body.resize(body.rfind(recorded_line));
        const std::string line = last_line(body);
        body.resize(body.rfind(line));
        const std::string by_probe = last_line(body); // "stats: hits by probe: gopanic 3, ..."
        ASSERT_TRUE(by_probe.starts_with("stats: hits by probe: ")) << by_probe;
        std::map<std::string, uint64_t> per_kind;
        uint64_t hits_served = 0;
        static const std::regex entry("([A-Za-z][A-Za-z0-9.-]*) ([0-9]+)");
        const std::string list = by_probe.substr(std::string("stats: hits by probe: ").size());
        for (auto it = std::sregex_iterator(list.begin(), list.end(), entry); it != std::sregex_iterator(); ++it) {
            per_kind[(*it)[1]] = std::stoull((*it)[2]);
            hits_served += std::stoull((*it)[2]);
        }
        std::smatch m;
        static const std::regex stats(
            "^stats: ([0-9]+) breakpoints \\(([0-9]+) jump-patched\\), ([0-9]+) stops, "
            "([0-9]+) breakpoint hits \\([0-9]+ jump-patched\\), ([0-9]+) signals delivered, ([0-9]+) threads, "
            "([0-9]+) events, ([0-9]+) memory reads \\([0-9.]+ per hit\\)$");
        ASSERT_TRUE(std::regex_match(line, m, stats)) << line;
        const auto n = [&](int i) { return std::stoull(m[i].str()); };
        auto trace = json::parse(slurp(js), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        EXPECT_GT(n(2), 0u) << "function entries take a jump patch";
        EXPECT_LE(n(2), n(1)); // a ret too, with the instructions before it
        EXPECT_GT(n(4), 0u);
        EXPECT_GE(n(3), n(4)) << "every hit is a stop";
        EXPECT_GE(n(6), 2u) << "a Go program runs on several threads";
        EXPECT_EQ(n(7), trace["events"].size());
        EXPECT_GE(n(4) + recorded, trace["events"].size()) << "each event comes from a stop or a record";
        EXPECT_GE(hits_served, n(4) + recorded) << "every hit and record served a probe: " << by_probe;
        size_t panics = 0;
        for (const auto &e : trace["events"])
            panics += e.value("kind", "") == "panic" || e.value("kind", "") == "repanic";
        EXPECT_GT(panics, 0u);
        EXPECT_EQ(per_kind["gopanic"], panics) << "each panic is one stop at gopanic: " << by_probe;
    }
}

// The analysis of a binary's defer sites is kept between runs (analysis/analysis_cache.h): the
// second trace reads it back and is the same trace; a cache file made garbage, or the cache
// turned off, means analysing again, never a failure.
TEST(TraceStats, TheAnalysisIsKeptBetweenRunsAndABrokenCacheIgnored) {
    ScratchDir tmp("analysis-cache");
    const std::string cache = tmp / "cache";
    const auto builds = oldest_and_newest({"recover_patterns"});
    ASSERT_FALSE(builds.empty());
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        std::filesystem::remove_all(cache);
        auto trace = [&](const std::vector<std::string> &extra_env) {
            const std::string text = tmp / "trace.txt", js = tmp / "trace.json";
            std::vector<std::string> env = {"GOMAXPROCS=2", "XDG_CACHE_HOME=" + cache};
            env.insert(env.end(), extra_env.begin(), extra_env.end());
            auto r = run_program(
                {DEFTRACE_EXE, "--scope", "all", "--stats", "--normalize", "-o", text, "--json", js, b.binary()}, env);
            EXPECT_EQ(exit_code(r), 0) << r.err;
            return std::make_pair(last_line(slurp(text)), slurp(js));
        };
        const auto [first_stats, first] = trace({});
        EXPECT_NE(first_stats.find(" analysis "), std::string::npos) << first_stats;
        const auto [second_stats, second] = trace({});
        EXPECT_NE(second_stats.find(" analysis (cached) "), std::string::npos) << second_stats;
        EXPECT_EQ(second, first);
        size_t files = 0;
        for (const auto &e : std::filesystem::recursive_directory_iterator(cache))
            if (e.is_regular_file()) {
                ++files;
                std::ofstream(e.path(), std::ios::app) << "]]garbage";
            }
        EXPECT_EQ(files, 1u);
        const auto [broken_stats, broken] = trace({});
        EXPECT_NE(broken_stats.find(" analysis "), std::string::npos) << broken_stats;
        EXPECT_EQ(broken, first);
        const auto [off_stats, off] = trace({"DEFTRACE_NO_CACHE=1"});
        EXPECT_NE(off_stats.find(" analysis "), std::string::npos) << off_stats;
        EXPECT_EQ(off, first);
    }
}

} // namespace
} // namespace deftrace::testing
