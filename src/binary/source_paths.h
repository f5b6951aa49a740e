// Where a program's sources were when it was built: what trace normalization needs to make
// paths relative and to tell the program's own functions from the standard library's.
#pragma once

#include "binary/go_binary.h"

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace deftrace {

struct SourcePaths {
    std::string main_module; // the main module's path (build info), or the main package's
    std::string module_dir;  // the directory of main.main's file
    std::string goroot;      // GOROOT at build time, from runtime.main's file (runtime/proc.go)
    // The trace header's "paths" object.
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// Empty strings for what the binary does not tell (no build info, no main.main, ...).
SourcePaths source_paths(const GoBinary &bin);

// The main module: the build info's "mod" line; for a binary built without modules (GOPATH, a
// distribution's build: only a "path" line) inferred from the program's packages
// (infer_main_module); for a test binary without either, the package under test. Empty when
// nothing tells.
struct MainModule {
    std::string path;
    bool inferred = false; // not written in the binary: infer_main_module's guess
};
MainModule find_main_module(const GoBinary &bin);
inline std::string main_module_of(const GoBinary &bin) {
    return find_main_module(bin).path;
}

// A GOPATH build's main module, from the main package's import path and where each package's
// sources were: the shortest prefix of `main_package` it shares with another package of the
// program's own source tree (not vendored, not from another GOPATH root), at least a repository
// deep (host/owner/repo on the big code hosts, host/repo elsewhere); failing that, the path
// before a "cmd" element, else the main package itself. `packages`: every non-main package path
// with the source file of one of its functions.
std::string infer_main_module(const std::string &main_package, const std::string &main_dir,
                              const std::vector<std::pair<std::string, std::string>> &packages);

} // namespace deftrace
