// What the views of a trace (timeline, summary, report) say about an event, read from its JSON
// form: short labels ("recover() = nil (no panic)"), and the members shown beside them with every
// long string cut short, so that a panic value of hundreds of megabytes does not become a
// timeline of hundreds of megabytes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace deftrace {

// A member's string, "" when absent or not a string; an integer, 0 likewise.
std::string str_of(const nlohmann::ordered_json &o, const char *key);
int64_t int_of(const nlohmann::ordered_json &o, const char *key);

// At most `max` bytes of `s`, cut at a UTF-8 character boundary, "…" added when cut.
std::string clipped(const std::string &s, size_t max);

// A panic's (or a recovered) value as one short line: its text, or its type when the trace has no
// text ("<nil>" for a nil value).
std::string value_label(const nlohmann::ordered_json &e);
// An event in a few words: "defer main.unlock (open-coded)", "call main.f (panic)".
std::string event_label(const nlohmann::ordered_json &e);
// A command line: the arguments joined by spaces.
std::string argv_text(const nlohmann::ordered_json &argv);

// An event (or any member) with each string longer than 4 KiB cut short (clipped), and the
// marker members a view has no use for (seq) left out.
nlohmann::ordered_json view_args(const nlohmann::ordered_json &e);
// Compact JSON, invalid UTF-8 replaced.
std::string view_dump(const nlohmann::ordered_json &j);

} // namespace deftrace
