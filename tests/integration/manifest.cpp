#include "manifest.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

namespace deftrace::testing {

std::vector<BuiltProgram> load_manifest() {
    std::vector<BuiltProgram> out;
    // scripts/gen-soak.sh points the tests at builds of its own.
    const char *dir = std::getenv("DEFTRACE_TESTDATA_OUT");
    const std::string path = std::string(dir != nullptr ? dir : DEFTRACE_TESTDATA_OUT) + "/manifest.tsv";
    std::ifstream in(path);
    if (!in) {
        ADD_FAILURE() << "no " << path << ": the testdata.build test must run first (scripts/build-testdata.sh)";
        return out;
    }
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        BuiltProgram b;
        std::getline(ls, b.minor, '\t');
        std::getline(ls, b.variant, '\t');
        std::getline(ls, b.program, '\t');
        std::getline(ls, b.src_dir, '\t');
        std::getline(ls, b.bin_dir, '\t');
        if (!b.bin_dir.empty())
            out.push_back(std::move(b));
    }
    if (out.empty())
        ADD_FAILURE() << path << " lists no binaries";
    return out;
}

std::string shell_quote(const std::string &s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

std::string run_capture(const std::string &command, int *status) {
    std::string out;
    FILE *p = popen(command.c_str(), "r");
    if (p == nullptr) {
        *status = -1;
        return out;
    }
    std::array<char, 65536> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        out.append(buf.data(), n);
    *status = pclose(p);
    return out;
}

std::vector<BuiltProgram> builds_under_test() {
    const char *minor = std::getenv("DEFTRACE_GO_MINOR");
    std::vector<BuiltProgram> out;
    for (auto &b : load_manifest())
        if (minor == nullptr || b.minor == minor)
            out.push_back(std::move(b));
    return out;
}

std::vector<BuiltProgram> oldest_and_newest(const std::vector<std::string> &programs) {
    const auto all = load_manifest();
    auto minor = [](const BuiltProgram &b) { return std::stoi(b.minor.substr(2)); };
    std::vector<BuiltProgram> out;
    for (const auto &program : programs) {
        std::vector<BuiltProgram> builds;
        for (const auto &b : all)
            if (b.program == program && b.variant == "default")
                builds.push_back(b);
        if (builds.empty())
            continue;
        auto [lo, hi] = std::minmax_element(builds.begin(), builds.end(),
                                            [&](const auto &a, const auto &b) { return minor(a) < minor(b); });
        out.push_back(*lo);
        if (hi != lo)
            out.push_back(*hi);
    }
    return out;
}

} // namespace deftrace::testing
