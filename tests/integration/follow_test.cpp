// deftrace -f on testdata/spawn, whose parent runs itself as a child (which runs a grandchild),
// then /bin/true, then forks a copy of itself that exits without exec. Run with the oldest and
// the newest release of the matrix (DEFTRACE_GO_MINOR):
//   - with -f, the child's and the grandchild's events are in the trace, tagged with their pids
//     (those they print themselves), introduced by child events in their parents' streams;
//     /bin/true gets a child event saying it was not traced; the normalized trace is
//     testdata/spawn/expected.follow.json, run after run;
//   - without -f, child events say the children ran untraced, and no event has a pid;
//   - either way every process prints, and ends, exactly as untraced: the parent's stdout holds
//     each child's exit status, and the fork copy's (which would die of SIGTRAP on a breakpoint
//     left in its copy of the code).
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const std::vector<std::string> kEnv = {"GOMAXPROCS=2", "SPAWN_SHOW_PIDS=1"};

std::string slurp(const std::string &path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<BuiltProgram> spawn_builds() {
    std::vector<BuiltProgram> out;
    for (auto &b : builds_under_test())
        if (b.program == "spawn" && b.variant == "default")
            out.push_back(std::move(b));
    EXPECT_FALSE(out.empty()) << "no testdata/spawn build (scripts/build-testdata.sh)";
    return out;
}

// The pid a process of the program printed ("child pid 1234"); 0 when none.
int printed_pid(const std::string &out, const std::string &role) {
    std::smatch m;
    const std::regex line("(^|\n)" + role + " pid ([0-9]+)\n");
    return std::regex_search(out, m, line) ? std::stoi(m[2]) : 0;
}

std::string without_pids(const std::string &out) {
    static const std::regex pid(" pid [0-9]+");
    return std::regex_replace(out, pid, " pid N");
}

// Runs the program untraced and under deftrace with `flags`: the same stdout (but the pids),
// stderr and status. Returns the traced run and the raw JSON trace.
std::pair<RunResult, json> traced_like_untraced(const BuiltProgram &b, std::vector<std::string> flags,
                                                const ScratchDir &dir) {
    const RunResult untraced = run_program({b.binary()}, kEnv);
    std::vector<std::string> argv = {DEFTRACE_EXE};
    argv.insert(argv.end(), flags.begin(), flags.end());
    for (const std::string &a :
         std::vector<std::string>{"-o", dir / "trace.txt", "--json", dir / "trace.json", b.binary()})
        argv.push_back(a);
    RunResult traced = run_program(argv, kEnv);
    EXPECT_EQ(traced.status, untraced.status) << describe_status(traced.status) << "\n" << traced.err;
    EXPECT_EQ(without_pids(traced.out), without_pids(untraced.out));
    EXPECT_EQ(traced.err, untraced.err);
    EXPECT_NE(untraced.out.find("ran 1 arguments: status 3\n"), std::string::npos) << untraced.out;
    EXPECT_NE(untraced.out.find("fork copy: exited true status 7 signal -1\n"), std::string::npos) << untraced.out;
    json trace = json::parse(slurp(dir / "trace.json"), nullptr, false);
    EXPECT_FALSE(trace.is_discarded()) << "no JSON trace";
    return {traced, trace};
}

// The events of the trace with `pid` (0: the program's own, which have none).
std::vector<json> events_of(const json &trace, int pid) {
    std::vector<json> out;
    for (const auto &e : trace["events"])
        if (e.value("pid", 0) == pid)
            out.push_back(e);
    return out;
}

const json *child_event(const std::vector<json> &events, const std::string &arg0_tail, size_t argc) {
    for (const auto &e : events)
        if (e["kind"] == "child" && e["argv"].size() == argc && e["argv"][0].get<std::string>().ends_with(arg0_tail))
            return &e;
    return nullptr;
}

bool has_panic(const std::vector<json> &events, const std::string &value) {
    for (const auto &e : events)
        if (e["kind"] == "panic" && e.value("value", "") == value)
            return true;
    return false;
}

TEST(FollowChildren, FollowedChildrenAreTracedTaggedWithTheirPids) {
    for (const auto &b : spawn_builds()) {
        SCOPED_TRACE(b.label());
        ScratchDir dir("follow");
        auto [run, trace] = traced_like_untraced(b, {"-f"}, dir);
        const int child = printed_pid(run.out, "child"), grandchild = printed_pid(run.out, "grandchild");
        ASSERT_GT(child, 0) << run.out;
        ASSERT_GT(grandchild, 0) << run.out;
        EXPECT_EQ(trace.value("follow_forks", false), true);

        const auto program = events_of(trace, 0), of_child = events_of(trace, child),
                   of_grandchild = events_of(trace, grandchild);
        const json *c = child_event(program, "/prog", 2);
        ASSERT_NE(c, nullptr) << "no child event for the child";
        EXPECT_EQ((*c)["child_pid"], child);
        EXPECT_EQ((*c)["argv"][1], "child");
        EXPECT_EQ((*c)["traced"], true);
        const json *t = child_event(program, "/bin/true", 1);
        ASSERT_NE(t, nullptr) << "no child event for /bin/true";
        EXPECT_EQ((*t)["traced"], false);
        EXPECT_NE((*t).value("note", "").find("not a Go program"), std::string::npos) << *t;
        const json *g = child_event(of_child, "/prog", 2);
        ASSERT_NE(g, nullptr) << "no child event for the grandchild, in the child's events";
        EXPECT_EQ((*g)["child_pid"], grandchild);

        EXPECT_TRUE(has_panic(of_child, "child panics"));
        EXPECT_TRUE(has_panic(of_grandchild, "grandchild panics"));
        EXPECT_FALSE(has_panic(program, "child panics"));
        EXPECT_FALSE(has_panic(of_child, "grandchild panics"));
        auto exit_status = [](const std::vector<json> &events) {
            for (const auto &e : events)
                if (e["kind"] == "exit")
                    return e.value("status", -1);
            return -2;
        };
        EXPECT_EQ(exit_status(of_child), 3);
        EXPECT_EQ(exit_status(of_grandchild), 4);
        EXPECT_EQ(trace["exit"].value("status", -1), 0);

        const std::string text = slurp(dir / "trace.txt");
        EXPECT_NE(text.find("[pid " + std::to_string(child) + "] [g1] panic \"child panics\""), std::string::npos)
            << text;
    }
}

TEST(FollowChildren, FollowedTraceNormalizesToTheSameExpectationRunAfterRun) {
    for (const auto &b : spawn_builds()) {
        SCOPED_TRACE(b.label());
        const std::string expected = b.src_dir + "/expected.follow.json";
        ASSERT_TRUE(fs::exists(expected)) << "no " << expected << " (scripts/regen-expectations.sh)";
        for (int i = 0; i < 3; ++i) {
            auto r = run_program({DEFTRACE_EXE, "-f", "-o", "/dev/null", "--expect", expected, b.binary()},
                                 {"GOMAXPROCS=2"});
            EXPECT_EQ(exit_code(r), 0) << r.err;
        }
        // And without -f the trace is not that one.
        auto r = run_program({DEFTRACE_EXE, "-o", "/dev/null", "--expect", expected, b.binary()}, {"GOMAXPROCS=2"});
        EXPECT_EQ(exit_code(r), 79) << r.err;
    }
}

TEST(FollowChildren, WithoutFollowChildrenRunUntracedWithANote) {
    for (const auto &b : spawn_builds()) {
        SCOPED_TRACE(b.label());
        ScratchDir dir("nofollow");
        auto [run, trace] = traced_like_untraced(b, {}, dir);
        EXPECT_FALSE(trace.contains("follow_forks"));
        int notes = 0;
        for (const auto &e : trace["events"]) {
            EXPECT_FALSE(e.contains("pid")) << e;
            EXPECT_NE(e.value("value", ""), "child panics") << e;
            if (e["kind"] != "child")
                continue;
            ++notes;
            EXPECT_EQ(e["traced"], false);
            EXPECT_NE(e.value("note", "").find("-f"), std::string::npos) << e;
        }
        EXPECT_EQ(notes, 2); // the child and /bin/true (the grandchild is the child's)
        const int child = printed_pid(run.out, "child");
        const auto program = events_of(trace, 0);
        const json *c = child_event(program, "/prog", 2);
        ASSERT_NE(c, nullptr);
        EXPECT_EQ((*c)["child_pid"], child);
        const std::string text = slurp(dir / "trace.txt");
        EXPECT_NE(text.find("child " + std::to_string(child) + " ran "), std::string::npos) << text;
        EXPECT_NE(text.find("not traced (not followed: deftrace -f follows children)"), std::string::npos) << text;
    }
}

// The go command running one of the toolchain's own programs (`go tool vet -V=full` runs
// $GOROOT/pkg/tool/.../vet): in the default scope the tool is followed for its panics only, and
// its child event says so; every defer of the compiler would otherwise cost a stop.
TEST(FollowChildren, GoToolchainProgramsAreFollowedForTheirPanicsInTheDefaultScope) {
    const char *m = std::getenv("DEFTRACE_GO_MINOR");
    const std::string minor = m != nullptr ? m : "1.22";
    int status = 0;
    const std::string goroot = run_capture(
        "bash -c " + shell_quote(". " + shell_quote(std::string(DEFTRACE_SOURCE_DIR) + "/scripts/go-env.sh") +
                                 " && go_root_for " + minor),
        &status);
    const std::string go = goroot.substr(0, goroot.find('\n')) + "/bin/go";
    ASSERT_TRUE(fs::exists(go)) << "no Go " << minor << " toolchain (scripts/setup-go.sh): " << go;
    ScratchDir dir("toolchain");
    for (const bool asked : {false, true}) {
        SCOPED_TRACE(asked ? "--scope all" : "default scope");
        std::vector<std::string> argv = {DEFTRACE_EXE, "-f", "-o", dir / "trace.txt", "--json", dir / "trace.json"};
        if (asked)
            argv.insert(argv.end(), {"--scope", "all"});
        argv.insert(argv.end(), {go, "tool", "vet", "-V=full"});
        const RunResult r = run_program(argv);
        EXPECT_EQ(exit_code(r), 0) << r.err;
        EXPECT_NE(r.out.find("vet version"), std::string::npos) << r.out;
        const json trace = json::parse(slurp(dir / "trace.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        const std::vector<json> program = events_of(trace, 0);
        const json *vet = child_event(program, "/vet", 2);
        ASSERT_NE(vet, nullptr) << trace["events"].dump().substr(0, 2000);
        EXPECT_EQ((*vet)["traced"], true);
        const int pid = (*vet)["child_pid"];
        size_t defers = 0;
        for (const auto &e : events_of(trace, pid))
            defers += e["kind"] == "defer";
        if (asked) {
            EXPECT_FALSE(vet->contains("note")) << *vet;
            EXPECT_GT(defers, 0u) << "--scope all: vet's defers are traced";
        } else {
            EXPECT_NE(vet->value("note", "").find("Go toolchain program: its panics only"), std::string::npos) << *vet;
            EXPECT_EQ(defers, 0u);
        }
    }
}

} // namespace
} // namespace deftrace::testing
