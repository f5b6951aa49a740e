// README, "Using deftrace in CI": `go test -exec 'deftrace ... --expect FILE'` on a package's
// tests (tests/fixtures/gotest_exec, a module without dependencies), with the release under test
// (DEFTRACE_GO_MINOR, default 1.27), offline. The expectation is written by the documented
// --normalize command; the check passes against it, and fails (go test fails, deftrace's report
// in its output) against an expectation that tells another story.
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sstream>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;

std::string minor_under_test() {
    const char *m = std::getenv("DEFTRACE_GO_MINOR");
    return m != nullptr ? m : "1.27";
}

// `go test -count=1 -exec EXEC .` in the fixture's directory, with the release under test; the
// combined output, `status` its wait status. The toolchain must be there: no skipping.
std::string go_test_exec(const std::string &exec, int *status) {
    const std::string src = DEFTRACE_SOURCE_DIR;
    const std::string script = ". " + shell_quote(src + "/scripts/go-env.sh") + " && [ -n \"$(go_root_for " +
                               minor_under_test() + ")\" ] || { echo no Go " + minor_under_test() +
                               " toolchain; exit 97; }; cd " + shell_quote(src + "/tests/fixtures/gotest_exec") +
                               " && GOFLAGS=-mod=mod GOPROXY=off go_for " + minor_under_test() +
                               " test -count=1 -exec " + shell_quote(exec) + " .";
    return run_capture("bash -c " + shell_quote(script) + " 2>&1", status);
}

TEST(GoTestExec, ExpectationWrittenWithNormalizeChecksTheTests) {
    ScratchDir dir("gotest-exec");
    const std::string expected = dir / "parse.json", deftrace = DEFTRACE_EXE;
    int status = 0;
    std::string out = go_test_exec(deftrace + " -o /dev/null --normalize --json " + expected, &status);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    ASSERT_TRUE(fs::exists(expected)) << out;
    std::ifstream in(expected);
    auto trace = nlohmann::ordered_json::parse(in, nullptr, false);
    ASSERT_FALSE(trace.is_discarded());
    // The test binary's name and the flags of the test run only; the package's own story, with
    // paths relative to it.
    EXPECT_EQ(trace["program"], nlohmann::ordered_json::array({"gotest_exec.test", "-test.count=1"}));
    bool recovered = false;
    for (const auto &e : trace["events"]) {
        EXPECT_EQ(e["site"].value("file", "parse.go"), e["kind"] == "recovery" ? "" : "parse.go") << e;
        recovered |= e["kind"] == "recover" && e.value("recovered", false) && e.value("value", "") == "not a number";
    }
    EXPECT_TRUE(recovered) << trace.dump(2);

    out = go_test_exec(deftrace + " -o /dev/null --expect " + expected, &status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    EXPECT_NE(out.find("ok  \tgotest_exec"), std::string::npos) << out;

    // Another story: the recovered value changed.
    for (auto &e : trace["events"])
        if (e["kind"] == "recover" && e.value("recovered", false))
            e["value"] = "something else";
    std::ofstream(expected) << trace.dump(2) << "\n";
    out = go_test_exec(deftrace + " -o /dev/null --expect " + expected, &status);
    EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    EXPECT_NE(out.find("the trace differs from"), std::string::npos) << out;
    EXPECT_NE(out.find("FAIL"), std::string::npos) << out;
}

} // namespace
} // namespace deftrace::testing
