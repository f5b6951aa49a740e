// Shared by the fuzz targets: the one exception a reader may throw on malformed input.
//
// A target runs its reader inside run_reader(); a deftrace::Error is the expected outcome for
// garbage and is swallowed. Anything else (std::bad_optional_access, std::out_of_range,
// std::bad_alloc, nlohmann exceptions...) escapes, and libFuzzer reports the uncaught exception
// as a crash, as it does for ASan and UBSan findings.
#pragma once

#include "binary/error.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace deftrace::fuzz {

template <typename F> void run_reader(F &&f) {
    try {
        f();
    } catch (const Error &) {
    }
}

inline std::span<const uint8_t> input(const uint8_t *data, size_t size) {
    return {data, size};
}

} // namespace deftrace::fuzz
