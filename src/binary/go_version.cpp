#include "binary/go_version.h"

#include <cctype>

namespace deftrace {

namespace {

bool parse_int(std::string_view &s, int *out) {
    size_t i = 0;
    int v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i < 6)
        v = v * 10 + (s[i++] - '0');
    if (i == 0)
        return false;
    *out = v;
    s.remove_prefix(i);
    return true;
}

} // namespace

std::optional<GoVersion> GoVersion::parse(std::string_view s) {
    GoVersion v;
    if (auto sp = s.find(' '); sp != std::string_view::npos)
        s = s.substr(0, sp);
    v.text = std::string(s);
    if (!s.starts_with("go"))
        return std::nullopt;
    s.remove_prefix(2);
    if (!parse_int(s, &v.major) || s.empty() || s[0] != '.')
        return std::nullopt;
    s.remove_prefix(1);
    if (!parse_int(s, &v.minor))
        return std::nullopt;
    if (!s.empty() && s[0] == '.') {
        s.remove_prefix(1);
        if (!parse_int(s, &v.patch))
            return std::nullopt;
    }
    // Anything left is a pre-release tag ("rc1", "beta2"); the minor is what matters.
    return v;
}

std::string GoVersion::minor_string() const {
    return std::to_string(major) + "." + std::to_string(minor);
}

} // namespace deftrace
