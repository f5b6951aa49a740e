#include "trace/event.h"

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
    case EventKind::Acquire: return "acquire";
    case EventKind::Release: return "release";
    case EventKind::Leaks: return "leaks";
    case EventKind::Exit: return "exit";
    case EventKind::Divergence: return "divergence";
    case EventKind::Validation: return "validation";
    }
    return "?";
}

nlohmann::ordered_json Event::to_json() const {
    nlohmann::ordered_json j;
    j["seq"] = seq;
    j["goroutine"] = goroutine;
    j["kind"] = to_string(kind);
    if (!site.function.empty())
        j["site"] = site.to_json();
    const nlohmann::ordered_json members = deftrace::to_json(payload);
    for (auto it = members.begin(); it != members.end(); ++it)
        j[it.key()] = it.value();
    return j;
}

} // namespace deftrace
