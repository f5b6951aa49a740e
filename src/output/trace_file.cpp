#include "output/trace_file.h"

#include "binary/error.h"
#include "binary/input_file.h"
#include "binary/json_input.h"
#include "output/normalize.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

namespace deftrace {

namespace {

using json = nlohmann::ordered_json;

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
    for (const char *k :
         {"kind", "fn", "function", "defer_kind", "cause", "type", "printed", "resume", "reason", "resource", "state",
          "recovered_in", "signal_name", "handle", "time", "process", "program", "go_start"})
        opt_string(o, k, where);
    if (o.contains("value")) // null: panic(nil) before Go 1.21, a nil error
        need(o["value"].is_string() || o["value"].is_null(), where + ".value", "is not a string or null");
    opt_unsigned(o, "goroutine", where);
    opt_unsigned(o, "seq", where);
    opt_unsigned(o, "tid", where);
    opt_unsigned(o, "pid", where);
    opt_unsigned(o, "child_pid", where);
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
    for (const char *list : {"acquired", "stack"})
        if (const json *a = opt_array(o, list, where))
            for (size_t i = 0; i < a->size(); ++i)
                check_site((*a)[i], where + "." + list + "[" + std::to_string(i) + "]");
}

void check_event(const json &e, size_t index) {
    const std::string where = "events[" + std::to_string(index) + "]";
    check_common(e, where);
    need(e.contains("kind"), where, "has no \"kind\"");
    need(e["kind"].is_string(), where + ".kind", "is not a string");
}

// The members other than the events.
void check_members(const json &t) {
    need(t.is_object(), "the trace", "is not a JSON object");
    need(t.contains("schema") && t["schema"].is_string() && t["schema"].get<std::string>() == kTraceSchema, "the trace",
         "does not name the schema deftrace.trace/1");
    need(t.contains("events"), "the trace", "has no \"events\"");
    (void)opt_array(t, "events", "trace");
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

// Checks a trace as it is read and hands it to a TraceVisitor: the header members once the first
// event comes (our traces put paths, program and mode first), each event, and all members at the
// end.
class Loader {
public:
    Loader(const std::string &name, TraceVisitor &visitor) : name_(name), visitor_(visitor) {}

    void member(const std::string &key, const json &value) { members_[key] = value; }
    // Takes the event (it is not used after).
    void event(json &e) {
        try {
            check_event(e, count_++);
        } catch (const ShapeError &err) {
            not_a_trace(name_, err.what());
        }
        begin();
        visitor_.event(std::move(e));
    }
    // `had_events`: the trace had an "events" member (JSON Lines always has).
    json finish(bool had_events) {
        if (had_events)
            members_["events"] = json::array(); // their place (check_members wants it), not them
        try {
            check_members(members_);
        } catch (const ShapeError &err) {
            not_a_trace(name_, err.what());
        }
        begin();
        members_.erase("events");
        visitor_.end(members_);
        return std::move(members_);
    }

private:
    void begin() {
        if (begun_)
            return;
        // Before the first event: the schema must be known to be ours already.
        if (!members_.contains("schema") || members_["schema"] != kTraceSchema)
            not_a_trace(name_, "the trace does not name the schema deftrace.trace/1 before its events");
        begun_ = true;
        visitor_.begin(members_);
    }

    const std::string &name_;
    TraceVisitor &visitor_;
    json members_ = json::object();
    bool begun_ = false;
    size_t count_ = 0;
};

// What load_trace keeps: the events normalized (spilled to a temporary file).
class NormalizingVisitor : public TraceVisitor {
public:
    void begin(const json &header) override { normalizer = std::make_unique<Normalizer>(header); }
    void event(json e) override { normalizer->add(std::move(e)); }
    void end(const json &) override {}
    std::unique_ptr<Normalizer> normalizer;
};

struct TooDeep {};

// The JSON document form, from any input nlohmann can read (a string, a FILE*): parsed with a
// callback that hands each event to the Loader and drops it, so the document is never built.
template <typename Input> TraceRead load_document(Input &&input, const std::string &name, TraceVisitor &visitor) {
    Loader loader(name, visitor);
    std::string top_key;
    bool is_object = false;
    auto callback = [&](int depth, json::parse_event_t ev, json &parsed) -> bool {
        if (static_cast<size_t>(depth) > kMaxTraceDepth)
            throw TooDeep{};
        switch (ev) {
        case json::parse_event_t::object_start:
            if (depth == 0)
                is_object = true;
            return true;
        case json::parse_event_t::key:
            if (depth == 1)
                top_key = parsed.get<std::string>();
            return true;
        case json::parse_event_t::object_end:
        case json::parse_event_t::array_end:
        case json::parse_event_t::value:
            if (depth == 2 && top_key == "events") {
                if (!parsed.is_object())
                    not_a_trace(name, "events[] holds something other than objects");
                loader.event(parsed);
                return false; // handed over: not kept in the document
            }
            if (depth == 1 && top_key != "events")
                loader.member(top_key, parsed);
            return true;
        case json::parse_event_t::array_start: return true;
        }
        return true;
    };
    json doc;
    try {
        if constexpr (requires { input.first, input.second; }) // an iterator range
            doc = json::parse(input.first, input.second, callback, false);
        else
            doc = json::parse(std::forward<Input>(input), callback, false);
    } catch (const TooDeep &) {
        not_a_trace(name, "nested more than " + std::to_string(kMaxTraceDepth) + " levels deep");
    }
    if (doc.is_discarded())
        not_a_trace(name, "not JSON (or not UTF-8)");
    if (!is_object || !doc.is_object())
        not_a_trace(name, "the trace is not a JSON object");
    if (doc.contains("events") && !doc["events"].is_array())
        not_a_trace(name, "trace.events is not an array");
    return TraceRead{loader.finish(doc.contains("events")), {}};
}

// One line of a JSON Lines trace, and whether a newline ended it: only the last line of a file
// can lack one, and it is then where the writer stopped.
struct Line {
    std::string text;
    bool ended = true;
};

// The JSON Lines form, from a function that returns the next line (nullopt at the end).
template <typename NextLine>
TraceRead load_lines(NextLine &&next_line, const std::string &name, TraceVisitor &visitor) {
    Loader loader(name, visitor);
    size_t line_no = 0;
    bool ended = false;
    std::string cut;
    while (auto line = next_line()) {
        ++line_no;
        if (line->text.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        auto j = parse_json_input(line->text, kMaxTraceDepth);
        if ((!j || !j->is_object()) && !line->ended && line_no > 1) {
            // Every line is written whole and then flushed: an unterminated last line that does
            // not parse is a write cut short, and the lines before it still tell the story.
            cut = "line " + std::to_string(line_no) +
                  " ends in the middle (the writer stopped there): read up to line " + std::to_string(line_no - 1);
            break;
        }
        if (!j || !j->is_object())
            not_a_trace(name, "line " + std::to_string(line_no) + " is not a JSON object");
        if (ended)
            not_a_trace(name, "line " + std::to_string(line_no) + " follows the closing \"end\" line");
        if (line_no == 1) {
            for (auto it = j->begin(); it != j->end(); ++it)
                if (it.key() != "format")
                    loader.member(it.key(), it.value());
        } else if (j->contains("end")) {
            if (!(*j)["end"].is_object())
                not_a_trace(name, "line " + std::to_string(line_no) + ": \"end\" is not an object");
            for (auto it = (*j)["end"].begin(); it != (*j)["end"].end(); ++it)
                loader.member(it.key(), it.value());
            ended = true;
        } else {
            loader.event(*j);
        }
    }
    // A trace cut short (the tracer was killed) still tells its story.
    return TraceRead{loader.finish(true), std::move(cut)};
}

// The characters of a FILE, read 64 KiB at a time, as the input iterators nlohmann's parser
// takes: its FILE* input reads one character per fgetc call (a lock each), which made a trace
// holding one 300 MB panic value take a minute to read.
class FileChars {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char *;
    using reference = const char &;

    struct Source {
        FILE *file;
        std::vector<char> buf = std::vector<char>(64 * 1024);
        size_t at = 0, size = 0;
        bool fill() {
            at = 0;
            size = std::fread(buf.data(), 1, buf.size(), file);
            return size > 0;
        }
    };

    FileChars() = default; // the end
    explicit FileChars(Source &s) : source_(&s) {
        if (s.at == s.size && !s.fill())
            source_ = nullptr;
    }
    reference operator*() const { return source_->buf[source_->at]; }
    FileChars &operator++() {
        if (++source_->at == source_->size && !source_->fill())
            source_ = nullptr;
        return *this;
    }
    FileChars operator++(int) {
        FileChars before = *this;
        ++*this;
        return before;
    }
    bool operator==(const FileChars &o) const { return source_ == o.source_; }

private:
    Source *source_ = nullptr;
};

bool is_jsonl_header(std::string_view first_line) {
    auto head = parse_json_input(first_line, kMaxTraceDepth);
    return head && head->is_object() && head->contains("format") && (*head)["format"] == "jsonl";
}

} // namespace

TraceRead read_trace(std::string_view text, const std::string &name, TraceVisitor &visitor) {
    const size_t first_nl = text.find('\n');
    if (first_nl != std::string_view::npos && is_jsonl_header(text.substr(0, first_nl))) {
        size_t at = 0;
        return load_lines(
            [&]() -> std::optional<Line> {
                if (at >= text.size())
                    return std::nullopt;
                size_t nl = text.find('\n', at);
                Line line{std::string(text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at)),
                          nl != std::string_view::npos};
                at = nl == std::string_view::npos ? text.size() : nl + 1;
                return line;
            },
            name, visitor);
    }
    return load_document(text, name, visitor);
}

TraceRead read_trace_file(const std::string &path, TraceVisitor &visitor) {
    InputFile f = open_input_file(path, "trace");
    // A JSON Lines header is a short line; a JSON document's first line may be the whole file.
    std::string first;
    for (int c; first.size() < (size_t{1} << 20) && (c = std::fgetc(f.get())) != EOF && c != '\n';)
        first += static_cast<char>(c);
    std::rewind(f.get());
    if (!is_jsonl_header(first)) {
        FileChars::Source source{f.get()};
        auto read = [&] {
            if (std::ferror(f.get())) // what stopped the reading was not the end of the file
                throw Error(ErrorKind::Io, "reading " + path + ": " + std::strerror(errno));
        };
        try {
            TraceRead t = load_document(std::make_pair(FileChars(source), FileChars()), path, visitor);
            read();
            return t;
        } catch (const Error &) {
            read();
            throw;
        }
    }
    char *buf = nullptr;
    size_t cap = 0;
    struct Free {
        char **p;
        ~Free() { std::free(*p); }
    } free_buf{&buf};
    return load_lines(
        [&]() -> std::optional<Line> {
            const ssize_t n = getline(&buf, &cap, f.get());
            if (n < 0)
                return std::nullopt;
            const bool ended = n > 0 && buf[n - 1] == '\n';
            return Line{std::string(buf, static_cast<size_t>(ended ? n - 1 : n)), ended};
        },
        path, visitor);
}

namespace {
LoadedTrace loaded(TraceRead read, NormalizingVisitor &v) {
    return LoadedTrace{std::move(v.normalizer), std::move(read.members), std::move(read.cut)};
}
} // namespace

LoadedTrace load_trace(std::string_view text, const std::string &name) {
    NormalizingVisitor v;
    return loaded(read_trace(text, name, v), v);
}

LoadedTrace load_trace_file(const std::string &path) {
    NormalizingVisitor v;
    return loaded(read_trace_file(path, v), v);
}

} // namespace deftrace
