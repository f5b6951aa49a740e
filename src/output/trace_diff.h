// Comparing two traces the way CI needs: both normalized (normalize.h), goroutine by goroutine,
// with a report a person can act on — which goroutine, which event, expected against actual.
#pragma once

#include "output/normalize.h"

#include <nlohmann/json.hpp>
#include <string>

namespace deftrace {

struct TraceDiff {
    bool same = true;
    std::string report; // empty when same; otherwise lines ending in '\n'
};

// Compares the events, the mode and the exit of two normalized traces, and the number of
// divergences from the runtime model when the expected one has a "validation". Each trace is
// its Normalizer and its members other than the events (trace_file.h); events are read back one
// goroutine at a time, so traces of any size compare in little memory.
TraceDiff diff_traces(const Normalizer &expected, const nlohmann::ordered_json &expected_members,
                      const Normalizer &actual, const nlohmann::ordered_json &actual_members);

// The same for two documents in memory (raw or normalized).
TraceDiff diff_traces(const nlohmann::ordered_json &expected, const nlohmann::ordered_json &actual);

// One line for a normalized event: "defer_call main.go:40 main.f  fn=main.g cause=panic".
std::string describe_event(const nlohmann::ordered_json &event);

} // namespace deftrace
