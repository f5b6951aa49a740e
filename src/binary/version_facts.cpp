#include "binary/version_facts.h"

#include <array>

namespace deftrace {

namespace {

// Sources: runtime2.go / symtab.go / internal/abi/symtab.go of each release, and moduledata
// offsets measured with DWARF (go-runtime.md §2.4, §4.2, §5.4).
constexpr std::array kFacts = {
    //          minors   opendefer                 gofunc types gopanic wrapper deferproc-flag inltree-nameoff
    VersionFacts{18, 19, OpenDeferFormat::Go118, 304, 280, 9, 21, true, false},
    VersionFacts{20, 21, OpenDeferFormat::Go118, 320, 296, 9, 21, true, true},
    VersionFacts{22, 24, OpenDeferFormat::Go122, 320, 296, 10, 22, true, true},
    VersionFacts{25, 26, OpenDeferFormat::Go122, 320, 296, 10, 23, false, true},
    VersionFacts{27, 27, OpenDeferFormat::Go122, 344, 296, 10, 23, false, true},
};

} // namespace

const VersionFacts *version_facts(const GoVersion &v) {
    if (v.major != 1)
        return nullptr;
    for (const auto &f : kFacts)
        if (v.minor >= f.min_minor && v.minor <= f.max_minor)
            return &f;
    return nullptr;
}

const char *supported_go_versions() {
    return "Go 1.18 to 1.27";
}

} // namespace deftrace
