// Structural evidence of the Go release that built a binary, independent of .go.buildinfo:
// pclntab magic, which runtime functions exist, sections. Used to cross-check the build info and
// to estimate a version when there is none (go-runtime.md §5.6).
#pragma once

#include "binary/elf_file.h"
#include "binary/pclntab.h"
#include "binary/runtime_functions.h"

#include <string>
#include <vector>

namespace deftrace {

struct Fingerprint {
    int min_minor = 0;  // Go 1.min_minor ..
    int max_minor = 99; // .. Go 1.max_minor
    std::vector<std::string> evidence;
    [[nodiscard]] bool admits(int minor) const { return minor >= min_minor && minor <= max_minor; }
    [[nodiscard]] std::string range() const; // "1.22-1.24"
};

Fingerprint fingerprint(const ElfFile &elf, const Pclntab &tab, const RuntimeFunctions &rt);

} // namespace deftrace
