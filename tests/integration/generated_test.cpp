// Differential testing on random programs (tests/gen): a few hundred generated programs in one
// binary per release (testdata build "generated", program K runs as `prog K`), each traced and
// checked against what the program itself did:
//   - stdout, stderr and exit status as untraced (in a crash's traceback, goroutine ids and
//     argument words aside: scheduling and address randomisation change them between untraced
//     runs too);
//   - the trace's counts equal what the program logged: defer statements of main.* functions,
//     their deferred calls, panics (explicit, run-time errors and repanics), recovers that
//     stopped a panic (but those of `defer recover()`, which the program cannot log), Goexits;
//   - 0 divergences from the runtime model.
// inspect against the compiler's -d=defer report on these binaries is InspectMatrix's (they are
// in the manifest like every testdata program).
//
// DEFTRACE_GEN_EVERY=N traces every Nth program only (the instrumented build); the stripped
// build is traced for every 10th program (times that).
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"
#include "views/view_checks.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace deftrace::testing {
namespace {

struct Generated {
    int programs = 0;
    std::set<int> defer_recover_lines; // `defer recover()` statements
};

Generated read_lines(const std::string &src_dir) {
    Generated g;
    std::istringstream in(slurp(src_dir + "/lines.txt"));
    std::string key;
    int value = 0;
    while (in >> key >> value) {
        if (key == "programs")
            g.programs = value;
        else if (key == "defer-recover")
            g.defer_recover_lines.insert(value);
    }
    return g;
}

// The program's own log: kind letter -> count (see tests/gen/main.go).
std::map<std::string, int> logged(const std::string &out) {
    std::map<std::string, int> n;
    std::istringstream in(out);
    std::string kind, id;
    while (in >> kind >> id)
        ++n[kind];
    return n;
}

std::map<std::string, int> traced(const nlohmann::json &trace, const Generated &g) {
    std::map<std::string, int> n;
    for (const auto &e : trace["events"]) {
        const std::string kind = e.value("kind", ""), fn = e.value("fn", "");
        if (kind == "defer" && fn.starts_with("main."))
            ++n["r"];
        else if (kind == "defer_call" && fn.starts_with("main."))
            ++n["d"];
        else if (kind == "panic" || kind == "repanic")
            ++n["p"];
        else if (kind == "recover" && e.value("recovered", false) &&
                 !g.defer_recover_lines.contains(e["site"].value("line", 0)))
            ++n["R"];
        else if (kind == "goexit")
            ++n["g"];
    }
    return n;
}

std::string head(const std::string &s) {
    return s.size() > 20000 ? s.substr(0, 20000) + "\n[...]" : s;
}

int every_nth() {
    const char *e = std::getenv("DEFTRACE_GEN_EVERY");
    return e != nullptr && std::atoi(e) > 0 ? std::atoi(e) : 1;
}

// Traces program k of build b; failures name the program so it can be rerun by hand.
void check_program(const BuiltProgram &b, const Generated &g, int k, const ScratchDir &dir) {
    SCOPED_TRACE(b.binary() + " " + std::to_string(k) + " (source " + b.src_dir + "/main.go)");
    const std::vector<std::string> env = {"GOMAXPROCS=2"};
    const RunResult plain = run_program({b.binary(), std::to_string(k)}, env);
    const std::string text = dir / "trace.txt", json = dir / "trace.json";
    const RunResult t =
        run_program({DEFTRACE_EXE, "--no-color", "-o", text, "--json", json, b.binary(), std::to_string(k)}, env);
    EXPECT_EQ(describe_status(t.status), describe_status(plain.status)) << t.err;
    EXPECT_EQ(t.out, plain.out);
    // Output is compared as is, a crash's traceback with scheduling and addresses masked.
    if (t.err != plain.err) {
        EXPECT_EQ(mask_traceback(t.err), mask_traceback(plain.err));
    }
    const auto trace = nlohmann::json::parse(slurp(json), nullptr, false);
    ASSERT_FALSE(trace.is_discarded()) << json << " is not JSON";
    auto want = logged(plain.out), got = traced(trace, g);
    for (const char *kind : {"r", "d", "p", "R", "g"})
        EXPECT_EQ(got[kind], want[kind]) << "events of kind " << kind << " (tests/gen/main.go); trace:\n"
                                         << head(slurp(text));
    EXPECT_EQ(trace["validation"].value("divergences", -1), 0) << head(slurp(text));
    // Random panics, repanics and recovers are the hard cases of the views' panic stories.
    if (test::view_checks_enabled()) {
        const auto view_problems = test::views_problems(json, nlohmann::ordered_json::parse(slurp(json)), dir / ".");
        EXPECT_TRUE(view_problems.empty()) << "the views of the trace:\n" << test::lines(view_problems);
    }
}

TEST(GeneratedPrograms, TraceAsTheyRunAndCountWhatTheyLogged) {
    int traced_programs = 0, failed_programs = 0;
    for (const auto &b : builds_under_test()) {
        if (b.program != "generated")
            continue;
        const Generated g = read_lines(b.src_dir);
        ASSERT_GT(g.programs, 0) << b.src_dir << "/lines.txt";
        const int step = every_nth() * (b.variant == "default" ? 1 : 10);
        ScratchDir dir("generated");
        const auto *result = ::testing::UnitTest::GetInstance()->current_test_info()->result();
        for (int k = 0; k < g.programs; k += step) {
            const int parts = result->total_part_count();
            check_program(b, g, k, dir);
            ++traced_programs;
            if (result->total_part_count() != parts && ++failed_programs == 5) {
                ADD_FAILURE() << "stopped after 5 failing programs";
                return;
            }
        }
    }
    EXPECT_GT(traced_programs, 0) << "no build of the generated programs (scripts/build-testdata.sh)";
    std::printf("%d generated programs traced\n", traced_programs);
}

} // namespace
} // namespace deftrace::testing
