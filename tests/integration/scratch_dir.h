// A temporary directory for the files one test writes (traces, probe files), and reading a
// file whole: shared by the integration tests that run deftrace.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace deftrace::testing {

// deftrace-<tag>-<pid> under the system's temporary directory, removed with its contents at the
// end of the scope. The tag and pid keep test binaries that run concurrently (ctest -j) apart.
class ScratchDir {
public:
    explicit ScratchDir(const std::string &tag)
        : dir_(std::filesystem::temp_directory_path() / ("deftrace-" + tag + "-" + std::to_string(getpid()))) {
        std::filesystem::create_directories(dir_);
    }
    ~ScratchDir() { std::filesystem::remove_all(dir_); }
    ScratchDir(const ScratchDir &) = delete;
    ScratchDir &operator=(const ScratchDir &) = delete;
    [[nodiscard]] std::string operator/(const std::string &name) const { return (dir_ / name).string(); }

private:
    std::filesystem::path dir_;
};

inline std::string slurp(const std::filesystem::path &p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace deftrace::testing
