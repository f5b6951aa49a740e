// Where a program's sources were when it was built: what trace normalization needs to make
// paths relative and to tell the program's own functions from the standard library's.
#pragma once

#include "binary/go_binary.h"

#include <nlohmann/json.hpp>
#include <string>

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

} // namespace deftrace
