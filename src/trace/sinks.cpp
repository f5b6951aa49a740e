#include "trace/sinks.h"

#include "trace/text_safety.h"

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
    case EventKind::Exit: return "\x1b[35m";
    case EventKind::Defer:
    case EventKind::DeferCall: return "\x1b[36m";
    case EventKind::Acquire:
    case EventKind::Release: return "\x1b[33m";
    case EventKind::Leaks: return "\x1b[1;33m";
    case EventKind::Divergence: return "\x1b[1;35m";
    case EventKind::Validation: return "\x1b[1m";
    }
    return "";
}

using json = nlohmann::ordered_json;

// A field as text for the terminal (text_safety.h): strings escaped, anything else as JSON.
std::string str(const json &j, const char *key) {
    if (!j.contains(key) || j[key].is_null())
        return {};
    return j[key].is_string() ? terminal_safe(j[key].get_ref<const std::string &>())
                              : j[key].dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string site_text(const Site &s) {
    return terminal_safe(s.short_form());
}

// A panic or recovered value as Go would quote it: backslashes doubled as well.
std::string value_text(const json &f) {
    std::string v = f.contains("value") && f["value"].is_string()
                        ? terminal_safe(f["value"].get_ref<const std::string &>(), true)
                        : "";
    std::string t = str(f, "type");
    if (f.contains("value") && f["value"].is_null())
        return "(" + t + ")";
    if (t == "string")
        return "\"" + v + "\"";
    return v + " (" + t + ")";
}

// A pending list that misses the open-coded defers of frames too deep to walk.
const char *truncated_note(const nlohmann::ordered_json &f) {
    return f.value("pending_truncated", false) ? " (stack too deep to walk: open-coded ones further down not listed)"
                                               : "";
}

std::string leaks_text(const nlohmann::ordered_json &leaks) {
    if (leaks.empty())
        return "leaks: none (every probed resource acquired was released)";
    std::string out =
        "leaks: " + std::to_string(leaks.size()) + " resource" + (leaks.size() == 1 ? "" : "s") + " still open at exit";
    for (const auto &l : leaks) {
        out += "\n  " + str(l, "resource") + " on g" + str(l, "goroutine") + ", ";
        if (l.contains("panic")) {
            const auto &p = l["panic"];
            Site at{str(p["site"], "function"), str(p["site"], "file"), p["site"].value("line", 0)};
            out += "abandoned by panic " + value_text(p) + " at " + site_text(at) + ", recovered in " +
                   str(p, "recovered_in");
        } else {
            out += "never released";
        }
        const char *label = "\n      acquired at ";
        for (const auto &s : l["acquired"]) {
            Site at{str(s, "function"), str(s, "file"), s.value("line", 0)};
            out += label + site_text(at);
            label = "\n                  ";
        }
    }
    return out;
}

} // namespace

std::string TextSink::format(const Event &e, bool color) {
    const auto &f = e.fields;
    std::string body, tail;
    switch (e.kind) {
    case EventKind::Defer: body = "defer " + str(f, "defer_kind") + " " + str(f, "fn"); break;
    case EventKind::DeferCall: body = "call  " + str(f, "fn") + " [" + str(f, "cause") + "]"; break;
    case EventKind::Panic: body = "panic " + value_text(f); break;
    case EventKind::Repanic: body = "repanic " + value_text(f) + " (the value it recovered, raised again)"; break;
    case EventKind::Aborted:
        body = "panic " + value_text(f) + " aborted: the recovery of " + value_text(f["by"]) + " resumes in " +
               str(f, "resume");
        break;
    case EventKind::Recover:
        body = f.value("recovered", false) ? "recover() = " + value_text(f) + ": panic stopped"
                                           : "recover() = nil (" + str(f, "reason") + ")";
        break;
    case EventKind::Recovery: body = "resume in " + str(f, "resume"); break;
    case EventKind::Goexit: body = "runtime.Goexit"; break;
    case EventKind::Fatal: {
        // A fatal error (runtime.throw / fatal) names the panics it interrupted, if any.
        if (f.contains("error"))
            body = "fatal error: " + str(f, "error") + (f["panics"].empty() ? "" : " during panic:");
        else
            body = "unrecovered panic:";
        for (const auto &p : f["panics"]) {
            body += " " + value_text(p);
            if (p.contains("printed") && p["printed"] != p["value"])
                body += " printed as \"" + str(p, "printed") + "\"";
            body += p.value("recovered", false) ? " [recovered]" : "";
        }
        if (e.goroutine != 0) // a fatal error thrown by no goroutine (a deadlock) has no defers of its own
            body += "; pending defers: " + std::to_string(f["pending"].size()) + truncated_note(f);
        // After the site (a fatal error's), which belongs to the first line.
        for (const auto &d : f["pending"])
            tail += "\n            pending " + str(d, "defer_kind") + " " + str(d, "fn") + " in " + str(d, "function");
        break;
    }
    case EventKind::NeverRun: {
        body = str(f, "cause") + ": " + std::to_string(f["pending"].size()) + " deferred call" +
               (f["pending"].size() == 1 ? "" : "s") + " will never run (goroutine " + str(f, "status") + ")" +
               truncated_note(f);
        for (const auto &d : f["pending"])
            body += "\n            pending " + str(d, "defer_kind") + " " + str(d, "fn") + " in " + str(d, "function");
        break;
    }
    case EventKind::Exec:
        body = "exec " + str(f, "program") +
               (f.value("traced", false) ? ": traced from here" : ": no longer traced (" + str(f, "note") + ")");
        break;
    case EventKind::Acquire: body = "acquire " + str(f, "resource") + " " + str(f, "handle"); break;
    case EventKind::Release: body = "release " + str(f, "resource") + " " + str(f, "handle"); break;
    case EventKind::Leaks:
        body = leaks_text(f["leaks"]);
        if (f.contains("probe_notes"))
            for (const auto &n : f["probe_notes"])
                body += "\n  note: " + (n.is_string() ? terminal_safe(n.get_ref<const std::string &>()) : n.dump());
        break;
    case EventKind::Divergence:
        body = "divergence (" + str(f, "rule") + "): model expected " + str(f, "expected") + ", observed " +
               str(f, "observed");
        break;
    case EventKind::Validation: {
        const uint64_t n = f.value("divergences", uint64_t{0});
        body = "validation: " + str(f, "observations") + " observations checked against the " + str(f, "model") +
               " runtime model, " + std::to_string(n) + (n == 1 ? " divergence" : " divergences");
        break;
    }
    case EventKind::Exit:
        body = f.contains("signal") ? "exit: killed by " + str(f, "signal_name") : "exit: status " + str(f, "status");
        break;
    }
    std::string line;
    if (e.goroutine != 0)
        line = "[g" + std::to_string(e.goroutine) + "] ";
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
    out_.write(format(e, color_) + "\n");
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
    if (e.kind == EventKind::Validation) {
        trailer["validation"] = {{"observations", e.fields["observations"]}, {"divergences", e.fields["divergences"]}};
        return true;
    }
    if (e.kind == EventKind::Leaks) {
        json f = e.fields;
        make_json_safe(f);
        trailer["leaks"] = f["leaks"];
        if (f.contains("probe_notes"))
            trailer["probe_notes"] = f["probe_notes"];
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
        normalizer_->add(j);
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
