// JSON from files a user names (traces, probe files, layout tables), parsed safely.
//
// nlohmann::json's parser recurses once per nesting level: a file of 100,000 '[' would exhaust
// the stack. The depth is measured first, without recursion, and deeper input refused.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace deftrace {

// The deepest nesting of arrays and objects in `text` (brackets inside strings do not count);
// counting stops once past `limit`.
size_t json_nesting_depth(std::string_view text, size_t limit);

// `text` parsed, or nullopt when it is not JSON (including invalid UTF-8 in a string) or nests
// deeper than `max_depth`.
std::optional<nlohmann::ordered_json> parse_json_input(std::string_view text, size_t max_depth);

} // namespace deftrace
