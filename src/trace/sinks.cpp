#include "trace/sinks.h"

#include "binary/error.h"

#include <cerrno>
#include <cstring>
#include <fstream>

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

std::string str(const nlohmann::ordered_json &j, const char *key) {
    if (!j.contains(key) || j[key].is_null())
        return {};
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

std::string value_text(const nlohmann::ordered_json &f) {
    std::string v = f.contains("value") && !f["value"].is_null() ? f["value"].get<std::string>() : "";
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
            out += "abandoned by panic " + value_text(p) + " at " + at.short_form() + ", recovered in " +
                   str(p, "recovered_in");
        } else {
            out += "never released";
        }
        const char *label = "\n      acquired at ";
        for (const auto &s : l["acquired"]) {
            Site at{str(s, "function"), str(s, "file"), s.value("line", 0)};
            out += label + at.short_form();
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
                body += " printed as \"" + p["printed"].get<std::string>() + "\"";
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
                body += "\n  note: " + n.get<std::string>();
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
        line += "  at " + e.site.short_form();
    return line + tail;
}

void TextSink::emit(const Event &e) {
    std::string line = format(e, color_) + "\n";
    std::fwrite(line.data(), 1, line.size(), out_);
}

void TextSink::finish() {
    std::fflush(out_);
}

void JsonSink::emit(const Event &e) {
    if (e.kind == EventKind::Validation) { // the summary, not an event of the story
        header_["validation"] = {{"observations", e.fields["observations"]}, {"divergences", e.fields["divergences"]}};
        return;
    }
    if (e.kind == EventKind::Leaks) { // not an event of the story: the report at its end
        header_["leaks"] = e.fields["leaks"];
        if (e.fields.contains("probe_notes"))
            header_["probe_notes"] = e.fields["probe_notes"];
    } else
        events_.push_back(e.to_json());
}

nlohmann::ordered_json JsonSink::document() const {
    nlohmann::ordered_json doc = header_;
    doc["events"] = events_;
    if (!events_.empty() && events_.back()["kind"] == "exit") {
        nlohmann::ordered_json exit = events_.back();
        exit.erase("seq");
        exit.erase("goroutine");
        exit.erase("kind");
        doc["exit"] = exit;
    }
    return doc;
}

void write_json_file(const std::string &path, const nlohmann::ordered_json &doc) {
    std::ofstream out(path);
    out << doc.dump(2) << "\n";
    out.flush();
    if (!out)
        throw Error(ErrorKind::Io, "writing " + path + ": " + std::strerror(errno));
}

} // namespace deftrace
