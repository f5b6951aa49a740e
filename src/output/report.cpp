#include "output/report.h"

#include "output/goroutine_names.h"
#include "output/leak_links.h"
#include "output/panic_stories.h"
#include "output/report_page.h"
#include "output/view_clock.h"
#include "output/view_text.h"
#include "trace/event.h"

#include <algorithm>
#include <array>
#include <map>
#include <unordered_map>
#include <vector>

namespace deftrace {

namespace {

using json = nlohmann::ordered_json;

// The kinds the page tells apart, by their index in the data's "kinds".
const std::vector<std::string> kKinds = {"defer",       "defer_call",  "panic",    "repanic", "aborted",
                                         "recover",     "recover_nil", "recovery", "goexit",  "fatal",
                                         "never_run",   "exec",        "child",    "acquire", "release",
                                         "leak_report", "divergence",  "exit",     "other"};

size_t kind_code(const json &e) {
    std::string kind = str_of(e, "kind");
    if (kind == "recover" && !e.value("recovered", false))
        kind = "recover_nil";
    auto it = std::find(kKinds.begin(), kKinds.end(), kind);
    return static_cast<size_t>((it == kKinds.end() ? kKinds.end() - 1 : it) - kKinds.begin());
}

std::string site_text(const json &site) {
    std::string out = str_of(site, "function");
    const std::string file = str_of(site, "file");
    if (!file.empty())
        out += " (" + file + ":" + std::to_string(int_of(site, "line")) + ")";
    return out;
}

// The JSON of the data, safe inside a <script> element: '<', '>' and '&' occur only in strings,
// where their \u escapes mean the same.
std::string script_safe(const std::string &dumped) {
    std::string out;
    out.reserve(dumped.size());
    for (char c : dumped) {
        if (c == '<')
            out += "\\u003c";
        else if (c == '>')
            out += "\\u003e";
        else if (c == '&')
            out += "\\u0026";
        else
            out += c;
    }
    return out;
}

} // namespace

struct ReportWriter::State {
    json header;
    ViewClock clock;
    PanicStories panics;
    GoroutineNames names;
    LeakLinks links;
    std::map<std::pair<int64_t, uint64_t>, size_t> lane_of; // (pid, goroutine) -> first-seen index
    std::vector<std::array<int64_t, 5>> events;             // ts, lane, kind, label, site
    std::vector<std::string> strings;
    std::unordered_map<std::string, int64_t> string_index;
    std::map<std::string, uint64_t> counts;        // by kind (recover_nil apart)
    std::map<std::string, uint64_t> recover_nil;   // by reason
    std::map<std::string, uint64_t> panic_endings; // by how
    std::vector<json> divergences;

