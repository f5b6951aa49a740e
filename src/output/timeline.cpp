#include "output/timeline.h"

#include "output/goroutine_names.h"
#include "output/leak_links.h"
#include "output/panic_stories.h"
#include "output/view_clock.h"
#include "output/view_text.h"
#include "trace/event.h"

#include <algorithm>
#include <set>
#include <utility>

namespace deftrace {

namespace {

using json = nlohmann::ordered_json;

// The track of a process's leaked resources: after every goroutine's.
constexpr int64_t kLeaksTrack = 2000000000;

struct Process {
    int64_t pid = 1; // as the timeline numbers it
    std::string name;
    std::set<uint64_t> goroutines;
};

json slice(const char *cat, const std::string &name, int64_t ts, int64_t dur, int64_t pid, int64_t tid) {
    return {{"ph", "X"}, {"name", name}, {"cat", cat}, {"ts", ts}, {"dur", dur}, {"pid", pid}, {"tid", tid}};
}

} // namespace

struct TimelineWriter::State {
    json header;
    std::map<int64_t, Process> processes; // by the trace's "pid" (0: the program)
    // The timeline's events, each kept as its compact text (a tenth of a json object's memory)
    // with what they are sorted by.
    struct Line {
        int64_t ts = 0, dur = -1;
        std::string text;
    };
    std::vector<Line> out;
    ViewClock clock;
    PanicStories panics;
    GoroutineNames names;
    LeakLinks links;
    uint64_t next_flow = 1;

