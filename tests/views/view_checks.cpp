#include "view_checks.h"

#include "output/output_stream.h"
#include "output/report.h"
#include "output/summary.h"
#include "output/timeline.h"
#include "output/trace_file.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace deftrace::test {

namespace {

using json = nlohmann::ordered_json;

std::string kind_of(const json &e) {
    return e.is_object() && e.contains("kind") && e["kind"].is_string() ? e["kind"].get<std::string>() : "";
}

// How many of the trace's events are of the kinds given (recovers: only those that stopped a
// panic when `recovered_only`).
size_t count_events(const json &trace, std::set<std::string> kinds, bool recovered_only = false) {
    size_t n = 0;
    for (const auto &e : trace["events"])
        if (kinds.count(kind_of(e)) && (!recovered_only || e.value("recovered", false)))
            ++n;
    return n;
}

size_t count_leaks(const json &trace) {
    return trace.contains("leaks") && trace["leaks"].is_array() ? trace["leaks"].size() : 0;
}

bool has_int(const json &e, const char *k) {
    return e.contains(k) && e[k].is_number_integer();
}

void check_fields(const json &e, size_t i, std::vector<std::string> &out) {
    const std::string where = "traceEvents[" + std::to_string(i) + "]";
    const std::string ph = e.value("ph", "");
    if (!has_int(e, "pid"))
        out.push_back(where + " has no pid");
    if (ph == "M") {
        static const std::set<std::string> names = {"process_name", "process_sort_index", "thread_name",
                                                    "thread_sort_index"};
        if (!names.count(e.value("name", "")) || !e.contains("args") || !e["args"].is_object())
            out.push_back(where + ": metadata without a known name or args");
        return;
    }
    if (!has_int(e, "ts") || e["ts"].get<int64_t>() < 0)
        out.push_back(where + " has no ts of 0 or more");
    if (!has_int(e, "tid"))
        out.push_back(where + " has no tid");
    if (ph == "X") {
        if (!has_int(e, "dur") || e["dur"].get<int64_t>() < 0)
            out.push_back(where + ": a slice without a duration of 0 or more");
        if (!e.contains("name") || !e["name"].is_string() || !e.contains("cat"))
            out.push_back(where + ": a slice without a name or cat");
    } else if (ph == "i") {
        const std::string s = e.value("s", "");
        if (s != "t" && s != "p" && s != "g")
            out.push_back(where + ": an instant without a scope");
        if (!e.contains("name") || !e["name"].is_string())
            out.push_back(where + ": an instant without a name");
    } else if (ph == "s" || ph == "f") {
        if (!e.contains("id"))
            out.push_back(where + ": a flow event without an id");
        if (ph == "f" && e.value("bp", "") != "e")
            out.push_back(where + ": a flow end not bound to its enclosing slice");
    } else {
        out.push_back(where + ": unknown phase " + ph);
    }
}

// Slices on one track nest: sorted by start (the longer first), each lies within the innermost
// one still open, or starts where it ended.
void check_nesting(const std::vector<const json *> &slices, const std::string &track, std::vector<std::string> &out) {
    std::vector<const json *> sorted = slices;
    std::stable_sort(sorted.begin(), sorted.end(), [](const json *a, const json *b) {
        const int64_t ta = (*a)["ts"], tb = (*b)["ts"];
        return ta != tb ? ta < tb : (*a)["dur"].get<int64_t>() > (*b)["dur"].get<int64_t>();
    });
    std::vector<std::pair<int64_t, const json *>> open; // end, slice
    for (const json *s : sorted) {
        const int64_t ts = (*s)["ts"], end = ts + (*s)["dur"].get<int64_t>();
        while (!open.empty() && open.back().first <= ts && !(open.back().first == ts && end == ts))
            open.pop_back();
        if (!open.empty() && end > open.back().first) {
            out.push_back("on " + track + ", slice \"" + (*s)["name"].get<std::string>() + "\" [" + std::to_string(ts) +
                          ", " + std::to_string(end) + "] overlaps \"" +
                          (*open.back().second)["name"].get<std::string>() + "\" ending at " +
                          std::to_string(open.back().first) + " in part");
            continue;
        }
        open.emplace_back(end, s);
    }
}

} // namespace

