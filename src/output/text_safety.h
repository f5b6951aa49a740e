// Strings read from the traced program (panic values, error texts, function names) are bytes,
// not text: Go strings need not be UTF-8, and a function name can hold any character. Before
// they reach an output they are made safe for it:
//   - JSON (which must be UTF-8): each byte that does not start a valid UTF-8 sequence becomes
//     U+FFFD, and the object holding the string gets a member "<name>_hex" with the raw bytes
//     in hexadecimal, so nothing is lost;
//   - a terminal (the text trace): control characters (C0, DEL, C1), bidirectional overrides and
//     isolates, line and paragraph separators are written as escapes (\n, \x1b, \u202e) and
//     invalid bytes as \xNN, so that no value can move the cursor, recolour the screen, reorder
//     what is shown or start a new line that looks like an event.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace deftrace {

[[nodiscard]] bool is_valid_utf8(std::string_view s);

// `s` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
[[nodiscard]] std::string replace_invalid_utf8(std::string_view s);

// Lower-case hexadecimal, two digits a byte.
[[nodiscard]] std::string to_hex(std::string_view s);

// `s` with what a terminal would act on written as escapes (see above); with escape_backslash,
// backslashes doubled too, as Go's %q does (for values shown in quotes).
[[nodiscard]] std::string terminal_safe(std::string_view s, bool escape_backslash = false);

// Makes every string in `j` valid UTF-8 as described above, recursively; object keys too.
void make_json_safe(nlohmann::ordered_json &j);

} // namespace deftrace
