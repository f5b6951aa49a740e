// The list of testdata binaries written by scripts/build-testdata.sh (manifest.tsv).
#pragma once

#include <string>
#include <vector>

namespace deftrace::testing {

struct BuiltProgram {
    std::string minor;   // "1.22"
    std::string variant; // default | stripped | pie
    std::string program; // testdata directory name
    std::string src_dir; // absolute testdata/<program>
    std::string bin_dir; // holds prog and defer.txt
    [[nodiscard]] std::string binary() const { return bin_dir + "/prog"; }
    [[nodiscard]] std::string label() const { return "go" + minor + "/" + variant + "/" + program; }
};

// All builds (of $DEFTRACE_TESTDATA_OUT when set); fails the calling test (ADD_FAILURE) if the
// manifest is missing or empty.
std::vector<BuiltProgram> load_manifest();
// Every build by the Go release named in $DEFTRACE_GO_MINOR ("1.22"; all releases when unset):
// ctest runs the matrix tests once per release.
std::vector<BuiltProgram> builds_under_test();
// The default builds of `programs` by the oldest and the newest toolchain of the matrix (one
// build when only one toolchain built a program), program by program.
std::vector<BuiltProgram> oldest_and_newest(const std::vector<std::string> &programs);

// Runs a command, returns its standard output; `status` gets the wait status.
std::string run_capture(const std::string &command, int *status);

std::string shell_quote(const std::string &s);

} // namespace deftrace::testing
