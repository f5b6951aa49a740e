#include "trace/trace_file.h"

#include "binary/error.h"
#include "binary/input_file.h"
#include "binary/json_input.h"

#include <optional>

namespace deftrace {

namespace {

using json = nlohmann::ordered_json;

// A trace file is at most this large (a 1 GiB trace is tens of millions of events).
constexpr size_t kMaxTraceBytes = size_t{1} << 30;

class ShapeError {
public:
    explicit ShapeError(std::string what) : what_(std::move(what)) {}
    [[nodiscard]] const std::string &what() const { return what_; }

private:
    std::string what_;
};

void need(bool ok, const std::string &where, const char *what) {
    if (!ok)
        throw ShapeError(where + " " + what);
}

// Optional members: absent or null are fine where a trace may omit them.
void opt_string(const json &o, const char *key, const std::string &where) {
    if (o.contains(key))
        need(o[key].is_string(), where + "." + key, "is not a string");
}
void opt_unsigned(const json &o, const char *key, const std::string &where) {
    if (o.contains(key))
        need(o[key].is_number_unsigned(), where + "." + key, "is not a non-negative integer");
}
void opt_integer(const json &o, const char *key, const std::string &where) {
    if (o.contains(key))
        need(o[key].is_number_integer(), where + "." + key, "is not an integer");
}
void opt_bool(const json &o, const char *key, const std::string &where) {
    if (o.contains(key))
        need(o[key].is_boolean(), where + "." + key, "is not true or false");
}
const json *opt_object(const json &o, const char *key, const std::string &where) {
    if (!o.contains(key))
        return nullptr;
    need(o[key].is_object(), where + "." + key, "is not an object");
    return &o[key];
}
const json *opt_array(const json &o, const char *key, const std::string &where) {
    if (!o.contains(key))
        return nullptr;
    need(o[key].is_array(), where + "." + key, "is not an array");
    return &o[key];
}

void check_site(const json &s, const std::string &where) {
    need(s.is_object(), where, "is not an object");
    opt_string(s, "function", where);
    opt_string(s, "file", where);
    opt_integer(s, "line", where);
}

// Members that several kinds of event, pending defers and leak reports share.
void check_common(const json &o, const std::string &where) {
    need(o.is_object(), where, "is not an object");
    for (const char *k : {"kind", "fn", "function", "defer_kind", "cause", "type", "printed", "resume", "reason",
                          "resource", "state", "recovered_in", "signal_name", "handle"})
        opt_string(o, k, where);
    if (o.contains("value")) // null: panic(nil) before Go 1.21, a nil error
        need(o["value"].is_string() || o["value"].is_null(), where + ".value", "is not a string or null");
    opt_unsigned(o, "goroutine", where);
    opt_unsigned(o, "seq", where);
    opt_integer(o, "signal", where);
    opt_bool(o, "recovered", where);
    if (const json *s = opt_object(o, "site", where))
        check_site(*s, where + ".site");
    if (const json *b = opt_object(o, "by", where))
        check_common(*b, where + ".by");
    if (const json *p = opt_object(o, "panic", where))
        check_common(*p, where + ".panic");
    for (const char *list : {"panics", "pending"})
        if (const json *a = opt_array(o, list, where))
            for (size_t i = 0; i < a->size(); ++i)
                check_common((*a)[i], where + "." + list + "[" + std::to_string(i) + "]");
    if (const json *a = opt_array(o, "acquired", where))
        for (size_t i = 0; i < a->size(); ++i)
            check_site((*a)[i], where + ".acquired[" + std::to_string(i) + "]");
}

void check_shape(const json &t) {
    need(t.is_object(), "the trace", "is not a JSON object");
    need(t.contains("schema") && t["schema"].is_string() && t["schema"].get<std::string>() == kTraceSchema, "the trace",
         "does not name the schema deftrace.trace/1");
    need(t.contains("events"), "the trace", "has no \"events\"");
    const json &events = *opt_array(t, "events", "trace");
    for (size_t i = 0; i < events.size(); ++i) {
        const std::string where = "events[" + std::to_string(i) + "]";
        check_common(events[i], where);
        need(events[i].contains("kind"), where, "has no \"kind\"");
        need(events[i]["kind"].is_string(), where + ".kind", "is not a string");
    }
    opt_bool(t, "normalized", "trace");
    opt_string(t, "mode", "trace");
    opt_string(t, "go_version", "trace");
    if (const json *p = opt_array(t, "program", "trace"))
        for (const auto &a : *p)
            need(a.is_string(), "trace.program", "holds something other than strings");
    if (const json *p = opt_object(t, "paths", "trace"))
        for (const char *k : {"main_module", "module_dir", "goroot"})
            opt_string(*p, k, "trace.paths");
    if (const json *v = opt_object(t, "validation", "trace")) {
        opt_unsigned(*v, "divergences", "trace.validation");
        opt_unsigned(*v, "observations", "trace.validation");
    }
    if (const json *l = opt_array(t, "leaks", "trace"))
        for (size_t i = 0; i < l->size(); ++i)
            check_common((*l)[i], "trace.leaks[" + std::to_string(i) + "]");
    if (const json *n = opt_array(t, "probe_notes", "trace"))
        for (const auto &a : *n)
            need(a.is_string(), "trace.probe_notes", "holds something other than strings");
    if (const json *e = opt_object(t, "exit", "trace")) {
        check_common(*e, "trace.exit");
        opt_integer(*e, "status", "trace.exit");
    }
}

[[noreturn]] void not_a_trace(const std::string &name, const std::string &why) {
    throw Error(ErrorKind::Usage, name + ": not a deftrace JSON trace: " + why);
}

std::optional<json> parse_one(std::string_view text) {
    return parse_json_input(text, kMaxTraceDepth);
}

// The JSON Lines form: a header line, one line per event, a closing {"end": {...}} line.
json assemble_lines(std::string_view text, const std::string &name) {
    json doc;
    json events = json::array();
    size_t line_no = 0;
    bool ended = false;
    for (size_t at = 0; at < text.size();) {
        size_t nl = text.find('\n', at);
        std::string_view line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
        at = nl == std::string_view::npos ? text.size() : nl + 1;
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos)
            continue;
        auto j = parse_one(line);
        if (!j || !j->is_object())
            not_a_trace(name, "line " + std::to_string(line_no) + " is not a JSON object");
        if (ended)
            not_a_trace(name, "line " + std::to_string(line_no) + " follows the closing \"end\" line");
        if (line_no == 1) {
            doc = std::move(*j);
            doc.erase("format");
        } else if (j->contains("end")) {
            if (!(*j)["end"].is_object())
                not_a_trace(name, "line " + std::to_string(line_no) + ": \"end\" is not an object");
            doc["events"] = std::move(events);
            for (auto it = (*j)["end"].begin(); it != (*j)["end"].end(); ++it)
                doc[it.key()] = it.value();
            ended = true;
        } else {
            events.push_back(std::move(*j));
        }
    }
    if (!ended) // a trace cut short (the tracer was killed): what was written is still a story
        doc["events"] = std::move(events);
    return doc;
}

} // namespace

void check_trace_shape(const json &trace, const std::string &name) {
    try {
        check_shape(trace);
    } catch (const ShapeError &e) {
        not_a_trace(name, e.what());
    }
}

json parse_trace(std::string_view text, const std::string &name) {
    if (json_nesting_depth(text, kMaxTraceDepth) > kMaxTraceDepth)
        not_a_trace(name, "nested more than " + std::to_string(kMaxTraceDepth) + " levels deep");
    json doc;
    const size_t first_nl = text.find('\n');
    const std::string_view first_line = text.substr(0, first_nl);
    auto head = first_nl == std::string_view::npos ? std::nullopt : parse_one(first_line);
    if (head && head->is_object() && head->value("format", "") == "jsonl") {
        doc = assemble_lines(text, name);
    } else {
        auto j = parse_one(text);
        if (!j)
            not_a_trace(name, "not JSON (or not UTF-8)");
        doc = std::move(*j);
    }
    check_trace_shape(doc, name);
    return doc;
}

json read_trace_file(const std::string &path) {
    return parse_trace(read_input_file(path, "trace", kMaxTraceBytes), path);
}

} // namespace deftrace
