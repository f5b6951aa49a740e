// The load bias of the traced binary: run-time minus link-time address (zero unless PIE, whose
// image the kernel places at a random base). The one place addresses cross between the ELF
// file's address space and the live process's; nothing else adds or subtracts the bias.
#pragma once

#include "binary/address.h"

#include <cstdint>

namespace deftrace {

class LoadBias {
public:
    constexpr LoadBias() = default; // non-PIE: both spaces coincide
    // The bias that maps the ELF entry point `link_entry` onto the process's `runtime_entry`.
    static constexpr LoadBias between(LinkAddr link_entry, Addr runtime_entry) {
        return LoadBias(runtime_entry.value() - link_entry.value());
    }

    [[nodiscard]] constexpr Addr runtime(LinkAddr a) const { return Addr(a.value() + delta_); }
    [[nodiscard]] constexpr LinkAddr link(Addr a) const { return LinkAddr(a.value() - delta_); }
    [[nodiscard]] constexpr bool is_zero() const { return delta_ == 0; }

private:
    constexpr explicit LoadBias(uint64_t delta) : delta_(delta) {}
    uint64_t delta_ = 0;
};

} // namespace deftrace
