// `deftrace inspect --json` against the compiler's own account of every defer statement
// (-gcflags=-d=defer), for each testdata program, Go release and build variant.
#include "binary/address.h"
#include "manifest.h"
#include "release/go_releases.h"

#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sys/wait.h>
#include <tuple>

namespace deftrace::testing {
namespace {

using Key = std::tuple<std::string, int, std::string>; // file, line, kind
using Multiset = std::map<Key, int>;

// "./main.go:12:2: open-coded defer" -> (srcdir/main.go, 12, open-coded)
Multiset compiler_report(const BuiltProgram &b) {
    static const std::regex re(R"(^(.+):(\d+):(\d+): (open-coded|stack-allocated|heap-allocated) defer$)");
    static const std::map<std::string, std::string> kinds = {
        {"open-coded", "open-coded"}, {"stack-allocated", "stack"}, {"heap-allocated", "heap"}};
    Multiset m;
    std::ifstream in(b.bin_dir + "/defer.txt");
    EXPECT_TRUE(in) << b.label() << ": no defer.txt";
    std::string line;
    std::smatch mm;
    while (std::getline(in, line)) {
        if (!std::regex_match(line, mm, re))
            continue;
        std::string file = mm[1];
        if (file.starts_with("./"))
            file = file.substr(2);
        if (!file.starts_with("/"))
            file = b.src_dir + "/" + file;
        ++m[{file, std::stoi(mm[2]), kinds.at(mm[4])}];
    }
    return m;
}

std::string describe(const Multiset &m) {
    std::string s;
    for (const auto &[k, n] : m)
        s += "    " + std::get<0>(k) + ":" + std::to_string(std::get<1>(k)) + " " + std::get<2>(k) +
             (n > 1 ? " x" + std::to_string(n) : "") + "\n";
    return s.empty() ? "    (none)\n" : s;
}

nlohmann::json run_inspect(const BuiltProgram &b) {
    int status = 0;
    std::string out = run_capture(std::string(DEFTRACE_EXE) + " inspect --json " + shell_quote(b.binary()), &status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << b.label() << ": deftrace inspect failed, status " << status;
    auto j = nlohmann::json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << b.label() << ": inspect printed invalid JSON";
    return j;
}

// Each binary is inspected once per test program, whichever test asks first; the others read the
// same report (a failed inspect reports its failure in that first test). A copy: the tests'
// operator[] may add what a failed report lacks.
nlohmann::json inspect(const BuiltProgram &b) {
    static std::map<std::string, nlohmann::json> reports;
    auto it = reports.find(b.binary());
    if (it == reports.end())
        it = reports.emplace(b.binary(), run_inspect(b)).first;
    return it->second;
}

TEST(InspectMatrix, DeferSitesMatchTheCompiler) {
    auto builds = builds_under_test();
    ASSERT_FALSE(builds.empty()) << "no testdata binaries for this Go release";
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        auto j = inspect(b);
        if (j.is_discarded())
            continue;
        // The compiler reports each defer statement once, though a function literal can be
        // compiled more than once (since Go 1.22 an inlined function's closures are copied into
        // their caller: main.f.func1 and main.f.1 for one literal, both linked). Copies start at
        // the same source line: they count once, as the copy with the most sites.
        std::map<std::pair<std::string, int>, Multiset> by_source_function;
        const std::string prefix = b.src_dir + "/";
        for (const auto &f : j["functions"]) {
            bool in_program = false;
            Multiset sites;
            for (const auto &d : f["defers"]) {
                std::string file = d["file"];
                if (!file.starts_with(prefix))
                    continue;
                in_program = true;
                ++sites[{file, d["line"].get<int>(), d["kind"].get<std::string>()}];
            }
            if (in_program && f.contains("notes"))
                ADD_FAILURE() << f["name"] << ": analysis notes: " << f["notes"].dump();
            Multiset &copy = by_source_function[{f.value("file", ""), f.value("line", 0)}];
            for (const auto &[k, n] : sites)
                copy[k] = std::max(copy[k], n);
        }
        Multiset ours;
        for (const auto &[where, sites] : by_source_function)
            for (const auto &[k, n] : sites)
                ours[k] += n;
        Multiset theirs = compiler_report(b);
        Multiset missing, extra;
        for (const auto &[k, n] : theirs)
            if (int d = n - (ours.contains(k) ? ours.at(k) : 0); d > 0)
                missing[k] = d;
        for (const auto &[k, n] : ours)
            if (int d = n - (theirs.contains(k) ? theirs.at(k) : 0); d > 0)
                extra[k] = d;
        EXPECT_TRUE(missing.empty() && extra.empty()) << "compiler reports but inspect misses:\n"
                                                      << describe(missing) << "inspect reports but compiler does not:\n"
                                                      << describe(extra);
        EXPECT_FALSE(theirs.empty()) << "the compiler reported no defer at all; is -d=defer output captured?";
    }
}

TEST(InspectMatrix, HeaderFieldsDescribeTheBuild) {
    for (const auto &b : builds_under_test()) {
        SCOPED_TRACE(b.label());
        auto j = inspect(b);
        if (j.is_discarded())
            continue;
        EXPECT_TRUE(j["go_version"].get<std::string>().starts_with("go" + b.minor)) << j["go_version"];
        EXPECT_EQ(j["go_version_source"], "buildinfo");
        const int minor = std::stoi(b.minor.substr(2));
        EXPECT_EQ(j["pclntab_magic"], to_hex(go_release(1, minor)->pclntab_magic));
        EXPECT_EQ(j["stripped"].get<bool>(), b.variant == "stripped");
        EXPECT_EQ(j["dwarf"].get<bool>(), b.variant != "stripped");
        EXPECT_EQ(j["pie"].get<bool>(), b.variant == "pie");
        // Every release of the matrix ships its table: a stripped build is traced with it.
        EXPECT_EQ(j["runtime_layout"].value("source", ""), b.variant == "stripped" ? "table" : "dwarf");
        EXPECT_TRUE(j["warnings"].empty()) << j["warnings"].dump();
        for (const char *fn : {"runtime.gopanic", "runtime.deferreturn", "runtime.recovery", "runtime.fatalpanic",
                               "runtime.preprintpanics", "runtime.gorecover"})
            EXPECT_TRUE(j["runtime"].contains(fn)) << fn;
        if (minor >= 22)
            EXPECT_TRUE(j["runtime"].contains("runtime.(*_panic).nextDefer"));
        else
            EXPECT_TRUE(j["runtime"].contains("runtime.addOneOpenDeferFrame"));
    }
}

// The same program must give the same (file, line, kind) view whether stripped, PIE or neither.
TEST(InspectMatrix, VariantsAgree) {
    std::map<std::string, std::map<std::string, Multiset>> by_program;
    for (const auto &b : builds_under_test()) {
        auto j = inspect(b);
        if (j.is_discarded())
            continue;
        Multiset m;
        for (const auto &f : j["functions"])
            for (const auto &d : f["defers"])
                ++m[{d["file"], d["line"].get<int>(), d["kind"]}];
        by_program[b.minor + "/" + b.program][b.variant] = m;
    }
    for (const auto &[prog, variants] : by_program) {
        SCOPED_TRACE(prog);
        ASSERT_TRUE(variants.contains("default"));
        for (const auto &[v, m] : variants)
            EXPECT_EQ(m, variants.at("default")) << v << " differs from default";
    }
}

} // namespace
} // namespace deftrace::testing
