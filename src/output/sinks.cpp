#include "output/sinks.h"

#include "output/text_safety.h"

#include <algorithm>
#include <cstdio>

namespace deftrace {

namespace {

const char *color_of(EventKind k) {
    switch (k) {
    case EventKind::Panic:
    case EventKind::Repanic:
    case EventKind::Fatal: return "\x1b[1;31m";
    case EventKind::Aborted: return "\x1b[31m";
    case EventKind::Recover:
    case EventKind::Recovery: return "\x1b[32m";
    case EventKind::Goexit:
    case EventKind::NeverRun:
    case EventKind::Exec:
    case EventKind::Child:
    case EventKind::Exit: return "\x1b[35m";
    case EventKind::Defer:
    case EventKind::DeferCall: return "\x1b[36m";
    case EventKind::Acquire:
    case EventKind::Release: return "\x1b[33m";
    case EventKind::Leaks:
    case EventKind::LeakReport: return "\x1b[1;33m";
    case EventKind::Divergence: return "\x1b[1;35m";
    case EventKind::Validation: return "\x1b[1m";
    }
    return "";
}

using json = nlohmann::ordered_json;

std::string site_text(const Site &s) {
    return terminal_safe(s.short_form());
}

// A panic or recovered value as Go would quote it: backslashes doubled as well.
std::string value_text(const PanicValue &v) {
    if (!v.value)
        return "(" + terminal_safe(v.type) + ")";
    const std::string text = terminal_safe(*v.value, true);
    if (v.type == "string")
        return "\"" + text + "\"";
    return text + " (" + terminal_safe(v.type) + ")";
}

// A pending list that misses the open-coded defers of frames too deep to walk.
const char *truncated_note(bool truncated) {
    return truncated ? " (stack too deep to walk: open-coded ones further down not listed)" : "";
}

// One line a pending deferred call, below the event's.
std::string pending_lines(const std::vector<PendingDeferEntry> &pending) {
    std::string out;
    for (const auto &d : pending)
        out += "\n            pending " + std::string(to_string(d.form)) + " " + terminal_safe(d.fn.fn) + " in " +
               terminal_safe(d.function);
    return out;
}

// A panic's stack below its line: up to TextSink::kStackLines frames, then how many more.
std::string stack_lines(const PanicPayload &p) {
    std::string out;
    const char *label = "\n            stack: ";
    const char *const next = "\n                   ";
    for (size_t i = 0; i < p.stack.size() && i < TextSink::kStackLines; ++i) {
        out += label + site_text(p.stack[i]);
        label = next;
    }
    const size_t more = p.stack.size() > TextSink::kStackLines ? p.stack.size() - TextSink::kStackLines : 0;
    if (more > 0)
        out += label + std::string("... ") + std::to_string(more) + (more == 1 ? " more frame" : " more frames") +
               (p.stack_truncated ? ", and deeper ones not walked" : "");
    else if (p.stack_truncated)
        out += label + std::string("... deeper frames not walked");
    return out;
}

// How long something has been open, for a person: "4.2 s", "3 min 7 s".
std::string age_text(int64_t us) {
    const double s = static_cast<double>(std::max<int64_t>(us, 0)) / 1e6;
    char buf[48];
    if (s < 60)
        std::snprintf(buf, sizeof buf, "%.1f s", s);
    else if (s < 3600)
        std::snprintf(buf, sizeof buf, "%d min %d s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
    else
        std::snprintf(buf, sizeof buf, "%d h %d min", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
    return buf;
}

// One leak; `now_us` while the program runs: its handle and for how long it has been open.
std::string leak_text(const LeakTracker::Leak &l, std::optional<int64_t> now_us = std::nullopt) {
    std::string out = "\n  " + terminal_safe(l.resource);
    if (now_us) {
        char hex[24];
        std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(l.handle));
        out += std::string(" ") + hex + " (open " + age_text(*now_us - l.acquired_us) + ")";
    }
    out += " on g" + std::to_string(l.goid) + ", ";
    if (l.abandoned_by) {
        const PanicSummary &p = *l.abandoned_by;
        out += "abandoned by panic " + value_text(PanicValue{p.type, p.value, false}) + " at " + site_text(p.site) +
               ", recovered in " + terminal_safe(l.recovered_in);
    } else {
        out += "never released";
    }
    const char *label = "\n      acquired at ";
    for (const auto &s : l.stack) {
        out += label + site_text(s);
        label = "\n                  ";
    }
    return out;
}

std::string resources_count(size_t n) {
    return std::to_string(n) + (n == 1 ? " resource" : " resources");
}

std::string leaks_text(const LeaksPayload &report) {
    const auto &leaks = report.leaks;
    const char *when = report.detached_at_us ? " still open when deftrace detached" : " still open at exit";
    std::string out = leaks.empty() ? "leaks: none (every probed resource acquired was released)"
                                    : "leaks: " + resources_count(leaks.size()) + when;
    for (const auto &l : leaks)
        out += leak_text(l, report.detached_at_us);
    for (const auto &n : report.probe_notes)
        out += "\n  note: " + terminal_safe(n);
    return out;
}

std::string leak_report_text(const LeakReportPayload &r) {
    using Trigger = LeakReportPayload::Trigger;
    std::string out;
    if (r.trigger == Trigger::Age) {
        char limit[32];
        std::snprintf(limit, sizeof limit, "%g", r.age_limit_s);
        out = "leak report: " + resources_count(r.leaks.size()) + " open for " + limit + " s or longer";
    } else if (!r.probing) {
        out = "leak report (SIGUSR1): no resource is probed (--leaks or --probes)";
    } else {
        const auto abandoned = std::count_if(r.leaks.begin(), r.leaks.end(),
                                             [](const LeakTracker::Leak &l) { return l.abandoned_by.has_value(); });
        out = "leak report (SIGUSR1): " + resources_count(r.leaks.size()) + " open";
        if (abandoned > 0)
            out += ", " + std::to_string(abandoned) + " abandoned by a recovered panic";
    }
    for (const auto &l : r.leaks)
        out += leak_text(l, r.now_us);
    return out;
}

// A fatal panic, or a fatal error (runtime.throw / fatal) and the panics it interrupted, if any.
// The pending calls go to `tail`: after the site (a fatal error's), which belongs to the first line.
std::string fatal_text(const Event &e, const FatalPayload &f, std::string &tail) {
    std::string body = f.error ? "fatal error: " + terminal_safe(*f.error) + (f.panics.empty() ? "" : " during panic:")
                               : "unrecovered panic:";
    for (const auto &p : f.panics) {
        body += " " + value_text(p.value);
        if (p.printed && p.printed != p.value.value)
            body += " printed as \"" + terminal_safe(*p.printed) + "\"";
        body += p.recovered ? " [recovered]" : "";
    }
    if (e.goroutine != 0) // a fatal error thrown by no goroutine (a deadlock) has no defers of its own
        body += "; pending defers: " + std::to_string(f.pending.size()) + truncated_note(f.pending_truncated);
    tail = pending_lines(f.pending);
    return body;
}

// The text of an event after its goroutine and indentation, one overload a payload; what goes
// after the site, into `tail`.
struct BodyText {
    const Event &e;
    std::string &tail;

    std::string operator()(std::monostate) const { return e.kind == EventKind::Goexit ? "runtime.Goexit" : ""; }
    std::string operator()(const DeferPayload &d) const {
        std::string s = "defer " + std::string(to_string(d.form)) + " " + terminal_safe(d.fn.fn);
        if (d.args && !d.args->empty())
            s += " (args " + *d.args + ")";
        return s;
    }
    std::string operator()(const CallPayload &c) const {
        return "call  " + terminal_safe(c.fn.fn) + " [" + terminal_safe(c.cause) + "]";
    }
    std::string operator()(const PanicPayload &p) const {
        tail = stack_lines(p);
        if (e.kind == EventKind::Repanic)
            return "repanic " + value_text(p.value) + " (the value it recovered, raised again)";
        return "panic " + value_text(p.value);
    }
    std::string operator()(const AbortedPayload &a) const {
        return "panic " + value_text(a.value) + " aborted: the recovery of " + value_text(a.by) + " resumes in " +
               terminal_safe(a.resume);
    }
    std::string operator()(const RecoverPayload &r) const {
        return r.recovered ? "recover() = " + value_text(r.value) + ": panic stopped"
                           : "recover() = nil (" + terminal_safe(r.reason) + ")";
    }
    std::string operator()(const RecoveryPayload &r) const {
        return "resume in " + terminal_safe(r.resume.value_or(""));
    }
    std::string operator()(const FatalPayload &f) const { return fatal_text(e, f, tail); }
    std::string operator()(const NeverRunPayload &n) const {
        return terminal_safe(n.cause) + ": " + std::to_string(n.pending.size()) + " deferred call" +
               (n.pending.size() == 1 ? "" : "s") + " will never run (goroutine " + terminal_safe(n.status) + ")" +
               truncated_note(n.pending_truncated) + pending_lines(n.pending);
    }
    std::string operator()(const ExecPayload &x) const {
        return "exec " + terminal_safe(x.program) +
               (x.traced ? ": traced from here" : ": no longer traced (" + terminal_safe(x.note) + ")");
    }
    std::string operator()(const ChildPayload &c) const {
        std::string line = "child " + std::to_string(c.child_pid) + " ran";
        for (const auto &arg : c.argv)
            line += " " + terminal_safe(arg);
        if (!c.traced)
            return line + ": not traced (" + terminal_safe(c.note) + ")";
        line += ": traced, its events marked [pid " + std::to_string(c.child_pid) + "]";
        return c.note.empty() ? line : line + " (" + terminal_safe(c.note) + ")";
    }
    std::string operator()(const ResourcePayload &r) const {
        return (e.kind == EventKind::Release ? "release " : "acquire ") + terminal_safe(r.resource) + " " +
               terminal_safe(r.handle);
    }
    std::string operator()(const LeaksPayload &l) const { return leaks_text(l); }
    std::string operator()(const LeakReportPayload &r) const { return leak_report_text(r); }
    std::string operator()(const ExitPayload &x) const {
        if (x.detached)
            return "exit: detached, the program goes on running";
        return x.signal ? "exit: killed by " + terminal_safe(x.signal_name)
                        : "exit: status " + std::to_string(x.status);
    }
    std::string operator()(const DivergencePayload &d) const {
        return "divergence (" + terminal_safe(d.rule) + "): model expected " + terminal_safe(d.expected) +
               ", observed " + terminal_safe(d.observed);
    }
    std::string operator()(const ValidationPayload &v) const {
        return "validation: " + std::to_string(v.observations) + " observations checked against the " +
               terminal_safe(v.model) + " runtime model, " + std::to_string(v.divergences) +
               (v.divergences == 1 ? " divergence" : " divergences");
    }
};

} // namespace

std::string TextSink::format(const Event &e, bool color, bool timestamps) {
    std::string tail;
    const std::string body = std::visit(BodyText{e, tail}, e.payload);
    std::string line;
    if (timestamps) {
        line = local_time_text(e.time_us) + " ";
        if (e.tid != 0)
            line += "[" + std::to_string(e.tid) + "] ";
    }
    if (e.pid != 0)
        line += "[pid " + std::to_string(e.pid) + "] ";
    if (e.goroutine != 0)
        line += "[g" + std::to_string(e.goroutine) + "] ";
    line += std::string(static_cast<size_t>(std::min(e.depth, 8)) * 2, ' ');
    if (color)
        line += color_of(e.kind);
    line += body;
    if (color)
        line += "\x1b[0m";
    if (!e.site.function.empty() && e.kind != EventKind::Recovery)
        line += "  at " + site_text(e.site);
    return line + tail;
}

void TextSink::emit(const Event &e) {
    out_.write(format(e, color_, timestamps_) + "\n");
}

void TextSink::finish() {
    out_.flush();
}

namespace {

// The event as the JSON trace has it, with any invalid UTF-8 made safe.
json event_json(const Event &e) {
    json j = e.to_json();
    make_json_safe(j);
    return j;
}

// What a trace says after its events: the validation summary, the leak report, the exit.
// Returns whether the event was one of these (and is not an event of the story).
bool take_closing(const Event &e, json &trailer) {
    if (e.pid != 0)
        return false; // a child's (-f): an event like any other, with its pid
    if (const auto *v = std::get_if<ValidationPayload>(&e.payload)) {
        trailer["validation"] = {{"observations", v->observations}, {"divergences", v->divergences}};
        return true;
    }
    if (const auto *l = std::get_if<LeaksPayload>(&e.payload)) {
        json leaks = l->leaks_json();
        make_json_safe(leaks);
        trailer["leaks"] = std::move(leaks);
        if (!l->probe_notes.empty()) {
            json notes = l->probe_notes;
            make_json_safe(notes);
            trailer["probe_notes"] = std::move(notes);
        }
        return true;
    }
    if (e.kind == EventKind::Exit) {
        json exit = event_json(e);
        exit.erase("seq");
        exit.erase("goroutine");
        exit.erase("kind");
        trailer["exit"] = std::move(exit);
    }
    return false;
}

std::string dump(const json &j, int indent = -1) {
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

// `value` pretty-printed as a member of a top-level object (two spaces in).
std::string member_text(const std::string &key, const json &value) {
    std::string v = dump(value, 2), out = "  " + dump(json(key)) + ": ";
    for (char c : v) {
        out += c;
        if (c == '\n')
            out += "  ";
    }
    return out;
}

} // namespace

JsonSink::JsonSink(json header, OutputStream *stream, bool normalize) : header_(std::move(header)), stream_(stream) {
    make_json_safe(header_);
    if (normalize)
        normalizer_ = std::make_unique<Normalizer>(header_);
    if (!stream_)
        return;
    stream_->write("{\n");
    for (auto it = header_.begin(); it != header_.end(); ++it)
        stream_->write(member_text(it.key(), it.value()) + ",\n");
    stream_->write("  \"events\": [");
}

void JsonSink::emit(const Event &e) {
    if (take_closing(e, trailer_))
        return;
    json j = event_json(e);
    if (stream_) {
        stream_->write((first_event_ ? "\n    " : ",\n    ") + dump(j));
        first_event_ = false;
    }
    if (normalizer_)
        normalizer_->add(std::move(j));
}

void JsonSink::finish() {
    if (!stream_)
        return;
    stream_->write(first_event_ ? "]" : "\n  ]");
    for (auto it = trailer_.begin(); it != trailer_.end(); ++it)
        stream_->write(",\n" + member_text(it.key(), it.value()));
    stream_->write("\n}\n");
    stream_->flush();
}

json JsonSink::members() const {
    json m = header_;
    for (auto it = trailer_.begin(); it != trailer_.end(); ++it)
        m[it.key()] = it.value();
    return m;
}

void JsonSink::write_normalized(OutputStream &out) const {
    normalizer_->write(out, trailer_);
}

void JsonSink::add_closing(const std::string &key, json value) {
    make_json_safe(value);
    trailer_[key] = std::move(value);
}

void JsonLinesSink::add_closing(const std::string &key, json value) {
    make_json_safe(value);
    trailer_[key] = std::move(value);
}

VisitorSink::VisitorSink(json header, TraceVisitor &visitor) : header_(std::move(header)), visitor_(visitor) {
    make_json_safe(header_);
    visitor_.begin(header_);
}

void VisitorSink::emit(const Event &e) {
    if (!take_closing(e, trailer_))
        visitor_.event(event_json(e));
}

void VisitorSink::finish() {
    json members = header_;
    for (auto it = trailer_.begin(); it != trailer_.end(); ++it)
        members[it.key()] = it.value();
    visitor_.end(members);
}

JsonLinesSink::JsonLinesSink(json header, OutputStream &stream) : stream_(stream) {
    json first;
    for (auto it = header.begin(); it != header.end(); ++it) {
        first[it.key()] = it.value();
        if (it.key() == "schema")
            first["format"] = "jsonl";
    }
    make_json_safe(first);
    line(first);
}

void JsonLinesSink::line(const json &j) {
    stream_.write(dump(j) + "\n");
    stream_.flush();
}

void JsonLinesSink::emit(const Event &e) {
    if (!take_closing(e, trailer_))
        line(event_json(e));
}

void JsonLinesSink::finish() {
    line(json{{"end", trailer_}});
}

} // namespace deftrace
