// The clock of the views made from a trace (timeline, report): microseconds from the trace's
// first timed event, never going back (an event made at no stop has no time, and a wall clock can
// be set back: such an event is placed at the time of the one before it). A trace without times
// (a normalized one) is laid out one microsecond per event, in its order.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace deftrace {

class ViewClock {
public:
    // The time of the next event of the trace.
    int64_t at(const nlohmann::ordered_json &e);
    // A wall-clock time (µs since the epoch) of the same trace on this clock (not before 0).
    [[nodiscard]] int64_t of_wall_clock(int64_t time_us) const;
    [[nodiscard]] bool timed() const { return timed_; }
    [[nodiscard]] int64_t now() const { return last_; }
    [[nodiscard]] int64_t origin_us() const { return origin_; } // the first event's wall clock

private:
    bool timed_ = false;
    int64_t origin_ = 0, last_ = 0, events_ = 0;
};

} // namespace deftrace
