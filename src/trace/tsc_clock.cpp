#include "trace/tsc_clock.h"

#include <ctime>
#include <x86intrin.h>

namespace deftrace {

namespace {

int64_t now_ns(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

} // namespace

TscClock::TscClock() {
    const int64_t mono0 = now_ns(CLOCK_MONOTONIC);
    tsc0_ = __rdtsc();
    ns0_ = now_ns(CLOCK_REALTIME);
    int64_t mono = mono0;
    while ((mono = now_ns(CLOCK_MONOTONIC)) - mono0 < 1'000'000) {
    }
    const uint64_t tsc = __rdtsc();
    per_ns_ = static_cast<double>(tsc - tsc0_) / static_cast<double>(mono - mono0);
    refined_at_ = tsc;
}

// The rate again over the whole time since the start, once in a while: its error shrinks as the
// span grows (the first millisecond's is a part in a thousand or so).
void TscClock::refine() {
    const uint64_t tsc = __rdtsc();
    if (static_cast<double>(tsc - refined_at_) < per_ns_ * 1e8) // 100 ms
        return;
    const int64_t ns = now_ns(CLOCK_REALTIME);
    if (ns > ns0_ + 100'000'000)
        per_ns_ = static_cast<double>(tsc - tsc0_) / static_cast<double>(ns - ns0_);
    refined_at_ = tsc;
}

int64_t TscClock::wall_us(uint64_t tsc) {
    refine();
    const double ns = static_cast<double>(static_cast<int64_t>(tsc - tsc0_)) / per_ns_;
    return (ns0_ + static_cast<int64_t>(ns)) / 1000;
}

} // namespace deftrace
