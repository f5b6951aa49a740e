#include "output/text_safety.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace deftrace {

namespace {

struct Decoded {
    uint32_t code = 0;
    size_t length = 0; // 0: the byte at the start is not the start of a valid sequence
};

// One UTF-8 sequence at the start of `s`, by the well-formed byte ranges of Unicode's table 3-7
// (no overlong forms, no surrogates, nothing above U+10FFFF).
Decoded decode(std::string_view s) {
    const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
    const uint8_t c = b(0);
    if (c < 0x80)
        return {c, 1};
    size_t n = 0;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return {};
    }
    if (s.size() < n || b(1) < lo || b(1) > hi)
        return {};
    uint32_t code = c & (0xff >> (n + 1));
    for (size_t i = 1; i < n; ++i) {
        if (i > 1 && (b(i) < 0x80 || b(i) > 0xbf))
            return {};
        code = (code << 6) | (b(i) & 0x3f);
    }
    return {code, n};
}

// Characters a terminal acts on, or that change how the rest of a line is shown.
bool needs_escape(uint32_t c) {
    return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) // C0, DEL, C1 (U+009B is CSI)
           || c == 0x061c || c == 0x200e || c == 0x200f      // bidi marks
           || (c >= 0x202a && c <= 0x202e)                   // bidi embeddings and overrides
           || (c >= 0x2066 && c <= 0x2069)                   // bidi isolates
           || c == 0x2028 || c == 0x2029;                    // line and paragraph separators
}

const char kHex[] = "0123456789abcdef";

void append_hex_byte(std::string &out, uint8_t b) {
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
}

} // namespace

bool is_valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const Decoded d = decode(s.substr(i));
        if (d.length == 0)
            return false;
        i += d.length;
    }
    return true;
}

std::string replace_invalid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const Decoded d = decode(s.substr(i));
        if (d.length == 0) {
            out += "\xef\xbf\xbd"; // U+FFFD
            ++i;
        } else {
            out.append(s.substr(i, d.length));
            i += d.length;
        }
    }
    return out;
}

std::string to_hex(std::string_view s) {
    std::string out;
    out.reserve(s.size() * 2);
    for (char ch : s) {
        const auto b = static_cast<uint8_t>(ch);
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

std::string terminal_safe(std::string_view s, bool escape_backslash) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const Decoded d = decode(s.substr(i));
        if (d.length == 0) {
            append_hex_byte(out, static_cast<uint8_t>(s[i]));
            ++i;
            continue;
        }
        if (d.code == '\\' && escape_backslash) {
            out += "\\\\";
        } else if (!needs_escape(d.code)) {
            out.append(s.substr(i, d.length));
        } else if (d.code == '\n') {
            out += "\\n";
        } else if (d.code == '\t') {
            out += "\\t";
        } else if (d.code == '\r') {
            out += "\\r";
        } else if (d.code < 0x80) {
            append_hex_byte(out, static_cast<uint8_t>(d.code));
        } else {
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4)
                out += kHex[(d.code >> shift) & 15];
        }
        i += d.length;
    }
    return out;
}

void make_json_safe(nlohmann::ordered_json &j) {
    if (j.is_string()) {
        const auto &s = j.get_ref<const std::string &>();
        if (!is_valid_utf8(s))
            j = replace_invalid_utf8(s);
        return;
    }
    if (j.is_array()) {
        for (auto &v : j)
            make_json_safe(v);
        return;
    }
    if (!j.is_object())
        return;
    // Keys first (rare: only ever our own), then values, adding "<key>_hex" after an invalid one:
    // a string's hex, or for an array of strings (a command line) the hex of each, in order.
    auto invalid = [](const nlohmann::ordered_json &v) {
        return v.is_string() && !is_valid_utf8(v.get_ref<const std::string &>());
    };
    auto invalid_array = [&](const nlohmann::ordered_json &v) {
        return v.is_array() && std::any_of(v.begin(), v.end(), invalid);
    };
    bool rebuild = false;
    for (auto it = j.begin(); it != j.end() && !rebuild; ++it)
        rebuild = !is_valid_utf8(it.key()) || invalid(it.value()) || invalid_array(it.value());
    if (!rebuild) {
        for (auto &[k, v] : j.items())
            make_json_safe(v);
        return;
    }
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string key = replace_invalid_utf8(it.key());
        nlohmann::ordered_json v = it.value();
        if (v.is_string() && !is_valid_utf8(v.get_ref<const std::string &>())) {
            const std::string raw = v.get<std::string>();
            out[key] = replace_invalid_utf8(raw);
            out[key + "_hex"] = to_hex(raw);
            continue;
        }
        if (invalid_array(v)) {
            nlohmann::ordered_json hex = nlohmann::ordered_json::array();
            for (const auto &e : v)
                hex.push_back(e.is_string() ? nlohmann::ordered_json(to_hex(e.get_ref<const std::string &>()))
                                            : nullptr);
            make_json_safe(v);
            out[key] = std::move(v);
            out[key + "_hex"] = std::move(hex);
            continue;
        }
        make_json_safe(v);
        out[key] = std::move(v);
    }
    j = std::move(out);
}

} // namespace deftrace
