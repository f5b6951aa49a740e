// One way to read a trace event by event, whoever reads it (the normalizer, the timeline, the
// summary, the report) and wherever it comes from: a saved file (trace_file.h) or the tracer
// while the program runs (VisitorSink, sinks.h). Either way the reader sees the trace as its JSON
// form has it: the members before the events, each event in order, then the members known only at
// the end (validation, leaks, probe_notes, exit). Nothing has to hold the whole trace.
#pragma once

#include <nlohmann/json.hpp>

namespace deftrace {

class TraceVisitor {
public:
    virtual ~TraceVisitor() = default;
    // Once, before the first event: the members before the events ("schema", "paths", "program",
    // "mode", ...).
    virtual void begin(const nlohmann::ordered_json &header) = 0;
    // Each event, in the trace's order (taken: its values may move on).
    virtual void event(nlohmann::ordered_json e) = 0;
    // Once, at the end: every member of the trace but "events". A trace cut short (a killed
    // tracer's JSON Lines) has only what it had when it stopped.
    virtual void end(const nlohmann::ordered_json &members) = 0;
};

} // namespace deftrace
