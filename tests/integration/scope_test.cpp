// --scope: out of scope, a defer costs no ptrace stop and is not reported, while panics and the
// recovers that stop them are traced in every scope; --panics-only reports no recover() that
// found no panic unless --all-recovers asks for it.
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <sys/wait.h>

namespace deftrace::testing {
namespace {

struct Traced {
    nlohmann::json trace;
    uint64_t hits = 0;
};

Traced trace(const BuiltProgram &b, const std::vector<std::string> &flags, const std::string &arg) {
    ScratchDir tmp("deftrace-scope");
    // Every probe stopping: what a scope costs is counted in hits (in-scope defers would
    // otherwise be recorded without one, tests/integration/inline_probes_test.cpp).
    std::vector<std::string> argv = {DEFTRACE_EXE,  "--stats", "--no-inline-probes", "-o",
                                     tmp / "t.txt", "--json",  tmp / "t.json"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(b.binary());
    argv.push_back(arg);
    auto r = run_program(argv);
    EXPECT_EQ(r.status, 0) << describe_status(r.status) << r.err;
    Traced t;
    t.trace = nlohmann::json::parse(slurp(tmp / "t.json"), nullptr, false);
    std::smatch m;
    const std::string text = slurp(tmp / "t.txt");
    static const std::regex hits(R"(([0-9]+) breakpoint hits)");
    if (std::regex_search(text, m, hits))
        t.hits = std::stoull(m[1]);
    return t;
}

size_t count(const nlohmann::json &trace, const std::string &kind, const std::string &function_prefix = "") {
    size_t n = 0;
    for (const auto &e : trace["events"])
        if (e["kind"] == kind &&
            (function_prefix.empty() || e["site"].value("function", "").starts_with(function_prefix)))
            ++n;
    return n;
}

TEST(TraceScope, OutOfScopeDefersCostNoStopAndPanicsStayVisible) {
    for (const auto &b : oldest_and_newest({"scoped"})) {
        SCOPED_TRACE(b.label());
        // lib's defers: 2 open-coded + 2 linked per round, each registered and called, and a
        // recover() that finds no panic.
        const Traced all10 = trace(b, {"--scope", "all"}, "10"), all100 = trace(b, {"--scope", "all"}, "100");
        EXPECT_EQ(count(all100.trace, "defer", "scoped/lib."), 400u + 1);
        EXPECT_EQ(count(all100.trace, "recover", "scoped/lib.careful"), 100u);
        EXPECT_GE(all100.hits - all10.hits, 90u * 6);

        const Traced main10 = trace(b, {"--scope", "^main\\."}, "10"),
                     main100 = trace(b, {"--scope", "^main\\."}, "100");
        EXPECT_EQ(main100.trace.value("scope", ""), "functions matching ^main\\.");
        EXPECT_EQ(main10.hits, main100.hits) << "out-of-scope defers or recover() calls cost stops";
        EXPECT_EQ(count(main100.trace, "recover", "scoped/lib.careful"), 0u);
        EXPECT_EQ(count(main100.trace, "defer", "scoped/lib."), 0u);
        EXPECT_EQ(count(main100.trace, "defer_call", "scoped/lib."), 0u);
        EXPECT_EQ(count(main100.trace, "defer", "main.report"), 1u);
        EXPECT_EQ(count(main100.trace, "defer_call", "main.report"), 1u);
        // lib's panic and the recover that stops it are the program's story in every scope.
        EXPECT_EQ(count(main100.trace, "panic", "scoped/lib.guarded"), 1u);
        ASSERT_EQ(count(main100.trace, "recover"), 1u);
        for (const auto &e : main100.trace["events"])
            if (e["kind"] == "recover") {
                EXPECT_TRUE(e.value("recovered", false));
            }
        EXPECT_EQ(count(main100.trace, "recovery"), 1u);

        // The default scope is the main module: lib is in it.
        const Traced module = trace(b, {}, "10");
        EXPECT_EQ(module.trace.value("scope", ""), "main module scoped");
        EXPECT_EQ(count(module.trace, "defer", "scoped/lib."), count(all10.trace, "defer", "scoped/lib."));
        EXPECT_EQ(count(module.trace, "defer_call", "scoped/lib."), count(all10.trace, "defer_call", "scoped/lib."));
        // In scope, a recover() with no panic is reported, seen at its own CALL and return: 2 stops
        // each, gorecover itself being armed only during panics.
        EXPECT_EQ(count(module.trace, "recover", "scoped/lib.careful"), 10u);
        const Traced module100 = trace(b, {}, "100");
        EXPECT_EQ(count(module100.trace, "recover", "scoped/lib.careful"), 100u);
        for (const auto &e : module100.trace["events"])
            if (e["kind"] == "recover" && e["site"].value("function", "").starts_with("scoped/lib.careful")) {
                EXPECT_EQ(e.value("reason", ""), "no panic") << e.dump();
            }
    }
}

TEST(TraceScope, PanicsOnlyLeavesOutRecoversThatFindNoPanic) {
    for (const auto &b : oldest_and_newest({"defer_heavy"})) {
        SCOPED_TRACE(b.label());
        // defer_heavy: a recover() every round, a recovered panic every 10th.
        const Traced quiet = trace(b, {"--panics-only"}, "100");
        EXPECT_EQ(count(quiet.trace, "panic"), 10u);
        EXPECT_EQ(count(quiet.trace, "recover"), 10u);
        for (const auto &e : quiet.trace["events"])
            if (e["kind"] == "recover") {
                EXPECT_TRUE(e.value("recovered", false));
            }
        const Traced asked = trace(b, {"--panics-only", "--all-recovers"}, "100");
        EXPECT_EQ(count(asked.trace, "recover"), 100u);
        EXPECT_LT(quiet.hits + 2 * 80, asked.hits) << "a recover() with no panic cost stops";
    }
}

// A program built without modules (tests/fixtures/gopath, GO111MODULE=off): its build information
// names only the main package, example.com/acme/tool/cmd/tool. The default scope infers the
// module from the program's packages, says so on stderr, and traces the defers of the program's
// own package below the module's root but not those of the dependency in another GOPATH root.
TEST(TraceScope, TheDefaultScopeOfAProgramWithoutModulesIsItsInferredModule) {
    for (const auto &b : oldest_and_newest({"basic"})) {
        SCOPED_TRACE("go" + b.minor);
        ScratchDir tmp("deftrace-scope");
        const std::string src = DEFTRACE_SOURCE_DIR, fixture = src + "/tests/fixtures/gopath", prog = tmp / "tool";
        int status = 0;
        const std::string log = run_capture(
            "bash -c " +
                shell_quote(". " + shell_quote(src + "/scripts/go-env.sh") + " && root=$(go_root_for " + b.minor +
                            ") && env GOROOT=\"$root\" GOTOOLCHAIN=local GOTELEMETRY=off GO111MODULE=off GOFLAGS= "
                            "GOPATH=" +
                            shell_quote(fixture + "/app:" + fixture + "/deps") +
                            " GOCACHE=\"$DEFTRACE_CACHE/gocache\" CGO_ENABLED=0 \"$root/bin/go\" build -o " +
                            shell_quote(prog) + " example.com/acme/tool/cmd/tool") +
                " 2>&1",
            &status);
        ASSERT_EQ(status, 0) << log;
        const auto plain = run_program({prog});
        auto r = run_program({DEFTRACE_EXE, "-o", tmp / "t.txt", "--json", tmp / "t.json", prog});
        EXPECT_EQ(r.status, plain.status) << describe_status(r.status) << r.err;
        EXPECT_EQ(r.out, plain.out);
        EXPECT_NE(r.err.find("has no module information (built without modules): tracing the defers of package main "
                             "and of example.com/acme/tool/..."),
                  std::string::npos)
            << r.err;
        const auto t = nlohmann::json::parse(slurp(tmp / "t.json"), nullptr, false);
        ASSERT_FALSE(t.is_discarded());
        EXPECT_EQ(t["scope"], "main module example.com/acme/tool (inferred: no module information)");
        EXPECT_EQ(count(t, "defer", "main.main"), 1u);
        EXPECT_EQ(count(t, "defer", "example.com/acme/tool/internal/store.Save"), 1u) << slurp(tmp / "t.txt");
        EXPECT_EQ(count(t, "defer", "github.com/other/lib."), 0u) << slurp(tmp / "t.txt");
    }
}

// An expression made to backtrack (std::regex took over a minute on it before the program
// started): RE2 matches in time linear in each name, so the trace runs as any other. Under
// `timeout`, so that a hang fails the test instead of the suite.
// The runtime's and internal packages' own defers are shown to a scope that names them: `all`,
// or an expression matching them — which pays their stops, and so must show what they saw.
TEST(TraceScope, AScopeThatNamesTheRuntimesOwnDefersShowsThem) {
    for (const auto &b : oldest_and_newest({"basic"})) {
        SCOPED_TRACE(b.label());
        // basic prints with fmt: internal/poll.(*FD).Write defers its writeUnlock at each line.
        const Traced poll = trace(b, {"--scope", "^internal/poll\\.\\(\\*FD\\)\\.Write$"}, "");
        EXPECT_GT(poll.hits, 0u);
        EXPECT_GT(count(poll.trace, "defer", "internal/poll.(*FD).Write"), 0u);
        EXPECT_EQ(count(poll.trace, "defer", "internal/poll.(*FD).Write"),
                  count(poll.trace, "defer_call", "internal/poll.(*FD).Write"));
        const Traced all = trace(b, {"--scope", "all"}, "");
        EXPECT_EQ(count(all.trace, "defer", "internal/poll.(*FD).Write"),
                  count(poll.trace, "defer", "internal/poll.(*FD).Write"));
        EXPECT_EQ(all.trace["validation"].value("divergences", -1), 0);
        // The default scope is the program's: none of them.
        const Traced main = trace(b, {}, "");
        EXPECT_EQ(count(main.trace, "defer", "internal/"), 0u);
        EXPECT_EQ(count(main.trace, "defer", "runtime."), 0u);
    }
}

TEST(TraceScope, AnExpressionMadeToBacktrackDoesNotHang) {
    for (const auto &b : oldest_and_newest({"basic"})) {
        SCOPED_TRACE(b.label());
        const auto plain = run_program({b.binary()});
        auto r = run_program({"/usr/bin/timeout", "60", DEFTRACE_EXE, "-o", "/dev/null", "--scope",
                              "((((((((((a*)*)*)*)*)*)*)*)*)*)*$", b.binary()});
        EXPECT_EQ(r.status, plain.status) << describe_status(r.status) << r.err;
        EXPECT_EQ(r.out, plain.out);
        auto i = run_program({"/usr/bin/timeout", "60", DEFTRACE_EXE, "inspect", "--func",
                              "((((((((((a*)*)*)*)*)*)*)*)*)*)*$", b.binary()});
        EXPECT_EQ(exit_code(i), 0) << describe_status(i.status) << i.err;
    }
}

TEST(TraceScope, ABadRegularExpressionIsOneLineAndExit64) {
    for (const auto &b : oldest_and_newest({"basic"})) {
        auto r = run_program({DEFTRACE_EXE, "--scope", "(", b.binary()});
        EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 64) << describe_status(r.status);
        EXPECT_EQ(r.out, "");
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_NE(r.err.find("--scope"), std::string::npos) << r.err;
    }
}

} // namespace
} // namespace deftrace::testing
