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

std::optional<int64_t> parse_utc_time(std::string_view text) {
    // Exactly the form utc_time_text writes: 27 characters, the fraction 6 digits.
    if (text.size() != 27 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
        text[16] != ':' || text[19] != '.' || text[26] != 'Z')
        return std::nullopt;
    auto number = [&](size_t at, size_t len) -> std::optional<int> {
        int v = 0;
        for (size_t i = at; i < at + len; ++i) {
            if (text[i] < '0' || text[i] > '9')
                return std::nullopt;
            v = v * 10 + (text[i] - '0');
        }
        return v;
    };
    const auto year = number(0, 4), month = number(5, 2), day = number(8, 2), hour = number(11, 2),
               minute = number(14, 2), second = number(17, 2), micros = number(20, 6);
    if (!year || !month || !day || !hour || !minute || !second || !micros || *month < 1 || *month > 12 || *day < 1 ||
        *day > 31 || *hour > 23 || *minute > 59 || *second > 60)
        return std::nullopt;
    tm t{};
    t.tm_year = *year - 1900;
    t.tm_mon = *month - 1;
    t.tm_mday = *day;
    t.tm_hour = *hour;
    t.tm_min = *minute;
    t.tm_sec = *second;
    return static_cast<int64_t>(timegm(&t)) * 1000000 + *micros;
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
    if (!go_start.empty())
        j["go_start"] = go_start;
    const nlohmann::ordered_json members = deftrace::to_json(payload);
    for (auto it = members.begin(); it != members.end(); ++it)
        j[it.key()] = it.value();
    return j;
}

} // namespace deftrace