    Process &process(int64_t key);
    void on_event(const json &e);
    void instant(const Process &p, uint64_t goid, int64_t ts, const std::string &name, const std::string &cat,
                 const json &e);
    void panic_slices();
    void leaks(Process &p, const json &list);
    void metadata();
    void add(const json &e) {
        out.push_back(Line{int_of(e, "ts"), e.contains("dur") ? int_of(e, "dur") : -1, view_dump(e)});
    }
    json finish(const json &members);
};

Process &TimelineWriter::State::process(int64_t key) {
    auto [it, added] = processes.try_emplace(key);
    if (added && key != 0) {
        it->second.pid = key;
        it->second.name = "pid " + std::to_string(key);
    }
    return it->second;
}

void TimelineWriter::State::instant(const Process &p, uint64_t goid, int64_t ts, const std::string &name,
                                    const std::string &cat, const json &e) {
    json i = {{"ph", "i"}, {"name", name}, {"cat", cat}, {"ts", ts}, {"pid", p.pid}, {"tid", goid}};
    i["s"] = goid == 0 ? "p" : "t";
    i["args"] = view_args(e);
    add(i);
}

void TimelineWriter::State::on_event(const json &e) {
    Process &p = process(int_of(e, "pid"));
    const int64_t ts = clock.at(e);
    const uint64_t goid =
        e.contains("goroutine") && e["goroutine"].is_number_unsigned() ? e["goroutine"].get<uint64_t>() : 0;
    const std::string kind = str_of(e, "kind");
    if (goid != 0)
        p.goroutines.insert(goid);
    names.see(e);
    if (panics.event(e, ts) && kind != "fatal")
        return; // a slice of its panic's, or a marker written with it
    if (kind == "child" && e.contains("child_pid") && e["child_pid"].is_number_integer() && e.value("traced", false))
        process(e["child_pid"].get<int64_t>()).name = argv_text(e.contains("argv") ? e["argv"] : json::array());
    links.event(e, ts);
    instant(p, goid, ts, event_label(e), kind, e);
}

// Each panic a slice; the recover() that stopped it and the recovery that resumed from it
// slices of no length, one flow from the panic through both.
void TimelineWriter::State::panic_slices() {
    for (const PanicStory &s : panics.stories()) {
        const Process &p = processes[s.pid];
        const int64_t tid = static_cast<int64_t>(s.goroutine);
        const uint64_t flow = next_flow++;
        std::string name = event_label(s.panic);
        if (s.ended == "aborted")
            name += " (aborted)";
        json panic = slice("panic", name, s.start_ts, s.end_ts - s.start_ts, p.pid, tid);
        json args = s.panic;
        args["ended"] = s.ended;
        if (s.aborted_by)
            args["aborted_by"] = *s.aborted_by;
        panic["args"] = std::move(args);
        if (s.recover) {
            panic["bind_id"] = flow;
            panic["flow_out"] = true;
        }
        add(panic);
        if (s.recover) {
            json r = slice("recover", event_label(*s.recover), s.recover_ts, 0, p.pid, tid);
            r["bind_id"] = flow;
            r["flow_in"] = true;
            r["flow_out"] = s.resume.has_value(); // on to where execution resumed
            r["args"] = *s.recover;
            add(r);
        }
        if (s.resume) {
            json m = slice("recovery", event_label(*s.resume), s.end_ts, 0, p.pid, tid);
            m["bind_id"] = flow;
            m["flow_in"] = true;
            m["args"] = *s.resume;
            add(m);
        }
    }
}

void TimelineWriter::State::leaks(Process &p, const json &list) {
    for (const json &l : list) {
        if (!l.is_object())
            continue;
        const int64_t from = std::min(links.began(l, clock).value_or(0), clock.now());
        json s = slice("leak", "leak " + str_of(l, "resource") + " (" + str_of(l, "state") + ")", from,
                       clock.now() - from, p.pid, kLeaksTrack);
        s["args"] = view_args(l);
        add(s);
        if (auto k = LeakLinks::abandoned_by(l, panics)) {
            const PanicStory &ps = panics.stories()[*k];
            const uint64_t id = next_flow++;
            add({{"ph", "s"},
                 {"name", "abandoned"},
                 {"cat", "leak"},
                 {"id", id},
                 {"ts", ps.start_ts},
                 {"pid", p.pid},
                 {"tid", ps.goroutine}});
            add({{"ph", "f"},
                 {"bp", "e"},
                 {"name", "abandoned"},
                 {"cat", "leak"},
                 {"id", id},
                 {"ts", from},
                 {"pid", p.pid},
                 {"tid", kLeaksTrack}});
        }
    }
}

void TimelineWriter::State::metadata() {
    std::vector<Line> meta;
    auto named = [&](const char *name, int64_t pid, std::optional<int64_t> tid, json args) {
        json m = {{"ph", "M"}, {"name", name}, {"pid", pid}};
        if (tid)
            m["tid"] = *tid;
        m["args"] = std::move(args);
        meta.push_back(Line{0, -1, view_dump(m)});
    };
    int64_t order = 0;
    for (auto &[key, p] : processes) {
        named("process_name", p.pid, std::nullopt, {{"name", p.name}});
        named("process_sort_index", p.pid, std::nullopt, {{"sort_index", order++}});
        for (uint64_t goid : p.goroutines) {
            const std::string name = names.of(key, goid);
            named("thread_name", p.pid, static_cast<int64_t>(goid),
                  {{"name", "g" + std::to_string(goid) + (name.empty() ? "" : " " + name)}});
            named("thread_sort_index", p.pid, static_cast<int64_t>(goid), {{"sort_index", goid}});
        }
        named("thread_name", p.pid, kLeaksTrack, {{"name", "leaks"}});
        named("thread_sort_index", p.pid, kLeaksTrack, {{"sort_index", kLeaksTrack}});
    }
    out.insert(out.begin(), std::make_move_iterator(meta.begin()), std::make_move_iterator(meta.end()));
}

TimelineWriter::TimelineWriter(OutputStream &out) : out_(out), state_(std::make_unique<State>()) {}
TimelineWriter::~TimelineWriter() = default;

void TimelineWriter::begin(const json &header) {
    state_->header = header;
    Process &program = state_->processes[0];
    if (header.contains("attached_pid") && header["attached_pid"].is_number_integer())
        program.pid = header["attached_pid"].get<int64_t>();
    program.name = argv_text(header.contains("program") ? header["program"] : json::array());
}

void TimelineWriter::event(json e) {
    state_->on_event(e);
}

// Ends the stories, adds the slices, sorts, and returns the document's "otherData".
json TimelineWriter::State::finish(const json &members) {
    panics.finish(clock.now());
    panic_slices();
    if (members.contains("leaks") && members["leaks"].is_array())
        leaks(processes[0], members["leaks"]);
    // Perfetto sorts by time itself; chrome://tracing nests slices of one start by their order:
    // the longer first.
    std::stable_sort(out.begin(), out.end(),
                     [](const Line &a, const Line &b) { return a.ts != b.ts ? a.ts < b.ts : a.dur > b.dur; });
    metadata();
    json other = {{"generator", "deftrace"}, {"schema", str_of(header, "schema")}};
    if (header.contains("go_version"))
        other["go_version"] = header["go_version"];
    other["times"] = clock.timed() ? "microseconds from the first event (wall clock)"
                                   : "none in the trace: one microsecond per event, in the trace's order";
    return other;
}

json TimelineWriter::document(const json &members) {
    json doc = {{"displayTimeUnit", "ms"}, {"otherData", state_->finish(members)}};
    json events = json::array();
    for (const auto &line : state_->out)
        events.push_back(json::parse(line.text));
    doc["traceEvents"] = std::move(events);
    state_->out.clear();
    return doc;
}

void TimelineWriter::end(const json &members) {
    const json other = state_->finish(members);
    out_.write("{\"displayTimeUnit\": \"ms\",\n\"otherData\": " + view_dump(other) + ",\n\"traceEvents\": [");
    bool first = true;
    for (const auto &line : state_->out) {
        out_.write((first ? "\n" : ",\n") + line.text);
        first = false;
    }
    out_.write("\n]}\n");
    out_.flush();
    state_->out.clear();
}

} // namespace deftrace
