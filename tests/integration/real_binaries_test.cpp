// Real Go programs built by releases the toolchain matrix has no Debian package for: esbuild's
// executables from the npm registry (scripts/real-binaries.txt, fetched and checked by
// scripts/setup-real-binaries.sh). All but the 1.14 one are stripped: a release with no shipped
// layout table (1.16, 1.17, 1.18, 1.20) is traced with the layout inferred from its own code.
//   - a supported release: esbuild bundles a small project, and fails on a syntax error (its
//     parser panics and recovers), traced in the default scope and with --scope all: output and
//     exit status as untraced, its defers, deferred calls and recover()s in the trace, the panic
//     and its recovery, 0 divergences; `deftrace inspect` lists its defer sites;
//   - any other release is refused before it runs, with the one-line message and exit 69.
#include "binary/go_binary.h"
#include "manifest.h"
#include "release/go_releases.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;

struct RealBinary {
    int minor;
    std::string version, path;
};

std::vector<RealBinary> real_binaries() {
    const char *cache = std::getenv("DEFTRACE_CACHE");
    const char *home = std::getenv("HOME");
    const fs::path dir = cache != nullptr && *cache != '\0'
                             ? fs::path(cache)
                             : fs::path(home != nullptr ? home : "/") / ".cache/deftrace";
    std::ifstream in(dir / "real" / "binaries.txt");
    std::vector<RealBinary> out;
    std::string minor, version, path;
    while (in >> minor >> version >> path)
        out.push_back({std::stoi(minor.substr(2)), version, path});
    EXPECT_FALSE(out.empty()) << "no " << (dir / "real" / "binaries.txt") << ": run scripts/setup-real-binaries.sh";
    return out;
}

std::map<std::string, int> kinds(const nlohmann::json &trace) {
    std::map<std::string, int> n;
    for (const auto &e : trace["events"])
        ++n[e.value("kind", "")];
    return n;
}

// esbuild run in `dir` with `args`, untraced and under deftrace with `scope`: the same output and
// status, and the trace (which must have 0 divergences).
nlohmann::json traced_like_untraced(const RealBinary &b, const fs::path &dir, const std::vector<std::string> &args,
                                    const std::string &scope) {
    std::vector<std::string> plain = {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir.string(), b.path};
    plain.insert(plain.end(), args.begin(), args.end());
    const RunResult u = run_program(plain);
    const fs::path json = dir / "trace.json";
    std::vector<std::string> traced = {"/bin/sh",    "-c",          "cd \"$0\" && exec \"$@\"",
                                       dir.string(), DEFTRACE_EXE,  "--scope",
                                       scope,        "-o",          "/dev/null",
                                       "--json",     json.string(), b.path};
    traced.insert(traced.end(), args.begin(), args.end());
    const RunResult t = run_program(traced);
    EXPECT_EQ(t.status, u.status) << "traced " << describe_status(t.status) << ", untraced "
                                  << describe_status(u.status) << "\n"
                                  << t.err.substr(0, 2000);
    EXPECT_EQ(t.out, u.out);
    EXPECT_EQ(t.err, u.err);
    auto trace = nlohmann::json::parse(slurp(json), nullptr, false);
    EXPECT_FALSE(trace.is_discarded()) << "no JSON trace";
    if (trace.is_discarded())
        return {};
    EXPECT_EQ(trace["go_version"], b.version);
    EXPECT_EQ(trace["validation"].value("divergences", -1), 0) << trace["validation"].dump();
    EXPECT_GT(trace["validation"].value("observations", 0), 0);
    return trace;
}

void write(const fs::path &p, const std::string &text) {
    std::ofstream(p) << text;
}

TEST(RealBinaries, EsbuildOfEverySupportedReleaseIsTracedAndEveryOtherRefused) {
    const ScratchDir tmp("real");
    const fs::path project = tmp / "project";
    fs::create_directories(project);
    write(project / "a.js", "import {b} from './b.js'\nexport function main() { console.log(b(2)) }\n");
    write(project / "b.js", "export const b = (x) => x * 21\n");
    write(project / "bad.js", "let x = (\n");
    const std::vector<std::string> bundle = {"a.js", "--bundle", "--format=esm"};
    for (const RealBinary &b : real_binaries()) {
        SCOPED_TRACE(b.version + " " + b.path);
        if (go_release(1, b.minor) == nullptr) {
            const RunResult r = run_program({DEFTRACE_EXE, "-o", "/dev/null", b.path, "--version"});
            EXPECT_EQ(exit_code(r), 69);
            EXPECT_EQ(r.out, "") << "the program ran";
            EXPECT_EQ(r.err, "deftrace: " + b.path + ": " + unsupported_go_message(b.version) + "\n");
            continue;
        }
        const GoBinary bin = GoBinary::open(b.path);
        // Where the layout comes from: esbuild 0.5.26 (1.14) keeps its DWARF, the others are
        // stripped: 1.15 is in the matrix (its table), the others' is inferred from their code.
        const std::string layout = bin.has_dwarf() ? "dwarf" : go_release(1, b.minor)->in_matrix ? "table" : "inferred";
        for (const std::string scope : {"main", "all"}) {
            SCOPED_TRACE("--scope " + scope);
            const auto ok = kinds(traced_like_untraced(b, project, bundle, scope));
            EXPECT_GT(ok.count("defer") ? ok.at("defer") : 0, 0);
            EXPECT_GT(ok.count("defer_call") ? ok.at("defer_call") : 0, 0);
            EXPECT_GT(ok.count("recover") ? ok.at("recover") : 0, 0);
            // A syntax error: the parser panics and the bundler recovers (and exits 1).
            const auto bad = kinds(traced_like_untraced(b, project, {"bad.js"}, scope));
            EXPECT_GT(bad.count("panic") ? bad.at("panic") : 0, 0);
            EXPECT_GT(bad.count("recovery") ? bad.at("recovery") : 0, 0);
        }
        int status = 0;
        auto j = nlohmann::json::parse(
            run_capture(std::string(DEFTRACE_EXE) + " inspect --json " + shell_quote(b.path), &status), nullptr, false);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        ASSERT_FALSE(j.is_discarded());
        EXPECT_EQ(j["runtime_layout"].value("source", ""), layout);
        EXPECT_GT(j["summary"].value("open-coded", 0), 0);
        EXPECT_GT(j["summary"].value("heap", 0) + j["summary"].value("stack", 0), 0);
    }
}

} // namespace
} // namespace deftrace::testing
