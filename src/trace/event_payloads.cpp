#include "trace/event_payloads.h"

#include "trace/event.h"

namespace deftrace {

using json = nlohmann::ordered_json;

const char *to_string(DeferForm f) {
    switch (f) {
    case DeferForm::Heap: return "heap";
    case DeferForm::Stack: return "stack";
    case DeferForm::OpenCoded: return "open-coded";
    case DeferForm::Rangefunc: return "rangefunc";
    }
    return "?";
}

void DeferTarget::put(json &j) const {
    j["fn"] = fn;
    if (!wrapper.empty())
        j["wrapper"] = wrapper;
}

void PanicValue::put(json &j) const {
    j["type"] = type;
    j["value"] = value ? json(*value) : json(nullptr);
    if (error)
        j["error"] = true;
}

json PanicValue::to_json() const {
    json j = json::object();
    put(j);
    return j;
}

namespace {

json pending_json(const std::vector<PendingDeferEntry> &pending) {
    json out = json::array();
    for (const auto &d : pending)
        out.push_back(d.to_json());
    return out;
}

} // namespace

json PendingDeferEntry::to_json() const {
    json j;
    j["defer_kind"] = to_string(form);
    fn.put(j);
    j["function"] = function;
    if (bit)
        j["bit"] = *bit;
    return j;
}

json ChainedPanic::to_json() const {
    json j = value.to_json();
    j["recovered"] = recovered;
    if (goexit)
        j["goexit"] = true;
    if (repanicked)
        j["repanicked"] = true;
    if (printed)
        j["printed"] = *printed;
    return j;
}

json DeferPayload::to_json() const {
    json j;
    j["defer_kind"] = to_string(form);
    fn.put(j);
    if (bit)
        j["bit"] = *bit;
    if (args)
        j["args"] = *args;
    return j;
}

json CallPayload::to_json() const {
    json j;
    fn.put(j);
    if (form)
        j["defer_kind"] = to_string(*form);
    if (bit)
        j["bit"] = *bit;
    j["cause"] = cause;
    return j;
}

json PanicPayload::to_json() const {
    json j = value.to_json();
    json frames = json::array();
    for (const Site &s : stack)
        frames.push_back(s.to_json());
    j["stack"] = std::move(frames);
    if (stack_truncated)
        j["stack_truncated"] = true;
    if (pending)
        j["pending"] = pending_json(*pending);
    return j;
}

json AbortedPayload::to_json() const {
    json j = value.to_json();
    j["by"] = by.to_json();
    j["resume"] = resume;
    return j;
}

json RecoverPayload::to_json() const {
    json j;
    j["recovered"] = recovered;
    if (recovered) {
        j["value"] = value.value ? json(*value.value) : json(nullptr);
        j["type"] = value.type;
    } else {
        j["reason"] = reason;
    }
    return j;
}

json RecoveryPayload::to_json() const {
    json j = json::object();
    if (resume)
        j["resume"] = *resume;
    if (panics_ended)
        j["panics_ended"] = *panics_ended;
    return j;
}

json FatalPayload::to_json() const {
    json j;
    json chain = json::array();
    for (const auto &p : panics)
        chain.push_back(p.to_json());
    j["panics"] = std::move(chain);
    if (error && !error_while_printing)
        j["error"] = *error;
    j["pending"] = pending_json(pending);
    if (pending_truncated)
        j["pending_truncated"] = true;
    if (error && error_while_printing)
        j["error"] = *error;
    return j;
}

json NeverRunPayload::to_json() const {
    json j;
    j["cause"] = cause;
    j["status"] = status;
    j["pending"] = pending_json(pending);
    if (pending_truncated)
        j["pending_truncated"] = true;
    return j;
}

json ExecPayload::to_json() const {
    json j;
    j["program"] = program;
    j["traced"] = traced;
    if (!traced || !note.empty())
        j["note"] = note;
    return j;
}

json ChildPayload::to_json() const {
    json j;
    j["child_pid"] = child_pid;
    j["program"] = program;
    j["argv"] = argv;
    j["traced"] = traced;
    if (!traced || !note.empty())
        j["note"] = note;
    return j;
}

json ResourcePayload::to_json() const {
    json j;
    j["resource"] = resource;
    j["handle"] = handle;
    return j;
}

json live_leak_json(const LeakTracker::Leak &l, int64_t now_us) {
    json j = LeakTracker::to_json(l, now_us);
    j["acquired_time"] = utc_time_text(l.acquired_us);
    return j;
}

json LeaksPayload::leaks_json() const {
    json list = json::array();
    for (const auto &l : leaks)
        list.push_back(detached_at_us ? live_leak_json(l, *detached_at_us) : LeakTracker::to_json(l));
    return list;
}

json LeakReportPayload::to_json() const {
    json j;
    j["trigger"] = trigger == Trigger::Signal ? "SIGUSR1" : "leak-age";
    if (trigger == Trigger::Age)
        j["leak_age_s"] = age_limit_s;
    if (!probing)
        j["probing"] = false;
    json list = json::array();
    for (const auto &l : leaks)
        list.push_back(live_leak_json(l, now_us));
    j["leaks"] = std::move(list);
    return j;
}

json LeaksPayload::to_json() const {
    json j;
    j["leaks"] = leaks_json();
    if (!probe_notes.empty())
        j["probe_notes"] = probe_notes;
    return j;
}

json ExitPayload::to_json() const {
    json j;
    if (detached) {
        j["detached"] = true;
    } else if (signal) {
        j["signal"] = *signal;
        j["signal_name"] = signal_name;
    } else {
        j["status"] = status;
    }
    return j;
}

json DivergencePayload::to_json() const {
    json j;
    j["rule"] = rule;
    j["expected"] = expected;
    j["observed"] = observed;
    return j;
}

json ValidationPayload::to_json() const {
    json j;
    j["observations"] = observations;
    j["divergences"] = divergences;
    j["model"] = model;
    return j;
}

json to_json(const EventPayload &p) {
    return std::visit(
        [](const auto &payload) -> json {
            if constexpr (std::is_same_v<std::decay_t<decltype(payload)>, std::monostate>)
                return json::object();
            else
                return payload.to_json();
        },
        p);
}

} // namespace deftrace
