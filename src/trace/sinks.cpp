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
    case EventKind::Fatal: return "\x1b[1;31m";
    case EventKind::Recover:
    case EventKind::Recovery: return "\x1b[32m";
    case EventKind::Goexit:
    case EventKind::Exit: return "\x1b[35m";
    case EventKind::Defer:
    case EventKind::DeferCall: return "\x1b[36m";
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

} // namespace

std::string TextSink::format(const Event &e, bool color) {
    const auto &f = e.fields;
    std::string body;
    switch (e.kind) {
    case EventKind::Defer: body = "defer " + str(f, "defer_kind") + " " + str(f, "fn"); break;
    case EventKind::DeferCall: body = "call  " + str(f, "fn") + " [" + str(f, "cause") + "]"; break;
    case EventKind::Panic: body = "panic " + value_text(f); break;
    case EventKind::Recover:
        body = f.value("recovered", false) ? "recover() = " + value_text(f) + ": panic stopped"
                                           : "recover() = nil (" + str(f, "reason") + ")";
        break;
    case EventKind::Recovery: body = "resume in " + str(f, "resume"); break;
    case EventKind::Goexit: body = "runtime.Goexit"; break;
    case EventKind::Fatal: {
        body = "unrecovered panic:";
        for (const auto &p : f["panics"])
            body += " " + value_text(p) + (p.value("recovered", false) ? " [recovered]" : "");
        body += "; pending defers: " + std::to_string(f["pending"].size());
        for (const auto &d : f["pending"])
            body += "\n            pending " + str(d, "defer_kind") + " " + str(d, "fn") + " in " + str(d, "function");
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
    return line;
}

void TextSink::emit(const Event &e) {
    std::string line = format(e, color_) + "\n";
    std::fwrite(line.data(), 1, line.size(), out_);
}

void TextSink::finish() {
    std::fflush(out_);
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