    int64_t intern(const std::string &s);
    size_t lane(int64_t pid, uint64_t goroutine);
    void on_event(const json &e);
    json lanes_json(std::vector<size_t> &order) const;
    json panics_json(const std::vector<size_t> &order);
    json leaks_json(const json &leaks, const std::vector<size_t> &order);
    json header_json(const json &members) const;
};

int64_t ReportWriter::State::intern(const std::string &s) {
    auto [it, added] = string_index.try_emplace(s, static_cast<int64_t>(strings.size()));
    if (added)
        strings.push_back(s);
    return it->second;
}

size_t ReportWriter::State::lane(int64_t pid, uint64_t goroutine) {
    return lane_of.try_emplace({pid, goroutine}, lane_of.size()).first->second;
}

void ReportWriter::State::on_event(const json &e) {
    const int64_t ts = clock.at(e);
    panics.event(e, ts);
    names.see(e);
    links.event(e, ts);
    const std::string kind = str_of(e, "kind");
    const size_t code = kind_code(e);
    ++counts[kKinds[code]];
    if (kKinds[code] == "recover_nil")
        ++recover_nil[str_of(e, "reason")];
    if (kind == "divergence" && divergences.size() < 1000)
        divergences.push_back(view_args(e));
    const uint64_t goid =
        e.contains("goroutine") && e["goroutine"].is_number_unsigned() ? e["goroutine"].get<uint64_t>() : 0;
    if (goid == 0)
        return; // the exit: in the header
    const size_t l = lane(int_of(e, "pid"), goid);
    events.push_back({ts, static_cast<int64_t>(l), static_cast<int64_t>(code), intern(event_label(e)),
                      intern(e.contains("site") ? site_text(e["site"]) : "")});
}

// The lanes, ordered by process and goroutine id; `order` maps a first-seen index to its place.
json ReportWriter::State::lanes_json(std::vector<size_t> &order) const {
    std::vector<std::pair<std::pair<int64_t, uint64_t>, size_t>> sorted(lane_of.begin(), lane_of.end());
    order.assign(sorted.size(), 0);
    json lanes = json::array();
    for (size_t i = 0; i < sorted.size(); ++i) {
        const auto &[key, first_seen] = sorted[i];
        order[first_seen] = i;
        const std::string name = names.of(key.first, key.second);
        json l = {{"g", key.second}, {"name", "g" + std::to_string(key.second) + (name.empty() ? "" : " " + name)}};
        if (key.first != 0)
            l["pid"] = key.first;
        lanes.push_back(std::move(l));
    }
    return lanes;
}

json ReportWriter::State::panics_json(const std::vector<size_t> &order) {
    json out = json::array();
    for (const PanicStory &s : panics.stories()) {
        ++panic_endings[s.ended];
        json p;
        p["lane"] = order.at(lane_of.at({s.pid, s.goroutine}));
        p["start"] = s.start_ts;
        p["end"] = s.end_ts;
        p["nesting"] = s.nesting;
        p["kind"] = str_of(s.panic, "kind");
        p["value"] = value_label(s.panic);
        if (s.panic.contains("value") && s.panic["value"].is_string())
            p["value"] = s.panic["value"]; // whole (up to view_args's cut), newlines kept
        p["type"] = str_of(s.panic, "type");
        p["site"] = s.panic.contains("site") ? site_text(s.panic["site"]) : "";
        json stack = json::array();
        if (s.panic.contains("stack") && s.panic["stack"].is_array())
            for (const auto &f : s.panic["stack"])
                stack.push_back(site_text(f));
        if (s.panic.contains("stack_truncated"))
            stack.push_back("... (deeper frames not walked)");
        p["stack"] = std::move(stack);
        json calls = json::array();
        for (const auto &c : s.calls)
            calls.push_back(event_label(c) + (c.contains("site") ? " deferred at " + site_text(c["site"]) : ""));
        p["calls"] = std::move(calls);
        if (s.recover)
            p["recover"] = {{"ts", s.recover_ts},
                            {"site", s.recover->contains("site") ? site_text((*s.recover)["site"]) : ""}};
        if (s.resume)
            p["resume"] = str_of(*s.resume, "resume");
        json failed = json::array();
        for (const auto &r : s.failed_recovers)
            failed.push_back("recover() in " + (r.contains("site") ? site_text(r["site"]) : std::string("?")) +
                             " returned nil: " + str_of(r, "reason"));
        p["failed_recovers"] = std::move(failed);
        p["ended"] = s.ended;
        if (s.aborted_by)
            p["aborted_by"] = value_label(*s.aborted_by);
        out.push_back(std::move(p));
    }
    return out;
}

json ReportWriter::State::leaks_json(const json &leaks, const std::vector<size_t> &order) {
    json out = json::array();
    if (!leaks.is_array())
        return out;
    for (const json &l : leaks) {
        if (!l.is_object())
            continue;
        json r;
        const uint64_t goid =
            l.contains("goroutine") && l["goroutine"].is_number_unsigned() ? l["goroutine"].get<uint64_t>() : 0;
        auto lane_it = lane_of.find({int_of(l, "pid"), goid});
        r["lane"] = lane_it == lane_of.end() ? json() : json(order.at(lane_it->second));
        r["g"] = goid;
        r["start"] = links.began(l, clock).value_or(0);
        r["resource"] = str_of(l, "resource");
        r["state"] = str_of(l, "state");
        json acquired = json::array();
        if (l.contains("acquired") && l["acquired"].is_array())
            for (const auto &f : l["acquired"])
                acquired.push_back(site_text(f));
        r["acquired"] = std::move(acquired);
        if (auto k = LeakLinks::abandoned_by(l, panics))
            r["panic"] = *k;
        if (l.contains("panic") && l["panic"].is_object()) {
            r["panic_value"] = value_label(l["panic"]);
            r["recovered_in"] = str_of(l["panic"], "recovered_in");
        }
        out.push_back(std::move(r));
    }
    return out;
}

json ReportWriter::State::header_json(const json &members) const {
    json h;
    h["program"] = argv_text(header.contains("program") ? header["program"] : json::array());
    h["go_version"] = str_of(header, "go_version");
    if (header.contains("attached_pid"))
        h["attached_pid"] = header["attached_pid"];
    h["mode"] = str_of(header, "mode");
    if (members.contains("exit") && members["exit"].is_object()) {
        json exit = members["exit"];
        exit["kind"] = "exit";
        h["exit"] = event_label(exit);
    } else {
        h["exit"] = "the trace ends before the program did";
    }
    h["timed"] = clock.timed();
    h["duration_us"] = clock.now();
    if (clock.timed())
        h["started"] = utc_time_text(clock.origin_us());
    h["counts"] = counts;
    h["recover_nil"] = recover_nil;
    h["panic_endings"] = panic_endings;
    h["leaks"] = members.contains("leaks") && members["leaks"].is_array() ? members["leaks"].size() : 0;
    h["divergences"] = members.contains("validation") && members["validation"].is_object()
                           ? members["validation"].value("divergences", uint64_t{0})
                       : counts.count("divergence") ? counts.at("divergence")
                                                    : 0;
    return h;
}

ReportWriter::ReportWriter(OutputStream &out) : out_(out), state_(std::make_unique<State>()) {}
ReportWriter::~ReportWriter() = default;

void ReportWriter::begin(const json &header) {
    state_->header = header;
}

void ReportWriter::event(json e) {
    state_->on_event(e);
}

json ReportWriter::data(const json &members) {
    State &s = *state_;
    s.panics.finish(s.clock.now());
    for (const PanicStory &p : s.panics.stories())
        s.lane(p.pid, p.goroutine);
    std::vector<size_t> order;
    json d;
    d["lanes"] = s.lanes_json(order);
    d["panics"] = s.panics_json(order);
    d["leaks"] = s.leaks_json(members.contains("leaks") ? members["leaks"] : json::array(), order);
    d["header"] = s.header_json(members);
    d["divergences"] = json(s.divergences);
    d["kinds"] = kKinds;
    d["strings"] = s.strings;
    json events = json::array();
    for (const auto &e : s.events)
        events.push_back(json::array({e[0], order.at(static_cast<size_t>(e[1])), e[2], e[3], e[4]}));
    d["events"] = std::move(events);
    return d;
}

void ReportWriter::end(const json &members) {
    const json d = data(members);
    out_.write(report_page_head(str_of(d["header"], "program")));
    out_.write("<script type=\"application/json\" id=\"deftrace-data\">");
    out_.write(script_safe(view_dump(d)));
    out_.write("</script>\n");
    out_.write(report_page_tail());
    out_.flush();
}

} // namespace deftrace