std::vector<std::string> timeline_problems(const json &timeline, const json &trace) {
    std::vector<std::string> out;
    if (!timeline.is_object() || !timeline.contains("traceEvents") || !timeline["traceEvents"].is_array())
        return {"no traceEvents array"};
    const json &events = timeline["traceEvents"];
    std::map<std::pair<int64_t, int64_t>, std::vector<const json *>> slices;
    std::map<std::pair<int64_t, int64_t>, int64_t> last_ts;
    std::map<std::string, std::pair<size_t, size_t>> flows_v2; // bind_id: outs, ins
    std::map<std::string, std::pair<size_t, size_t>> flows_v1; // id: s, f
    std::map<std::string, size_t> slices_by_cat, instants_by_cat;
    for (size_t i = 0; i < events.size(); ++i) {
        const json &e = events[i];
        check_fields(e, i, out);
        const std::string ph = e.value("ph", "");
        if (ph == "M" || !has_int(e, "tid") || !has_int(e, "ts"))
            continue;
        const auto track = std::make_pair(e["pid"].get<int64_t>(), e["tid"].get<int64_t>());
        auto [it, added] = last_ts.try_emplace(track, e["ts"].get<int64_t>());
        if (!added && e["ts"].get<int64_t>() < it->second)
            out.push_back("traceEvents[" + std::to_string(i) + "] goes back in time on its track");
        it->second = std::max(it->second, e["ts"].get<int64_t>());
        if (ph == "X" && has_int(e, "dur")) {
            slices[track].push_back(&e);
            ++slices_by_cat[e.value("cat", "")];
            if (e.contains("bind_id")) {
                auto &f = flows_v2[e["bind_id"].dump()];
                f.first += e.value("flow_out", false) ? 1 : 0;
                f.second += e.value("flow_in", false) ? 1 : 0;
            }
        } else if (ph == "i") {
            ++instants_by_cat[e.value("cat", "")];
        } else if (ph == "s" || ph == "f") {
            auto &f = flows_v1[e["id"].dump()];
            (ph == "s" ? f.first : f.second) += 1;
        }
    }
    for (const auto &[track, list] : slices)
        check_nesting(list, "pid " + std::to_string(track.first) + " tid " + std::to_string(track.second), out);
    for (const auto &[id, f] : flows_v2)
        if ((f.first > 0) != (f.second > 0))
            out.push_back("flow " + id + " has " + std::to_string(f.first) + " start(s) and " +
                          std::to_string(f.second) + " end(s)");
    for (const auto &[id, f] : flows_v1)
        if (f.first != 1 || f.second != 1)
            out.push_back("flow " + id + " (s/f) has " + std::to_string(f.first) + " start(s) and " +
                          std::to_string(f.second) + " end(s)");
    auto same = [&](const char *what, size_t got, size_t want) {
        if (got != want)
            out.push_back(std::string(what) + ": " + std::to_string(got) + " on the timeline, " + std::to_string(want) +
                          " in the trace");
    };
    same("panic slices", slices_by_cat["panic"], count_events(trace, {"panic", "repanic"}));
    same("recover slices", slices_by_cat["recover"], count_events(trace, {"recover"}, true));
    same("leak slices", slices_by_cat["leak"], count_leaks(trace));
    same("divergence instants", instants_by_cat["divergence"], count_events(trace, {"divergence"}));
    return out;
}

json report_data(const std::string &page) {
    const std::string open = "<script type=\"application/json\" id=\"deftrace-data\">";
    const size_t at = page.find(open);
    if (at == std::string::npos || page.find(open, at + 1) != std::string::npos)
        return json(json::value_t::discarded);
    const size_t from = at + open.size(), to = page.find("</script>", from);
    if (to == std::string::npos)
        return json(json::value_t::discarded);
    return json::parse(page.substr(from, to - from), nullptr, false);
}

