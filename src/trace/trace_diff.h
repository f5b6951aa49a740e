// Comparing two traces the way CI needs: both normalized (normalize.h), goroutine by goroutine,
// with a report a person can act on — which goroutine, which event, expected against actual.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace deftrace {

struct TraceDiff {
    bool same = true;
    std::string report; // empty when same; otherwise lines ending in '\n'
};

// Compares the events, the mode and the exit of `expected` and `actual` (raw or normalized), and
// the number of divergences from the runtime model when `expected` has a "validation".
TraceDiff diff_traces(const nlohmann::ordered_json &expected, const nlohmann::ordered_json &actual);

// One line for a normalized event: "defer_call main.go:40 main.f  fn=main.g cause=panic".
std::string describe_event(const nlohmann::ordered_json &event);

} // namespace deftrace
