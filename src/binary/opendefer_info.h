// FUNCDATA_OpenCodedDeferInfo: where an open-coded frame keeps its deferBits byte and the
// closures of its defers, relative to the frame's varp (go-runtime.md §4).
#pragma once

#include "binary/byte_reader.h"
#include "release/go_releases.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace deftrace {

inline constexpr int kMaxOpenDefers = 8; // one deferBits byte (ssagen maxOpenDefers)

// Go117 format (1.14–1.17): one argument the frame keeps in a stack slot until the call, and
// where the call wants it in the outgoing argument area.
struct OpenDeferArg {
    uint64_t slot_offset = 0; // at varp - slot_offset
    uint64_t size = 0;
    uint64_t call_offset = 0; // from the callee's argument pointer
};

struct OpenDeferInfo {
    OpenDeferFormat format = OpenDeferFormat::Go122;
    uint64_t deferbits_offset = 0;         // deferBits byte at varp - deferbits_offset
    std::optional<uint64_t> slots_offset;  // Go122: closure of defer i at varp - slots_offset + 8*i
    std::vector<uint64_t> closure_offsets; // Go117/Go118: closure of defer i at varp - closure_offsets[i]
    std::optional<uint32_t> defer_count;   // Go117/Go118 record the count; Go122 does not
    // Go117: per defer, the size of its arguments and where each is kept (empty: a closure
    // without arguments, as every defer is from 1.17's register ABI on).
    std::vector<uint64_t> arg_widths;
    std::vector<std::vector<OpenDeferArg>> args;

    // Distance below varp of the closure slot of defer `i`, when the payload says where it is.
    [[nodiscard]] std::optional<int64_t> closure_offset(int i) const;
};

// Decodes a payload (at most the first bytes of go:func.* + offset are needed). Throws
// Error(Corrupt/Truncated) on malformed data: over-long varints, more than 8 defers, offsets
// outside any plausible frame.
OpenDeferInfo decode_opendefer_info(Bytes payload, OpenDeferFormat format);

} // namespace deftrace
