// The wall-clock time of a time-stamp counter value, for events recorded in the program without a
// stop (arch/record_stub.h stamps each record with rdtsc). x86-64 Linux machines with an
// invariant TSC (constant_tsc, nonstop_tsc) give every core the same counter at the same rate, so
// one (counter, time) pair and the rate convert any record's stamp.
#pragma once

#include <cstdint>

namespace deftrace {

class TscClock {
public:
    // Measures the counter's rate for about a millisecond.
    TscClock();
    // The wall-clock time in microseconds when the counter read `tsc`.
    [[nodiscard]] int64_t wall_us(uint64_t tsc);

private:
    void refine();
    uint64_t tsc0_ = 0;
    int64_t ns0_ = 0;     // CLOCK_REALTIME at tsc0_
    double per_ns_ = 1.0; // counter ticks per nanosecond
    uint64_t refined_at_ = 0;
};

} // namespace deftrace
