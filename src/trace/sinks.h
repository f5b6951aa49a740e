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

// The whole trace as one JSON document (schema deftrace.trace/1), written by finish().
class JsonSink : public EventSink {
public:
    JsonSink(std::string path, nlohmann::ordered_json header) : path_(std::move(path)), header_(std::move(header)) {}
    void emit(const Event &e) override { events_.push_back(e.to_json()); }
    void finish() override;

private:
    std::string path_;
    nlohmann::ordered_json header_;
    std::vector<nlohmann::ordered_json> events_;
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
