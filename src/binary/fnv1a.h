// FNV-1a, 64 bits: a quick, stable hash of bytes for names and for telling values apart in
// reports (not for anything an adversary chooses to collide).
#pragma once

#include <cstdint>
#include <string_view>

namespace deftrace {

inline uint64_t fnv1a(std::string_view bytes) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes)
        h = (h ^ c) * 0x100000001b3ull;
    return h;
}

} // namespace deftrace
