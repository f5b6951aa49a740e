// The views of a trace (output/timeline.h, report.h, summary.h, panic_stories.h) on traces made
// by hand to hold the hard cases: a recovered panic re-raised from its deferred call and
// recovered further up (the seed's repanic puzzle), a nested panic recovered inside a deferred
// call, an aborted panic, a fatal one, a leak abandoned by a panic, a trace cut short, a panic
// value made of markup. Every testdata trace goes through the same checks in trace.go1.NN.
#include "output/output_stream.h"
#include "output/panic_stories.h"
#include "output/report.h"
#include "output/summary.h"
#include "output/timeline.h"
#include "output/trace_file.h"
#include "views/view_checks.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <unistd.h>

namespace deftrace {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

json site(const char *function, int line) {
    return {{"function", function}, {"file", "/m/main.go"}, {"line", line}};
}

std::string at(int us) {
    char t[40];
    std::snprintf(t, sizeof t, "2026-12-07T10:00:00.%06dZ", us);
    return t;
}

json ev(uint64_t seq, uint64_t g, const char *kind, int us, json extra = json::object()) {
    json e = {{"seq", seq}, {"goroutine", g}, {"time", at(us)}, {"kind", kind}};
    for (auto it = extra.begin(); it != extra.end(); ++it)
        e[it.key()] = it.value();
    return e;
}

// The repanic puzzle on g1 (panic A recovered by its deferred call, which panics A again; that
// panic recovered by main), a panic recovered inside a deferred call of another on g7, a fatal
// panic on g9, a transaction left open by the repanic, and a value of markup.
json story() {
    json events = json::array();
    uint64_t s = 0;
    events.push_back(ev(++s, 1, "defer", 10,
                        {{"site", site("main.main", 5)},
                         {"go_start", "runtime.main"},
                         {"defer_kind", "open-coded"},
                         {"fn", "main.main.func1"}}));
    events.push_back(ev(++s, 1, "acquire", 15,
                        {{"site", site("main.work", 20)}, {"resource", "*sql.Tx"}, {"handle", "0xc000010000"}}));
    events.push_back(ev(++s, 1, "panic", 20,
                        {{"site", site("main.work", 22)},
                         {"type", "string"},
                         {"value", "A"},
                         {"stack", json::array({site("main.work", 22), site("main.main", 6)})}}));
    events.push_back(
        ev(++s, 1, "defer_call", 21, {{"site", site("main.work", 21)}, {"fn", "main.work.func1"}, {"cause", "panic"}}));
    events.push_back(
        ev(++s, 1, "recover", 22,
           {{"site", site("main.work.func1", 30)}, {"recovered", true}, {"type", "string"}, {"value", "A"}}));
    events.push_back(
        ev(++s, 1, "repanic", 23,
           {{"site", site("main.work.func1", 31)}, {"type", "string"}, {"value", "A"}, {"stack", json::array()}}));
    events.push_back(
        ev(++s, 1, "defer_call", 24, {{"site", site("main.main", 5)}, {"fn", "main.main.func1"}, {"cause", "panic"}}));
    events.push_back(
        ev(++s, 1, "recover", 25,
           {{"site", site("main.main.func1", 8)}, {"recovered", true}, {"type", "string"}, {"value", "A"}}));
    events.push_back(
        ev(++s, 1, "recovery", 26, {{"site", site("main.main", 0)}, {"resume", "main.main"}, {"panics_ended", 2}}));
    events.push_back(ev(++s, 7, "panic", 30,
                        {{"site", site("main.g", 40)},
                         {"type", "string"},
                         {"value", "<script>alert(1)</script>"},
                         {"stack", json::array({site("main.g", 40), site("main.worker", 50)})}}));
    events.push_back(ev(++s, 7, "panic", 31, {{"site", site("main.h", 45)}, {"type", "int"}, {"value", "2"}}));
    events.push_back(ev(++s, 7, "recover", 32,
                        {{"site", site("main.h.func1", 46)}, {"recovered", true}, {"type", "int"}, {"value", "2"}}));
    events.push_back(
        ev(++s, 7, "recovery", 33, {{"site", site("main.h", 0)}, {"resume", "main.h"}, {"panics_ended", 1}}));
    events.push_back(ev(++s, 7, "recover", 34,
                        {{"site", site("main.g.func1", 41)},
                         {"recovered", false},
                         {"reason", "not called directly by a deferred function"}}));
    events.push_back(ev(++s, 7, "recover", 35,
                        {{"site", site("main.g.func2", 42)},
                         {"recovered", true},
                         {"type", "string"},
                         {"value", "<script>alert(1)</script>"}}));
    events.push_back(
        ev(++s, 7, "recovery", 36, {{"site", site("main.worker", 0)}, {"resume", "main.worker"}, {"panics_ended", 1}}));
    events.push_back(ev(
        ++s, 9, "panic", 40,
        {{"site", site("main.k", 60)}, {"go_start", "main.main.gowrap1"}, {"type", "error"}, {"value", "fatal one"}}));
    events.push_back(
        ev(++s, 9, "fatal", 41,
           {{"panics", json::array({{{"type", "error"}, {"value", "fatal one"}}})}, {"pending", json::array()}}));
    events.push_back(ev(++s, 0, "exit", 42, {{"status", 2}}));
    json t = {
        {"schema", "deftrace.trace/1"}, {"go_version", "go1.27.3"}, {"program", {"./svc", "-x"}}, {"mode", "full"}};
    t["events"] = events;
    t["leaks"] = json::array(
        {{{"resource", "*sql.Tx"},
          {"state", "abandoned"},
          {"goroutine", 1},
          {"acquired", json::array({site("main.work", 20)})},
          {"panic",
           {{"value", "A"}, {"type", "string"}, {"site", site("main.work", 22)}, {"recovered_in", "main.main"}}}}});
    t["validation"] = {{"observations", 30}, {"divergences", 0}};
    t["exit"] = {{"status", 2}};
    return t;
}

// A view made from a trace text as `deftrace timeline|report` makes it: through a file.
template <typename View> std::string view_of(const std::string &trace_text) {
    const fs::path dir = fs::temp_directory_path() / ("deftrace-views-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const fs::path in = dir / "trace.json", out = dir / "view";
    std::ofstream(in) << trace_text;
    {
        OutputStream o = OutputStream::open(out.string(), OutputStream::Buffering::Full);
        View v(o);
        (void)read_trace_file(in.string(), v);
        o.close();
    }
    std::stringstream s;
    s << std::ifstream(out).rdbuf();
    fs::remove_all(dir);
    return s.str();
}

TEST(PanicStories, TellHowEachPanicEnded) {
    const json t = story();
    PanicStories p;
    int64_t ts = 0;
    for (const auto &e : t["events"])
        p.event(e, ++ts);
    p.finish(ts);
    const auto &s = p.stories();
    ASSERT_EQ(s.size(), 5u);
    EXPECT_EQ(s[0].ended, "recovered, then superseded by a panic of its deferred call"); // the first A
    EXPECT_EQ(s[1].ended, "recovered");                                                  // A re-raised
    EXPECT_EQ(s[1].nesting, 1u);
    ASSERT_TRUE(s[1].resume.has_value());
    EXPECT_EQ((*s[1].resume)["resume"], "main.main");
    EXPECT_FALSE(s[0].resume.has_value());
    EXPECT_EQ(s[0].calls.size(), 1u); // main.work.func1 ran for the first A; main.main.func1 for the second
    EXPECT_EQ(s[1].calls.size(), 1u);
    EXPECT_EQ(s[0].end_ts, s[1].end_ts);        // one recovery ended both
    EXPECT_EQ(s[2].ended, "recovered");         // g7's outer panic: its own recovery, after the nested one
    ASSERT_EQ(s[2].failed_recovers.size(), 1u); // main.g.func1's recover(), not called directly
    EXPECT_EQ(s[2].failed_recovers[0]["reason"], "not called directly by a deferred function");
    EXPECT_EQ(s[3].ended, "recovered");
    EXPECT_LT(s[3].end_ts, s[2].end_ts);
    EXPECT_EQ(s[4].ended, "fatal");
}

TEST(PanicStories, WithoutACountTheNewestRecoveredPanicEndsWithThoseAfterIt) {
    json t = story();
    for (auto &e : t["events"])
        e.erase("panics_ended");
    t["events"].erase(t["events"].size() - 1); // no exit: the trace ends as if cut short
    PanicStories p;
    int64_t ts = 0;
    for (const auto &e : t["events"])
        p.event(e, ++ts);
    EXPECT_EQ(p.stories()[1].ended, "recovered");
    EXPECT_EQ(p.stories()[0].ended, ""); // still in progress: nothing says its frame is gone
    p.finish(ts);
    EXPECT_EQ(p.stories()[0].ended, "open at the end of the trace");
}

TEST(PanicStories, AnAbortedPanicIsNamedByTheEventAfterItsRecovery) {
    json t = story();
    // g1's first panic is not recovered by its deferred call, which panics anew: aborted.
    t["events"][4]["recovered"] = false;
    t["events"][4]["reason"] = "not called directly by a deferred function";
    t["events"][5]["kind"] = "panic";
    t["events"].insert(t["events"].begin() + 9, ev(99, 1, "aborted", 26,
                                                   {{"site", site("main.work", 22)},
                                                    {"type", "string"},
                                                    {"value", "A"},
                                                    {"by", {{"type", "string"}, {"value", "A"}}},
                                                    {"resume", "main.main"}}));
    PanicStories p;
    int64_t ts = 0;
    for (const auto &e : t["events"])
        p.event(e, ++ts);
    EXPECT_EQ(p.stories()[0].ended, "aborted");
    EXPECT_TRUE(p.stories()[0].aborted_by.has_value());
    EXPECT_EQ(p.stories()[1].ended, "recovered");
}

TEST(Timeline, IsWellFormedAndCountsWhatTheTraceHolds) {
    const json t = story();
    const json doc = json::parse(view_of<TimelineWriter>(t.dump()));
    const auto problems = test::timeline_problems(doc, t);
    EXPECT_TRUE(problems.empty()) << test::lines(problems);
    std::map<std::string, std::string> names;
    size_t flows_to_resume = 0;
    for (const auto &e : doc["traceEvents"]) {
        if (e["ph"] == "M" && e["name"] == "thread_name")
            names[std::to_string(e["tid"].get<int64_t>())] = e["args"]["name"];
        if (e["ph"] == "X" && e["cat"] == "recovery" && e.value("flow_in", false))
            ++flows_to_resume;
    }
    EXPECT_EQ(names["1"], "g1 main.main");         // go_start runtime.main: the program's main.main
    EXPECT_EQ(names["7"], "g7 main.worker");       // no go_start: its panic's stack's outermost frame
    EXPECT_EQ(names["9"], "g9 main.main.gowrap1"); // go_start, though its panic's site is main.k
    EXPECT_EQ(flows_to_resume, 3u);                // g1's one recovery, g7's two
    // Times are microseconds from the first event.
    EXPECT_EQ(doc["traceEvents"].back()["ts"].get<int64_t>(), 32);
}

TEST(Timeline, ReadsATraceCutShortAndATraceWithoutTimes) {
    json t = story();
    // JSON Lines, killed after the repanic: the panics still open end where the trace does.
    std::string lines = json{{"schema", "deftrace.trace/1"}, {"format", "jsonl"}, {"program", {"./svc"}}}.dump() + "\n";
    for (size_t i = 0; i < 6; ++i)
        lines += t["events"][i].dump() + "\n";
    lines += "{\"seq\": 7, \"goro";
    const json cut = json::parse(view_of<TimelineWriter>(lines));
    json partial = {{"events", json::array()}};
    for (size_t i = 0; i < 6; ++i)
        partial["events"].push_back(t["events"][i]);
    EXPECT_TRUE(test::timeline_problems(cut, partial).empty()) << test::lines(test::timeline_problems(cut, partial));
    size_t open = 0;
    for (const auto &e : cut["traceEvents"])
        if (e["ph"] == "X" && e["cat"] == "panic" && e["args"]["ended"] == "open at the end of the trace")
            ++open;
    EXPECT_EQ(open, 2u);

    for (auto &e : t["events"])
        e.erase("time");
    const json untimed = json::parse(view_of<TimelineWriter>(t.dump()));
    EXPECT_TRUE(test::timeline_problems(untimed, t).empty()) << test::lines(test::timeline_problems(untimed, t));
    EXPECT_NE(untimed["otherData"]["times"].get<std::string>().find("one microsecond per event"), std::string::npos);
}

TEST(Report, HoldsEveryPanicAndShowsMarkupAsText) {
    const json t = story();
    const std::string page = view_of<ReportWriter>(t.dump());
    const json data = test::report_data(page);
    ASSERT_FALSE(data.is_discarded());
    const auto problems = test::report_problems(data, t);
    EXPECT_TRUE(problems.empty()) << test::lines(problems);
    // The value reached the page only escaped, and the data says it whole.
    EXPECT_EQ(page.find("<script>alert(1)"), std::string::npos);
    EXPECT_EQ(data["panics"][2]["value"], "<script>alert(1)</script>");
    EXPECT_EQ(data["leaks"][0]["panic"], 0); // the first A: the panic of g1 with that value and site
    EXPECT_EQ(data["header"]["program"], "./svc -x");
    EXPECT_EQ(data["header"]["exit"], "exit 2");
    // Nothing in the page can fetch anything.
    for (const char *fetch : {"src=", "href=", "url(", "@import", "fetch(", "XMLHttpRequest", "https:"})
        EXPECT_EQ(page.find(fetch), std::string::npos) << fetch;
    EXPECT_NE(page.find("default-src 'none'"), std::string::npos);
}

TEST(Summary, CountsEachSite) {
    const json t = story();
    Summary s;
    for (const auto &e : t["events"])
        s.add(Summary::of(e));
    const json j = s.to_json();
    EXPECT_TRUE(test::summary_problems(j, t).empty()) << test::lines(test::summary_problems(j, t));
    EXPECT_EQ(j["events"], 18u); // the exit is not counted
    EXPECT_EQ(j["recover_nil"]["not called directly by a deferred function"], 1u);
    const std::string text = s.text();
    EXPECT_NE(text.find("main.main (main.go:5): defer main.main.func1"), std::string::npos) << text;
    EXPECT_NE(text.find("main.worker"), std::string::npos) << text;
}

} // namespace
} // namespace deftrace
