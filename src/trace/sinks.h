// Where events go: a readable per-goroutine text stream, and the JSON trace document.
#pragma once

#include "trace/event.h"

#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace deftrace {

// One line per event, prefixed by the goroutine, indented by the panics in progress.
class TextSink : public EventSink {
public:
    TextSink(FILE *out, bool color) : out_(out), color_(color) {}
    void emit(const Event &e) override;
    void finish() override;
    static std::string format(const Event &e, bool color);

private:
    FILE *out_;
    bool color_;
};

// The whole trace as one JSON document (schema deftrace.trace/1), kept in memory.
class JsonSink : public EventSink {
public:
    explicit JsonSink(nlohmann::ordered_json header) : header_(std::move(header)) {}
    void emit(const Event &e) override;
    // The header, the events and, once the program has ended, its exit.
    [[nodiscard]] nlohmann::ordered_json document() const;

private:
    nlohmann::ordered_json header_;
    std::vector<nlohmann::ordered_json> events_;
};

// Writes a JSON document to a file (pretty-printed); throws Error(Io).
void write_json_file(const std::string &path, const nlohmann::ordered_json &doc);

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
