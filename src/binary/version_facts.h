// Everything deftrace's static layer needs to know that depends on the Go release, in one table.
// Code asks for a fact (`facts.opendefer_format`), never compares version numbers itself.
#pragma once

#include "binary/go_version.h"

#include <cstdint>

namespace deftrace {

// FUNCDATA_OpenCodedDeferInfo payload generations (go-runtime.md §4.2).
enum class OpenDeferFormat {
    Go117, // maxargsize, deferBitsOffset, nDefers, per defer: argWidth, closureOffset, nArgs, args...
    Go118, // deferBitsOffset, nDefers, closureOffset per defer (highest index first)
    Go122, // deferBitsOffset, slotsOffset (contiguous closure slots)
};

struct VersionFacts {
    int min_minor, max_minor; // the Go 1.x releases this row covers
    OpenDeferFormat opendefer_format;
    uint32_t moduledata_gofunc; // offset of moduledata.gofunc (0: absolute funcdata pointers)
    uint32_t moduledata_types;  // offset of moduledata.types
    uint8_t funcid_gopanic;     // abi.FuncID values, renumbered over releases (§2.4)
    uint8_t funcid_wrapper;
    bool deferproc_returns_flag; // ≤1.24: deferproc* return 0, or 1 when resumed by recovery
    bool inltree_name_off;       // 1.20+: runtime.inlinedCall is {funcID, _, nameOff, parentPc, startLine}
};

// The row for `v`; nullptr when deftrace has no facts for that release.
const VersionFacts *version_facts(const GoVersion &v);
// The releases deftrace can read, for messages ("Go 1.18 to 1.27").
const char *supported_go_versions();

// Static facts used throughout: FUNCDATA and PCDATA indices (stable 1.17–1.27).
inline constexpr uint32_t kFuncdataOpenCodedDeferInfo = 4;
inline constexpr uint32_t kFuncdataInlTree = 3;
inline constexpr uint32_t kPcdataInlTreeIndex = 2;

} // namespace deftrace