std::vector<std::string> report_problems(const json &data, const json &trace) {
    std::vector<std::string> out;
    if (!data.is_object() || !data.contains("panics") || !data.contains("lanes") || !data.contains("header"))
        return {"no report data"};
    const size_t panics = count_events(trace, {"panic", "repanic"});
    if (data["panics"].size() != panics)
        out.push_back(std::to_string(data["panics"].size()) + " panics in the report, " + std::to_string(panics) +
                      " in the trace");
    for (const auto &p : data["panics"]) {
        const size_t lane = p.value("lane", size_t{0});
        if (lane >= data["lanes"].size())
            out.push_back("a panic on no lane");
        if (p.value("end", int64_t{0}) < p.value("start", int64_t{0}))
            out.push_back("a panic that ends before it starts");
        if (p.value("ended", "").empty())
            out.push_back("a panic that never ends");
    }
    if (data["leaks"].size() != count_leaks(trace))
        out.push_back("leaks: " + std::to_string(data["leaks"].size()) + " in the report, " +
                      std::to_string(count_leaks(trace)) + " in the trace");
    const json &counts = data["header"]["counts"];
    for (const char *k : {"defer", "defer_call", "panic", "repanic", "divergence"})
        if (counts.value(k, size_t{0}) != count_events(trace, {k}))
            out.push_back(std::string("header count of ") + k + " differs from the trace's");
    return out;
}

std::vector<std::string> summary_problems(const json &summary, const json &trace) {
    std::vector<std::string> out;
    size_t defers = 0, calls = 0, panics = 0, recovered = 0, nil = 0;
    auto sum = [](const json &site, const char *key) {
        size_t n = 0;
        if (site.contains(key))
            for (const auto &[k, v] : site[key].items())
                n += v.get<size_t>();
        return n;
    };
    for (const auto &s : summary["sites"]) {
        defers += sum(s, "defers");
        calls += sum(s, "calls");
        nil += sum(s, "recover_nil");
        panics += s.value("panics", size_t{0});
        recovered += s.value("recovered", size_t{0});
    }
    auto same = [&](const char *what, size_t got, size_t want) {
        if (got != want)
            out.push_back(std::string(what) + ": " + std::to_string(got) + " in the summary, " + std::to_string(want) +
                          " in the trace");
    };
    same("defers", defers, count_events(trace, {"defer"}));
    same("deferred calls", calls, count_events(trace, {"defer_call"}));
    same("panics", panics, count_events(trace, {"panic", "repanic"}));
    same("recovers that stopped a panic", recovered, count_events(trace, {"recover"}, true));
    same("recovers that returned nil", nil, count_events(trace, {"recover"}) - count_events(trace, {"recover"}, true));
    return out;
}

namespace {
template <typename View> std::string view_text(const std::string &trace_path, const std::string &out_path) {
    {
        OutputStream o = OutputStream::open(out_path, OutputStream::Buffering::Full);
        View v(o);
        (void)read_trace_file(trace_path, v);
        o.close();
    }
    std::stringstream s;
    s << std::ifstream(out_path).rdbuf();
    return s.str();
}
} // namespace

std::vector<std::string> views_problems(const std::string &trace_path, const json &trace,
                                        const std::string &scratch_dir) {
    std::vector<std::string> out;
    const json timeline =
        json::parse(view_text<TimelineWriter>(trace_path, scratch_dir + "/timeline.json"), nullptr, false);
    for (auto &p : timeline.is_discarded() ? std::vector<std::string>{"the timeline is not JSON"}
                                           : timeline_problems(timeline, trace))
        out.push_back("timeline: " + p);
    const json data = report_data(view_text<ReportWriter>(trace_path, scratch_dir + "/report.html"));
    for (auto &p : data.is_discarded() ? std::vector<std::string>{"no data in the page"} : report_problems(data, trace))
        out.push_back("report: " + p);
    Summary summary;
    SummaryVisitor counter(summary);
    (void)read_trace_file(trace_path, counter);
    for (auto &p : summary_problems(summary.to_json(), trace))
        out.push_back("summary: " + p);
    return out;
}

bool view_checks_enabled() {
    const char *v = std::getenv("DEFTRACE_VIEW_CHECKS");
    return v == nullptr || std::string(v) != "0";
}

std::string lines(const std::vector<std::string> &problems) {
    std::string s;
    for (const auto &p : problems)
        s += "  " + p + "\n";
    return s;
}

} // namespace deftrace::test
