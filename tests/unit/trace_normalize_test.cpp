// normalize_trace and diff_traces on hand-made traces: what CI relies on.
#include "binary/go_names.h"
#include "output/normalize.h"
#include "output/trace_diff.h"

#include <gtest/gtest.h>

namespace deftrace {
namespace {

using json = nlohmann::ordered_json;

json event(uint64_t seq, uint64_t g, const std::string &kind, const std::string &function, const std::string &file,
           int line, json fields = json::object()) {
    json e;
    e["seq"] = seq;
    e["goroutine"] = g;
    e["kind"] = kind;
    e["site"] = {{"function", function}, {"file", file}, {"line", line}};
    for (auto it = fields.begin(); it != fields.end(); ++it)
        e[it.key()] = it.value();
    return e;
}

json raw_trace(std::vector<json> events) {
    json t;
    t["schema"] = "deftrace.trace/1";
    t["go_version"] = "go1.22.12";
    t["program"] = {"/tmp/build/prog", "-v"};
    t["mode"] = "full";
    t["paths"] = {{"main_module", "example.com/app"}, {"module_dir", "/src/app"}, {"goroot", "/usr/lib/go-1.22"}};
    t["events"] = std::move(events);
    t["exit"] = {{"status", 0}};
    return t;
}

const std::string kMain = "/src/app/main.go";

TEST(NormalizeTrace, GroupsPerGoroutineRenumbersAndStripsRunSpecificData) {
    auto t = raw_trace({
        event(1, 7, "defer", "main.worker", kMain, 10, {{"defer_kind", "open-coded"}, {"fn", "main.done"}, {"bit", 0}}),
        event(2, 1, "defer", "main.main", kMain, 20,
              {{"defer_kind", "stack"}, {"fn", "fmt.Println"}, {"wrapper", "main.main.deferwrap1"}}),
        event(3, 7, "panic", "main.worker", kMain, 11, {{"type", "*main.T"}, {"value", "&{0xc000012345}"}}),
        event(4, 1, "defer_call", "main.main", kMain, 20, {{"fn", "fmt.Println"}, {"cause", "return"}}),
        event(5, 0, "exit", "", "", 0, {{"status", 0}}),
    });
    t["events"][4].erase("site");
    json n = normalize_trace(t);
    EXPECT_TRUE(n["normalized"].get<bool>());
    EXPECT_FALSE(n.contains("go_version"));
    EXPECT_FALSE(n.contains("paths"));
    EXPECT_EQ(n["program"], json({"prog", "-v"}));
    ASSERT_EQ(n["events"].size(), 4u); // the exit event is the top-level "exit"
    // The main goroutine first, whatever its id or first appearance; the other becomes 2.
    EXPECT_EQ(n["events"][0]["goroutine"], 1);
    EXPECT_EQ(n["events"][0]["kind"], "defer");
    EXPECT_EQ(n["events"][0]["site"]["file"], "main.go");
    EXPECT_FALSE(n["events"][0].contains("wrapper"));
    EXPECT_FALSE(n["events"][0].contains("seq"));
    EXPECT_EQ(n["events"][1]["kind"], "defer_call");
    EXPECT_EQ(n["events"][2]["goroutine"], 2);
    EXPECT_FALSE(n["events"][2].contains("bit"));
    EXPECT_EQ(n["events"][3]["value"], "&{0x?}");
    EXPECT_EQ(n["exit"]["status"], 0);
    EXPECT_EQ(normalize_trace(n), n) << "normalizing twice changes nothing";
}

// When and on which thread, and a panic's stack (inlining differs between releases), are not part
// of the story an expectation pins down.
TEST(NormalizeTrace, TimesThreadsAndPanicStacksAreLeftOut) {
    const json stamp = {{"time", "2026-12-04T22:51:07.123456Z"}, {"tid", 4242}};
    json panic_fields = stamp;
    panic_fields["type"] = "string";
    panic_fields["value"] = "boom";
    panic_fields["stack"] = json::array({{{"function", "main.f"}, {"file", kMain}, {"line", 11}}});
    panic_fields["stack_truncated"] = true;
    auto t = raw_trace(
        {event(1, 1, "panic", "main.f", kMain, 11, panic_fields), event(2, 1, "recover", "main.f.func1", kMain, 9, [&] {
             json f = stamp;
             f["recovered"] = true;
             return f;
         }())});
    t["exit"] = {{"time", "2026-12-04T22:51:08.000001Z"}, {"status", 0}};
    json n = normalize_trace(t);
    ASSERT_EQ(n["events"].size(), 2u);
    for (const auto &e : n["events"])
        for (const char *k : {"time", "tid", "stack", "stack_truncated"})
            EXPECT_FALSE(e.contains(k)) << k << " in " << e.dump();
    EXPECT_EQ(n["exit"], json({{"status", 0}}));
    // A trace recorded before events had them normalizes to the same document.
    auto old = raw_trace({event(1, 1, "panic", "main.f", kMain, 11, {{"type", "string"}, {"value", "boom"}}),
                          event(2, 1, "recover", "main.f.func1", kMain, 9, {{"recovered", true}})});
    EXPECT_EQ(normalize_trace(old).dump(), n.dump());
}

TEST(NormalizeTrace, LeakReportsMadeWhileTheProgramRanAreLeftOut) {
    json report;
    report["seq"] = 2;
    report["goroutine"] = 0;
    report["kind"] = "leak_report";
    report["trigger"] = "SIGUSR1";
    report["leaks"] = json::array();
    auto with = raw_trace({event(1, 1, "panic", "main.f", kMain, 11, {{"type", "string"}, {"value", "boom"}}), report});
    auto without = raw_trace({event(1, 1, "panic", "main.f", kMain, 11, {{"type", "string"}, {"value", "boom"}})});
    EXPECT_EQ(normalize_trace(with).dump(), normalize_trace(without).dump());
}

TEST(NormalizeTrace, RacingGoroutinesGetTheSameNumbersWhateverTheirOrder) {
    auto a = raw_trace({
        event(1, 1, "defer", "main.main", kMain, 5, {{"defer_kind", "heap"}, {"fn", "main.f"}}),
        event(2, 19, "panic", "main.work", kMain, 30, {{"type", "string"}, {"value", "b"}}),
        event(3, 18, "panic", "main.work", kMain, 30, {{"type", "string"}, {"value", "a"}}),
    });
    auto b = raw_trace({
        event(1, 1, "defer", "main.main", kMain, 5, {{"defer_kind", "heap"}, {"fn", "main.f"}}),
        event(2, 33, "panic", "main.work", kMain, 30, {{"type", "string"}, {"value", "a"}}),
        event(3, 34, "panic", "main.work", kMain, 30, {{"type", "string"}, {"value", "b"}}),
    });
    EXPECT_EQ(normalize_trace(a).dump(), normalize_trace(b).dump());
    EXPECT_TRUE(diff_traces(a, b).same);
}

TEST(NormalizeTrace, GoroutineZeroStaysZero) {
    // A fatal error the scheduler raises (a deadlock) belongs to no goroutine: 0 keeps meaning
    // that, and the goroutines are numbered without it.
    auto t = raw_trace({
        event(1, 9, "defer", "main.worker", kMain, 10, {{"defer_kind", "open-coded"}, {"fn", "main.done"}}),
        event(2, 0, "fatal", "", "", 0,
              {{"panics", json::array()},
               {"error", "all goroutines are asleep - deadlock!"},
               {"pending", json::array()}}),
        event(3, 9, "never_run", "", "", 0,
              {{"cause", "fatal error"},
               {"status", "waiting"},
               {"pending",
                json::array({{{"defer_kind", "open-coded"}, {"fn", "main.done"}, {"function", "main.worker"}}})}}),
    });
    t["events"][1].erase("site");
    t["events"][2].erase("site");
    json n = normalize_trace(t);
    ASSERT_EQ(n["events"].size(), 3u);
    for (const auto &e : n["events"]) {
        if (e["kind"] == "fatal")
            EXPECT_EQ(e["goroutine"], 0);
        else
            EXPECT_EQ(e["goroutine"], 1) << e.dump();
    }
}

TEST(NormalizeTrace, StandardLibraryDefersAndPathsAreNormalized) {
    auto t = raw_trace({
        event(1, 1, "defer", "sync.(*Pool).pinSlow", "/usr/lib/go-1.22/src/sync/pool.go", 229,
              {{"defer_kind", "open-coded"}, {"fn", "sync.(*Pool).pinSlow.deferwrap1"}}),
        event(2, 1, "recover", "fmt.(*pp).catchPanic", "/usr/lib/go-1.22/src/fmt/print.go", 540,
              {{"recovered", false}, {"reason", "no panic"}}),
        event(3, 1, "recover", "net/http.(*conn).serve.func1", "/usr/lib/go-1.22/src/net/http/server.go", 1868,
              {{"recovered", true}, {"type", "string"}, {"value", "boom"}}),
        event(4, 1, "defer", "example.com/app/db.Open", "/src/app/db/db.go", 3,
              {{"defer_kind", "open-coded"}, {"fn", "example.com/app/db.close"}}),
        event(5, 1, "defer", "main.generic[go.shape.int]", kMain, 9, {{"defer_kind", "open-coded"}, {"fn", "main.g"}}),
    });
    json n = normalize_trace(t);
    ASSERT_EQ(n["events"].size(), 3u);
    EXPECT_EQ(n["events"][0]["site"]["file"], "$GOROOT/src/net/http/server.go"); // a recover that stopped a panic
    EXPECT_EQ(n["events"][1]["site"]["file"], "db/db.go");
    EXPECT_EQ(n["events"][2]["site"]["function"], "main.generic[...]");
}

// -f: two children of the same program, started by two racing goroutines in either order, with
// other pids: the same normalized trace; each child's events named by its command line, after
// the program's.
json child(uint64_t seq, uint64_t g, int pid, const std::vector<std::string> &argv) {
    json e;
    e["seq"] = seq;
    e["goroutine"] = g;
    e["kind"] = "child";
    e["child_pid"] = pid;
    e["program"] = "prog";
    e["argv"] = argv;
    e["traced"] = true;
    return e;
}

json of_pid(json e, int pid) {
    json out;
    out["seq"] = e["seq"];
    out["pid"] = pid;
    for (auto it = e.begin(); it != e.end(); ++it)
        if (it.key() != "seq")
            out[it.key()] = it.value();
    return out;
}

json two_children(int a_pid, int b_pid, bool a_first) {
    std::vector<json> ev;
    uint64_t seq = 0;
    auto run = [&](uint64_t g, int pid, const std::string &name) {
        ev.push_back(child(++seq, g, pid, {"/tmp/go-build1/b001/prog", name, "-o=/tmp/go-build1/x.a"}));
        ev.push_back(
            of_pid(event(++seq, 1U, "panic", "main.main", kMain, 5, {{"type", "string"}, {"value", name}}), pid));
        ev.push_back(of_pid(event(++seq, 0U, "exit", "", "", 0, {{"status", name == "a" ? 3 : 4}}), pid));
        ev.back().erase("site");
    };
    // Goroutines 5 and 6 race; which of them gets which id, and which starts first, varies.
    if (a_first) {
        run(5U, a_pid, "a");
        run(6U, b_pid, "b");
    } else {
        run(5U, b_pid, "b");
        run(6U, a_pid, "a");
    }
    return raw_trace(ev);
}

TEST(NormalizeTrace, ChildProcessesAreNamedByCommandLineNotPidOrOrder) {
    const json n1 = normalize_trace(two_children(100, 200, true));
    const json n2 = normalize_trace(two_children(4321, 1234, false));
    EXPECT_EQ(n1.dump(), n2.dump());
    // The program's goroutines first, each with its child event (no pid, paths cut to their last
    // element); then the children's, by name, numbered on.
    ASSERT_EQ(n1["events"].size(), 6U) << n1.dump(2);
    EXPECT_EQ(n1["events"][0]["kind"], "child");
    EXPECT_EQ(n1["events"][0]["goroutine"], 1);
    EXPECT_FALSE(n1["events"][0].contains("child_pid"));
    EXPECT_EQ(n1["events"][0]["argv"], json({"prog", "a", "x.a"}));
    EXPECT_EQ(n1["events"][1]["goroutine"], 2);
    for (size_t i = 2; i < 6; ++i) {
        const json &e = n1["events"][i];
        EXPECT_FALSE(e.contains("pid"));
        EXPECT_EQ(e["process"], i < 4 ? "prog a x.a" : "prog b x.a") << e;
        EXPECT_EQ(e["goroutine"], i + 1) << e;
        if (e["kind"] == "exit") { // a child's exit keeps its status
            EXPECT_EQ(e["status"], i < 4 ? 3 : 4);
        }
    }
    // The program's own exit stays the closing member only.
    EXPECT_EQ(n1["exit"]["status"], 0);
}

TEST(NormalizeTrace, GoTestFlagsAreLeftOutOfTheProgram) {
    auto t = raw_trace({});
    t["program"] = {"/tmp/go-build9/b001/pkg.test", "-test.paniconexit0", "-test.timeout=10m0s", "-test.run=X"};
    EXPECT_EQ(normalize_trace(t)["program"], json({"pkg.test", "-test.run=X"}));
}

TEST(IsStdFunction, TellsTheStandardLibraryFromTheProgram) {
    EXPECT_TRUE(is_std_function("net/http.(*conn).serve", "example.com/app"));
    EXPECT_TRUE(is_std_function("sync.(*Mutex).Unlock", "app"));
    EXPECT_FALSE(is_std_function("main.main", "app"));
    EXPECT_FALSE(is_std_function("app/internal/db.Open", "app"));
    EXPECT_FALSE(is_std_function("github.com/lib/pq.(*conn).Close", "app"));
}

TEST(DiffTraces, ReportsWhichGoroutineAndEventDiffer) {
    auto want = raw_trace({
        event(1, 1, "defer", "main.main", kMain, 5, {{"defer_kind", "open-coded"}, {"fn", "main.a"}}),
        event(2, 1, "defer_call", "main.main", kMain, 5, {{"fn", "main.a"}, {"cause", "return"}}),
        event(3, 4, "panic", "main.w", kMain, 9, {{"type", "string"}, {"value", "x"}}),
    });
    auto got = want;
    got["events"][1]["cause"] = "panic";
    got["exit"] = {{"status", 2}};
    TraceDiff d = diff_traces(want, got);
    EXPECT_FALSE(d.same);
    EXPECT_NE(d.report.find("goroutine 1:"), std::string::npos) << d.report;
    EXPECT_NE(d.report.find("- expected event 2: defer_call main.go:5 main.main  fn=main.a  cause=return"),
              std::string::npos)
        << d.report;
    EXPECT_NE(d.report.find("+ actual   event 2: defer_call main.go:5 main.main  fn=main.a  cause=panic"),
              std::string::npos)
        << d.report;
    EXPECT_EQ(d.report.find("goroutine 2:"), std::string::npos) << "goroutine 2 is the same\n" << d.report;
    EXPECT_NE(d.report.find("exit: expected status 0, actual status 2"), std::string::npos) << d.report;
}

TEST(DiffTraces, AMissingEventIsReportedAlone) {
    auto want = raw_trace({
        event(1, 1, "defer", "main.main", kMain, 5, {{"defer_kind", "heap"}, {"fn", "main.a"}}),
        event(2, 1, "defer", "main.main", kMain, 6, {{"defer_kind", "heap"}, {"fn", "main.b"}}),
        event(3, 1, "defer_call", "main.main", kMain, 6, {{"fn", "main.b"}, {"cause", "return"}}),
    });
    auto got = want;
    got["events"].erase(1);
    TraceDiff d = diff_traces(want, got);
    EXPECT_FALSE(d.same);
    EXPECT_EQ(d.report, "goroutine 1:\n  - expected event 2: defer main.go:6 main.main  defer_kind=heap  fn=main.b\n");
    EXPECT_TRUE(diff_traces(want, want).same);
}

// validation (docs/validation.md): only the divergence count survives normalization, and it is
// compared only when the expectation records it (expectations older than validation do not).
TEST(DiffTraces, ValidationDivergencesAreComparedWhenExpected) {
    auto with = [](uint64_t observations, uint64_t divergences) {
        auto t = raw_trace({event(1, 1, "panic", "main.main", kMain, 5, {{"type", "string"}, {"value", "x"}})});
        t["validation"] = {{"observations", observations}, {"divergences", divergences}};
        return t;
    };
    json n = normalize_trace(with(1234, 0));
    ASSERT_TRUE(n.contains("validation"));
    EXPECT_EQ(n["validation"], json({{"divergences", 0}}));
    EXPECT_TRUE(diff_traces(with(10, 0), with(99, 0)).same) << "observations vary between releases";
    TraceDiff d = diff_traces(with(10, 0), with(10, 2));
    EXPECT_FALSE(d.same);
    EXPECT_NE(d.report.find("validation: expected 0 divergences, actual 2"), std::string::npos) << d.report;
    json old = with(10, 0);
    old.erase("validation");
    EXPECT_TRUE(diff_traces(old, with(10, 2)).same) << "an expectation without validation does not compare it";
}

} // namespace
} // namespace deftrace
