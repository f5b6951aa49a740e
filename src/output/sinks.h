// Where events go: a readable per-goroutine text stream, and the JSON trace document.
#pragma once

#include "output/normalize.h"
#include "output/output_stream.h"
#include "output/trace_visitor.h"
#include "trace/event.h"

#include <optional>
#include <string>
#include <vector>

namespace deftrace {

// One line per event, prefixed by the goroutine, indented by the panics in progress; the lines
// that continue an event (pending defers, a panic's stack, the leak report) below it, indented.
// With `timestamps` (--timestamps), each event's first line starts with the local time it was
// observed and the thread: "22:51:07.123456 [12345] [g1] panic ..." (no "[tid]" for what was
// made at no stop: the exit, the reports at the end). Every string that came from the program is
// escaped for the terminal (text_safety.h).
class TextSink : public EventSink {
public:
    TextSink(OutputStream &out, bool color, bool timestamps = false)
        : out_(out), color_(color), timestamps_(timestamps) {}
    void emit(const Event &e) override;
    void finish() override;
    static std::string format(const Event &e, bool color, bool timestamps = false);
    // The most frames of a panic's stack the text trace lists ("... N more frames" after them).
    static constexpr size_t kStackLines = 8;

private:
    OutputStream &out_;
    bool color_;
    bool timestamps_;
};

// The trace as one JSON document (schema deftrace.trace/1). Written as the events come, when
// given a stream: the header members, then "events" with one event a line, then what is known
// only at the end ("validation", "leaks", "probe_notes", "exit"); nothing is held back, so the
// memory used does not grow with the trace. With `normalize`, the events also go through a
// Normalizer (normalize.h: spilled to a temporary file) for --normalize and --expect.
class JsonSink : public EventSink {
public:
    JsonSink(nlohmann::ordered_json header, OutputStream *stream, bool normalize);
    void emit(const Event &e) override;
    void finish() override;
    // Once the program has ended, with `normalize`: the normalized trace, written to a stream.
    void write_normalized(OutputStream &out) const;
    // For diff_traces (trace_diff.h): the events, and the members other than the events.
    [[nodiscard]] const Normalizer &normalizer() const { return *normalizer_; }
    [[nodiscard]] nlohmann::ordered_json members() const;
    // A member the trace ends with besides those its events make ("summary", -c), before finish().
    void add_closing(const std::string &key, nlohmann::ordered_json value);

private:
    nlohmann::ordered_json header_;
    nlohmann::ordered_json trailer_ = nlohmann::ordered_json::object();
    OutputStream *stream_;
    std::unique_ptr<Normalizer> normalizer_;
    bool first_event_ = true;
};

// The trace as JSON Lines: the header (with "format": "jsonl") on the first line, one event a
// line, each line flushed as it is written, and a closing {"end": {...}} line with what the
// JSON document has after its events. A trace cut short by a kill is still readable up to its
// last line (trace_file.h reads both forms).
class JsonLinesSink : public EventSink {
public:
    JsonLinesSink(nlohmann::ordered_json header, OutputStream &stream);
    void emit(const Event &e) override;
    void finish() override;
    // As JsonSink::add_closing: in the closing "end" line.
    void add_closing(const std::string &key, nlohmann::ordered_json value);

private:
    void line(const nlohmann::ordered_json &j);
    OutputStream &stream_;
    nlohmann::ordered_json trailer_ = nlohmann::ordered_json::object();
};

// The trace as its JSON form has it, handed to a TraceVisitor while the program runs: the views
// made while tracing (--timeline, --report) read exactly what they read from a saved trace.
class VisitorSink : public EventSink {
public:
    VisitorSink(nlohmann::ordered_json header, TraceVisitor &visitor);
    void emit(const Event &e) override;
    // Ends the visit: every member, the header's and the closing ones.
    void finish() override;

private:
    nlohmann::ordered_json header_;
    nlohmann::ordered_json trailer_ = nlohmann::ordered_json::object();
    TraceVisitor &visitor_;
};

// Sends every event to several sinks.
class TeeSink : public EventSink {
public:
    void add(EventSink *s) { sinks_.push_back(s); }
    void emit(const Event &e) override {
        for (auto *s : sinks_)
            s->emit(e);
    }
    void finish() override {
        for (auto *s : sinks_)
            s->finish();
    }

private:
    std::vector<EventSink *> sinks_;
};

} // namespace deftrace
