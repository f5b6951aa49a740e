// Reading a saved trace (deftrace --json or --jsonl) for `--expect` and `deftrace diff`.
//
// A trace file is input from anywhere (a CI artefact, a hand-edited expectation), so it is
// checked before anything uses it: nesting depth before parsing (the JSON parser recurses), the
// deftrace schema, and the type of every member the normalizer and the diff read. What fails
// is one Error(Usage) naming the file and the first thing wrong.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace deftrace {

// The schema a trace names in its "schema" member (JSON) or its first line (JSON Lines).
inline constexpr std::string_view kTraceSchema = "deftrace.trace/1";

// Deeper nesting than this is refused before parsing; a real trace nests about six levels.
inline constexpr size_t kMaxTraceDepth = 64;

// Parses a trace in either form into one document (the JSON Lines form is reassembled: the
// header line, the events, then the members of its closing {"end": {...}} line). `name` is
// used in error messages.
nlohmann::ordered_json parse_trace(std::string_view text, const std::string &name);

// Reads and parses a trace file (see read_input_file for the file checks).
nlohmann::ordered_json read_trace_file(const std::string &path);

// Throws Error(Usage) unless `trace` has the shape of a deftrace trace (see above).
void check_trace_shape(const nlohmann::ordered_json &trace, const std::string &name);

} // namespace deftrace
