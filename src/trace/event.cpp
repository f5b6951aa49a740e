#include "trace/event.h"

#include <cstdio>
#include <ctime>
#include <utility>

namespace deftrace {

const char *to_string(EventKind k) {
    switch (k) {
    case EventKind::Defer: return "defer";
    case EventKind::DeferCall: return "defer_call";
    case EventKind::Panic: return "panic";
    case EventKind::Repanic: return "repanic";
    case EventKind::Aborted: return "aborted";
    case EventKind::Recover: return "recover";
    case EventKind::Recovery: return "recovery";
    case EventKind::Goexit: return "goexit";
    case EventKind::Fatal: return "fatal";
    case EventKind::NeverRun: return "never_run";
    case EventKind::Exec: return "exec";
    case EventKind::Child: return "child";
    case EventKind::Acquire: return "acquire";
    case EventKind::Release: return "release";
    case EventKind::Leaks: return "leaks";
    case EventKind::LeakReport: return "leak_report";
    case EventKind::Exit: return "exit";
    case EventKind::Divergence: return "divergence";
    case EventKind::Validation: return "validation";
    }
    return "?";
}

int64_t wall_clock_us() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

namespace {

// Seconds and microseconds, the microseconds in [0, 1000000) also before the epoch.
std::pair<time_t, int> split_us(int64_t time_us) {
    int64_t seconds = time_us / 1000000, micros = time_us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        --seconds;
    }
    return {static_cast<time_t>(seconds), static_cast<int>(micros)};
}

} // namespace

std::string utc_time_text(int64_t time_us) {
    const auto [seconds, micros] = split_us(time_us);
    tm t{};
    gmtime_r(&seconds, &t);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                  t.tm_hour, t.tm_min, t.tm_sec, micros);
    return text;
}

std::string local_time_text(int64_t time_us) {
    const auto [seconds, micros] = split_us(time_us);
    tm t{};
    localtime_r(&seconds, &t);
    char text[32];
    std::snprintf(text, sizeof text, "%02d:%02d:%02d.%06d", t.tm_hour, t.tm_min, t.tm_sec, micros);
    return text;
}

nlohmann::ordered_json Event::to_json() const {
    nlohmann::ordered_json j;
    j["seq"] = seq;
    if (pid != 0)
        j["pid"] = pid;
    j["goroutine"] = goroutine;
    if (time_us != 0)
        j["time"] = utc_time_text(time_us);
    if (tid != 0)
        j["tid"] = tid;
    j["kind"] = to_string(kind);
    if (!site.function.empty())
        j["site"] = site.to_json();
    const nlohmann::ordered_json members = deftrace::to_json(payload);
    for (auto it = members.begin(); it != members.end(); ++it)
        j[it.key()] = it.value();
    return j;
}

} // namespace deftrace
