// The `.go.buildinfo` blob the Go linker writes into every binary (kept by -ldflags='-s -w').
// Format: debug/buildinfo.readRawBuildInfo (Go 1.13+ pointer form, Go 1.18+ inline form).
#pragma once

#include "binary/elf_file.h"

#include <optional>
#include <string>

namespace deftrace {

struct BuildInfo {
    std::string go_version; // "go1.22.12"
    std::string main_path;  // main package path from the module info, if any
    std::string mod_info;   // the raw module info text (path/mod/dep/build lines)
    bool inline_form = false;
};

// nullopt when the binary has no build info blob (not Go, or older than Go 1.13).
// Throws Error(Corrupt/Truncated) when a blob is found but is malformed.
std::optional<BuildInfo> read_buildinfo(const ElfFile &elf);

} // namespace deftrace
