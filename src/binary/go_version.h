// A Go release version such as "go1.22.12".
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace deftrace {

struct GoVersion {
    int major = 0;
    int minor = 0;
    int patch = 0;
    std::string text; // as found, e.g. "go1.22.12" or "go1.23rc1"

    // Parses "go1.N", "go1.N.P", "go1.NrcK", "go1.NbetaK" and a trailing " X:..." experiment list.
    static std::optional<GoVersion> parse(std::string_view s);

    // Compares (major, minor) only: the runtime's defer/panic machinery changes per minor release.
    [[nodiscard]] bool at_least(int maj, int min) const { return major > maj || (major == maj && minor >= min); }
    [[nodiscard]] std::string minor_string() const; // "1.22"
};

} // namespace deftrace
