// Virtual addresses, in two spaces that must not mix: `Addr` is a run-time address in the traced
// process (registers, memory reads, breakpoints), `LinkAddr` an address as the ELF file states it
// (symbols, pclntab entries, everything the static analyses find). They differ by the load bias
// of a PIE binary, and the only way from one to the other is a LoadBias (binary/load_bias.h).
//
// Addresses, sizes and offsets are all uint64_t in the machine; keeping addresses in their own
// types stops a file offset or a frame offset from being used where an address is meant, and a
// link-time address from being used where a run-time one is meant.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace deftrace {

std::string to_hex(uint64_t value);

struct RuntimeSpace;
struct LinkSpace;

template <class Space> class BasicAddr {
public:
    constexpr BasicAddr() = default;
    constexpr explicit BasicAddr(uint64_t value) : value_(value) {}

    [[nodiscard]] constexpr uint64_t value() const { return value_; }
    [[nodiscard]] constexpr bool is_null() const { return value_ == 0; }

    constexpr BasicAddr operator+(uint64_t delta) const { return BasicAddr(value_ + delta); }
    constexpr BasicAddr operator-(uint64_t delta) const { return BasicAddr(value_ - delta); }
    constexpr BasicAddr &operator+=(uint64_t delta) {
        value_ += delta;
        return *this;
    }
    // Distance between two addresses of one space; the caller must know that `*this >= other`.
    [[nodiscard]] constexpr uint64_t operator-(BasicAddr other) const { return value_ - other.value_; }

    constexpr auto operator<=>(const BasicAddr &) const = default;

    // "0x4011e0" — the form used in every report.
    [[nodiscard]] std::string hex() const { return to_hex(value_); }

private:
    uint64_t value_ = 0;
};

// A run-time address in the traced process.
using Addr = BasicAddr<RuntimeSpace>;
// A link-time address, as stored in the ELF file.
using LinkAddr = BasicAddr<LinkSpace>;

// A half-open range [begin, end).
template <class Space> struct BasicAddrRange {
    BasicAddr<Space> begin;
    BasicAddr<Space> end;
    [[nodiscard]] constexpr bool contains(BasicAddr<Space> a) const { return a >= begin && a < end; }
    [[nodiscard]] constexpr uint64_t size() const { return end - begin; }
};
using AddrRange = BasicAddrRange<RuntimeSpace>;
using LinkAddrRange = BasicAddrRange<LinkSpace>;

} // namespace deftrace

template <class Space> struct std::hash<deftrace::BasicAddr<Space>> {
    size_t operator()(deftrace::BasicAddr<Space> a) const noexcept { return std::hash<uint64_t>{}(a.value()); }
};
