// Reading a saved trace (deftrace --json or --jsonl): for `--expect`, `deftrace diff`, and the
// views made from a saved trace (timeline, report, summary).
//
// A trace file is input from anywhere (a CI artefact, a hand-edited expectation), so it is
// checked as it is read: nesting depth (refused past kMaxTraceDepth), the deftrace schema, and
// the type of every member the normalizer and the diff read. What fails is one Error(Usage)
// naming the file and the first thing wrong.
//
// A trace can be far larger than memory would like (a million events is a few hundred MB of
// JSON, and several GB parsed). It is read as a stream: each event is checked and handed to a
// Normalizer (normalize.h) the moment it is parsed, and only the other members are kept.
#pragma once

#include "output/normalize.h"
#include "output/trace_visitor.h"

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace deftrace {

// The schema a trace names in its "schema" member (JSON) or its first line (JSON Lines).
inline constexpr std::string_view kTraceSchema = "deftrace.trace/1";

// Deeper nesting than this is refused; a real trace nests about six levels.
inline constexpr size_t kMaxTraceDepth = 64;

struct LoadedTrace {
    std::unique_ptr<Normalizer> events; // normalized, ready for reading back
    nlohmann::ordered_json members;     // every member but "events"
    // A JSON Lines trace whose writer stopped in the middle of a line (a full disk, a kill
    // between two writes): what was left out, for the reader to say ("line 1099 ends in the
    // middle (the writer stopped there): read up to line 1098"). Empty otherwise.
    std::string cut;
};

// What reading a trace through a TraceVisitor leaves: the members (every one but "events"), and
// where a cut-short JSON Lines trace stopped (as LoadedTrace::cut).
struct TraceRead {
    nlohmann::ordered_json members;
    std::string cut;
};

// Reads a trace in either form, checked as load_trace checks it, handing it to `visitor` as it
// is read.
TraceRead read_trace(std::string_view text, const std::string &name, TraceVisitor &visitor);
TraceRead read_trace_file(const std::string &path, TraceVisitor &visitor);

// Reads a trace in either form: a JSON document, or JSON Lines (a header line with
// "format": "jsonl", one event a line, a closing {"end": {...}} line; a trace cut short before
// its end line is read up to its last complete line, see LoadedTrace::cut). `name` is used in
// error messages.
LoadedTrace load_trace(std::string_view text, const std::string &name);
// The same from a file, never holding the file (see read_input_file for the file checks).
LoadedTrace load_trace_file(const std::string &path);

} // namespace deftrace
