// A virtual address in the traced program or in the ELF file's link-time address space.
//
// Addresses, sizes and offsets are all uint64_t in the machine; keeping addresses in their own
// type stops a file offset or a frame offset from being used where an address is meant.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace deftrace {

class Addr {
public:
    constexpr Addr() = default;
    constexpr explicit Addr(uint64_t value) : value_(value) {}

    [[nodiscard]] constexpr uint64_t value() const { return value_; }
    [[nodiscard]] constexpr bool is_null() const { return value_ == 0; }

    constexpr Addr operator+(uint64_t delta) const { return Addr(value_ + delta); }
    constexpr Addr operator-(uint64_t delta) const { return Addr(value_ - delta); }
    constexpr Addr &operator+=(uint64_t delta) {
        value_ += delta;
        return *this;
    }
    // Distance between two addresses; the caller must know that `*this >= other`.
    [[nodiscard]] constexpr uint64_t operator-(Addr other) const { return value_ - other.value_; }

    constexpr auto operator<=>(const Addr &) const = default;

    // "0x4011e0" — the form used in every report.
    [[nodiscard]] std::string hex() const;

private:
    uint64_t value_ = 0;
};

// A half-open range [begin, end).
struct AddrRange {
    Addr begin;
    Addr end;
    [[nodiscard]] constexpr bool contains(Addr a) const { return a >= begin && a < end; }
    [[nodiscard]] constexpr uint64_t size() const { return end - begin; }
};

std::string to_hex(uint64_t value);

} // namespace deftrace

template <> struct std::hash<deftrace::Addr> {
    size_t operator()(deftrace::Addr a) const noexcept { return std::hash<uint64_t>{}(a.value()); }
};
