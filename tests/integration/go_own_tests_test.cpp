// Go's own test programs about recover(), from the source tree of the release under test
// (DEFTRACE_GO_MINOR; $GOROOT/test comes with golang-1.NN-src): traced with --scope all, each
// prints and exits exactly as untraced, and the runtime model agrees with every recover the
// runtime judged (0 divergences). These are the programs that pin down gorecover's rule across
// releases: `defer recover()`, recover in helpers, wrappers and inlined calls, nested panics.
#include "attached_service.h"
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <gtest/gtest.h>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;

std::string goroot_of(const std::string &minor) {
    int status = 0;
    std::string root = run_capture(
        "bash -c " + shell_quote(". " + shell_quote(std::string(DEFTRACE_SOURCE_DIR) + "/scripts/go-env.sh") +
                                 " && go_root_for " + minor),
        &status);
    while (!root.empty() && (root.back() == '\n' || root.back() == ' '))
        root.pop_back();
    return status == 0 ? root : "";
}

std::vector<std::string> programs(const std::string &minor) {
    // issue23837: nil dereferences in frameless functions, recovered (the frame a fault
    // interrupts is walked from the faulting instruction, not as a return address).
    std::vector<std::string> out = {"recover.go",  "recover1.go", "recover2.go",
                                    "recover3.go", "recover4.go", "fixedbugs/issue23837.go"};
    if (std::stoi(minor.substr(2)) >= 26) // added with 1.26's frame-counting gorecover
        out.insert(out.end(), {"fixedbugs/issue73916.go", "fixedbugs/issue73916b.go", "fixedbugs/issue73917.go"});
    return out;
}

// Builds $GOROOT/test/`name` with the release under test, runs it untraced and traced, and checks
// stdout, stderr, exit status and the trace's validation line.
void trace_as_untraced(const std::string &minor, const std::string &root, const std::string &name,
                       const ScratchDir &dir) {
    SCOPED_TRACE(name);
    const std::string src = root + "/test/" + name, bin = dir / "prog";
    ASSERT_TRUE(fs::exists(src)) << src << " (golang-" << minor << "-src)";
    int status = 0;
    const std::string built =
        run_capture("bash -c " +
                        shell_quote(". " + shell_quote(std::string(DEFTRACE_SOURCE_DIR) + "/scripts/go-env.sh") +
                                    " && GO111MODULE=off go_for " + minor + " build -o " + shell_quote(bin) + " " +
                                    shell_quote(src)) +
                        " 2>&1",
                    &status);
    ASSERT_EQ(status, 0) << built;
    const RunResult plain = run_program({bin});
    const std::string trace = dir / "trace.txt";
    const RunResult traced = run_program({DEFTRACE_EXE, "--scope", "all", "--no-color", "-o", trace, bin});
    EXPECT_EQ(describe_status(traced.status), describe_status(plain.status)) << traced.err;
    EXPECT_EQ(traced.out, plain.out);
    EXPECT_EQ(traced.err, plain.err);
    const std::string text = slurp(trace);
    EXPECT_NE(text.find(", 0 divergences"), std::string::npos) << text.substr(0, 20000);
}

TEST(GoOwnTests, RecoverProgramsOfTheReleasesTreeTraceAsUntracedWithoutDivergence) {
    const std::string minor = minor_under_test();
    const std::string root = goroot_of(minor);
    ASSERT_FALSE(root.empty()) << "no Go " << minor << " toolchain (scripts/setup-go.sh)";
    ScratchDir dir("go-own-tests");
    for (const std::string &name : programs(minor))
        trace_as_untraced(minor, root, name, dir);
}

// Every program of $GOROOT/test and test/fixedbugs that Go's test driver runs (a `// run` line)
// and that calls recover(): some 90 (1.19) to 120 (1.27). Left out: divmod.go (hundreds of
// thousands of recovered divisions by zero: minutes traced).
TEST(GoOwnTests, EveryRunTestThatRecoversTracesAsUntraced) {
    const std::string minor = minor_under_test();
    const std::string root = goroot_of(minor);
    ASSERT_FALSE(root.empty()) << "no Go " << minor << " toolchain (scripts/setup-go.sh)";
    std::vector<std::string> names;
    for (const std::string sub : {"", "fixedbugs/"})
        for (const auto &e : fs::directory_iterator(root + "/test/" + sub)) {
            const std::string file = e.path().filename().string();
            if (e.path().extension() != ".go" || file == "divmod.go")
                continue;
            const std::string text = slurp(e.path().string());
            if (("\n" + text).find("\n// run\n") != std::string::npos && text.find("recover()") != std::string::npos)
                names.push_back(sub + file);
        }
    std::sort(names.begin(), names.end());
    EXPECT_GT(names.size(), 50u);
    ScratchDir dir("go-run-tests");
    for (const std::string &name : names)
        trace_as_untraced(minor, root, name, dir);
    std::printf("Go %s: %zu programs of test/ traced\n", minor.c_str(), names.size());
}

} // namespace
} // namespace deftrace::testing
