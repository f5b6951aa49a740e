// Bounds-checked little-endian reads over a byte span.
//
// Every table in a Go binary is read through this type: an offset or length that points outside
// the span raises Error(Truncated) naming the table, never undefined behaviour.
#pragma once

#include "binary/error.h"

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace deftrace {

using Bytes = std::span<const uint8_t>;

class ByteReader {
public:
    ByteReader(Bytes data, std::string what) : data_(data), what_(std::move(what)) {}

    [[nodiscard]] size_t size() const { return data_.size(); }
    [[nodiscard]] Bytes data() const { return data_; }
    [[nodiscard]] const std::string &what() const { return what_; }

    [[nodiscard]] uint8_t u8(uint64_t off) const { return read_le<uint8_t>(off); }
    [[nodiscard]] uint32_t u32(uint64_t off) const { return read_le<uint32_t>(off); }
    [[nodiscard]] int32_t i32(uint64_t off) const { return static_cast<int32_t>(u32(off)); }
    [[nodiscard]] uint64_t u64(uint64_t off) const { return read_le<uint64_t>(off); }

    // A sub-span [off, off+len), checked.
    [[nodiscard]] Bytes slice(uint64_t off, uint64_t len) const {
        check(off, len);
        return data_.subspan(off, len);
    }
    // Everything from `off` to the end, checked.
    [[nodiscard]] Bytes tail(uint64_t off) const {
        check(off, 0);
        return data_.subspan(off);
    }

    // A NUL-terminated string starting at `off`; the terminator must lie inside the span.
    [[nodiscard]] std::string_view cstring(uint64_t off) const;

    // Unsigned LEB128 starting at `*off`; advances `*off`. At most 10 bytes.
    [[nodiscard]] uint64_t uvarint(uint64_t *off) const;

    [[nodiscard]] bool contains(uint64_t off, uint64_t len) const {
        return off <= data_.size() && len <= data_.size() - off;
    }

private:
    template <typename T> [[nodiscard]] T read_le(uint64_t off) const {
        check(off, sizeof(T));
        T v;
        std::memcpy(&v, data_.data() + off, sizeof(T)); // x86-64 host: little-endian like the target
        return v;
    }
    void check(uint64_t off, uint64_t len) const;

    Bytes data_;
    std::string what_;
};

} // namespace deftrace
