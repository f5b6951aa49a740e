// What a person matching a trace against the program's logs relies on, on real testdata programs
// of the release under test (DEFTRACE_GO_MINOR; every release without it):
//   - every JSON event has the wall-clock time it was observed and the thread that stopped, the
//     text trace shows the same with -t, and the normalized trace has neither;
//   - a panic lists the panicking goroutine's stack, the program's frames innermost first.
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

namespace deftrace::testing {
namespace {

using json = nlohmann::ordered_json;

const std::vector<std::string> kEnv = {"GOMAXPROCS=2"};

// The default builds of `programs` by the release under test.
std::vector<BuiltProgram> builds_of(const std::vector<std::string> &programs) {
    const char *minor = std::getenv("DEFTRACE_GO_MINOR");
    std::vector<BuiltProgram> out;
    for (auto &b : load_manifest())
        if (b.variant == "default" && (minor == nullptr || b.minor == minor) &&
            std::find(programs.begin(), programs.end(), b.program) != programs.end())
            out.push_back(std::move(b));
    return out;
}

int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "2026-12-04T22:51:07.123456Z" as microseconds since the epoch; nullopt if it is not that form.
std::optional<int64_t> parse_utc(const std::string &text) {
    static const std::regex form(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$)");
    if (!std::regex_match(text, form))
        return std::nullopt;
    tm t{};
    int micros = 0;
    if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour, &t.tm_min,
                    &t.tm_sec, &micros) != 7)
        return std::nullopt;
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    return static_cast<int64_t>(timegm(&t)) * 1000000 + micros;
}

// The prefix -t writes for a time: the local time of day to the microsecond.
std::string local_prefix(int64_t us) {
    const time_t seconds = static_cast<time_t>(us / 1000000);
    tm t{};
    localtime_r(&seconds, &t);
    char text[32];
    std::snprintf(text, sizeof text, "%02d:%02d:%02d.%06d", t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<int>(us % 1000000));
    return text;
}

std::vector<std::string> lines_of(const std::string &text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

std::string frames_text(const json &stack) {
    std::string out;
    for (const auto &f : stack)
        out +=
            "\n  " + f.value("function", "?") + " " + f.value("file", "?") + ":" + std::to_string(f.value("line", 0));
    return out;
}

TEST(TraceStamps, EveryEventHasTheTimeAndThreadOfItsStopInEveryOutput) {
    ScratchDir tmp("stamps");
    int tried = 0;
    for (const auto &b : builds_of({"goroutines", "main_panic", "recover_patterns", "exec_self"})) {
        SCOPED_TRACE(b.label());
        ++tried;
        const int64_t before = now_us();
        auto r = run_program({DEFTRACE_EXE, "--no-color", "-t", "-o", tmp / "t.txt", "--json", tmp / "t.json",
                              "--jsonl", tmp / "t.jsonl", b.binary()},
                             kEnv);
        const int64_t after = now_us();
        ASSERT_GE(exit_code(r), 0) << describe_status(r.status);
        const json trace = json::parse(slurp(tmp / "t.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        ASSERT_FALSE(trace["events"].empty());

        // Each event: its time, within the run, and its thread; "time" and "tid" right after
        // "seq" and "goroutine". The exit (the last event, and the closing "exit" member) is
        // made at no stop of a thread: its time, no thread.
        std::optional<int64_t> last;
        for (const auto &e : trace["events"]) {
            SCOPED_TRACE(e.dump());
            const std::string kind = e.value("kind", "");
            std::vector<std::string> keys;
            for (auto it = e.begin(); it != e.end() && keys.size() < 5; ++it)
                keys.push_back(it.key());
            if (kind == "exit") {
                EXPECT_EQ(keys, (std::vector<std::string>{"seq", "goroutine", "time", "kind", "status"}));
            } else {
                EXPECT_EQ(keys, (std::vector<std::string>{"seq", "goroutine", "time", "tid", "kind"}));
                EXPECT_GT(e.value("tid", 0), 0) << "no thread";
            }
            const auto t = parse_utc(e.value("time", ""));
            ASSERT_TRUE(t) << "no time, or not RFC 3339 UTC to the microsecond";
            EXPECT_GE(*t, before - 1000000); // a second's slack for clocks that round differently
            EXPECT_LE(*t, after + 1000000);
            // Stops are handled one at a time, in the order of seq: only the events held back
            // and emitted later (a fatal panic's, an exec's never_run) keep an earlier time.
            if (kind == "fatal" || kind == "never_run")
                continue;
            if (last) {
                EXPECT_GE(*t, *last) << "an event observed before the one before it";
            }
            last = t;
        }
        ASSERT_TRUE(trace.contains("exit"));
        EXPECT_EQ(trace["exit"]["time"], trace["events"].back()["time"]) << trace["exit"].dump();
        EXPECT_FALSE(trace["exit"].contains("tid"));

        // The JSON Lines trace has the very same events, stamps included.
        std::vector<json> lines;
        for (const auto &line : lines_of(slurp(tmp / "t.jsonl")))
            lines.push_back(json::parse(line, nullptr, false));
        ASSERT_EQ(lines.size(), trace["events"].size() + 2); // the header, the events, the end
        for (size_t i = 0; i < trace["events"].size(); ++i)
            EXPECT_EQ(lines[i + 1].dump(), trace["events"][i].dump());
        EXPECT_EQ(lines.back()["end"]["exit"], trace["exit"]);

        // With -t, each event's first line in the text trace starts with the local time of day
        // and the thread of the same event in the JSON trace, in the same order; the lines that
        // continue an event are indented; the exit has a time and no thread.
        static const std::regex stamped(R"(^(\d{2}:\d{2}:\d{2}\.\d{6}) (\[(\d+)\] )?(.*)$)");
        std::vector<std::string> firsts;
        for (const auto &line : lines_of(slurp(tmp / "t.txt"))) {
            if (line.starts_with(" "))
                continue;
            std::smatch m;
            ASSERT_TRUE(std::regex_match(line, m, stamped)) << "a line without the time: " << line;
            firsts.push_back(line);
        }
        ASSERT_GE(firsts.size(), trace["events"].size());
        for (size_t i = 0; i < trace["events"].size(); ++i) {
            const json &e = trace["events"][i];
            std::string want = local_prefix(*parse_utc(e["time"].get<std::string>())) + " ";
            if (e.contains("tid"))
                want += "[" + std::to_string(e["tid"].get<int>()) + "] ";
            if (e["goroutine"] != 0)
                want += "[g" + std::to_string(e["goroutine"].get<int>()) + "] ";
            EXPECT_TRUE(firsts[i].starts_with(want)) << "event " << e.dump() << "\n  line " << firsts[i];
            if (e["kind"] == "exit") {
                EXPECT_TRUE(firsts[i].substr(want.size()).starts_with("exit: ")) << firsts[i];
            }
        }
    }
    EXPECT_GT(tried, 0) << "no build of the programs for DEFTRACE_GO_MINOR";
}

TEST(TraceStamps, APanicListsTheProgramsFramesInnermostFirst) {
    ScratchDir tmp("stamps");
    int tried = 0;
    for (const auto &b : builds_of({"main_panic"})) {
        SCOPED_TRACE(b.label());
        ++tried;
        run_program({DEFTRACE_EXE, "--no-color", "-o", tmp / "t.txt", "--json", tmp / "t.json", b.binary()}, kEnv);
        const json trace = json::parse(slurp(tmp / "t.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        const json *panic = nullptr;
        for (const auto &e : trace["events"])
            if (e.value("kind", "") == "panic")
                panic = &e;
        ASSERT_NE(panic, nullptr) << "no panic event";
        // level2 panics (main.go:10), called by level1 (16), called by main (21); runtime.main
        // and the runtime's own frames are left out. Both levels are //go:noinline: no
        // release's inlining changes this.
        const json &stack = (*panic)["stack"];
        ASSERT_EQ(stack.size(), 3u) << frames_text(stack);
        const std::vector<std::pair<std::string, int>> want = {
            {"main.level2", 10}, {"main.level1", 16}, {"main.main", 21}};
        for (size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(stack[i]["function"], want[i].first) << frames_text(stack);
            EXPECT_EQ(stack[i]["line"], want[i].second) << frames_text(stack);
            EXPECT_TRUE(stack[i]["file"].get<std::string>().ends_with("/testdata/main_panic/main.go"))
                << frames_text(stack);
        }
        EXPECT_FALSE(panic->contains("stack_truncated"));
        // The text trace lists them under the panic's line.
        const std::string text = slurp(tmp / "t.txt");
        EXPECT_NE(text.find("  at main.level2 (main.go:10)\n"
                            "            stack: main.level2 (main.go:10)\n"
                            "                   main.level1 (main.go:16)\n"
                            "                   main.main (main.go:21)\n"),
                  std::string::npos)
            << text;
    }
    EXPECT_GT(tried, 0) << "no build of main_panic for DEFTRACE_GO_MINOR";
}

// Every panic of programs that panic in many ways (runtime errors raised through sigpanic, in
// closures, deferred calls that panic and repanic): a stack without the runtime's frames, whose
// innermost frame is where the panic's site is, and which reaches the goroutine's program
// function at the bottom.
TEST(TraceStamps, EveryPanicsStackStartsAtItsSite) {
    ScratchDir tmp("stamps");
    int tried = 0, panics = 0;
    for (const auto &b : builds_of({"recover_patterns", "runtime_issues", "repanic_crash", "goroutines"})) {
        SCOPED_TRACE(b.label());
        ++tried;
        run_program({DEFTRACE_EXE, "--no-color", "-o", "/dev/null", "--json", tmp / "t.json", b.binary()}, kEnv);
        const json trace = json::parse(slurp(tmp / "t.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        bool nil_deref = false;
        for (const auto &e : trace["events"]) {
            const std::string kind = e.value("kind", "");
            if (kind != "panic" && kind != "repanic")
                continue;
            SCOPED_TRACE(e.dump());
            ++panics;
            ASSERT_TRUE(e.contains("stack") && e["stack"].is_array());
            const json &stack = e["stack"];
            ASSERT_FALSE(stack.empty());
            for (const auto &f : stack) {
                const std::string fn = f.value("function", "");
                EXPECT_FALSE(fn.starts_with("runtime.") || fn.starts_with("internal/")) << frames_text(stack);
                EXPECT_GT(f.value("line", 0), 0) << frames_text(stack);
            }
            // The site is the innermost frame outside the runtime, named by the function that
            // holds the code (an inlined call's own frame comes first in the stack).
            EXPECT_EQ(stack[0]["file"], e["site"]["file"]) << frames_text(stack);
            EXPECT_EQ(stack[0]["line"], e["site"]["line"]) << frames_text(stack);
            EXPECT_TRUE(stack.back()["function"].get<std::string>().starts_with("main."))
                << "the program's outermost frame last" << frames_text(stack);
            // recover_patterns' nil dereference faults in a closure of runtimeErrors (main.go:97),
            // whose frame entered the runtime through sigpanic, not a call.
            const std::string value =
                e.contains("value") && e["value"].is_string() ? e["value"].get<std::string>() : "";
            if (b.program == "recover_patterns" && value.find("nil pointer dereference") != std::string::npos) {
                nil_deref = true;
                EXPECT_TRUE(stack[0]["function"].get<std::string>().starts_with("main.runtimeErrors"))
                    << frames_text(stack);
                EXPECT_EQ(stack[0]["line"], 97) << frames_text(stack);
                EXPECT_EQ(stack.back()["function"], "main.main") << frames_text(stack);
            }
        }
        if (b.program == "recover_patterns") {
            EXPECT_TRUE(nil_deref) << "no nil dereference panic";
        }
    }
    EXPECT_GT(tried, 0);
    EXPECT_GT(panics, 0);
}

TEST(TraceStamps, TheNormalizedTraceHasNoTimeThreadOrStack) {
    ScratchDir tmp("stamps");
    int tried = 0;
    for (const auto &b : builds_of({"main_panic", "goroutines"})) {
        SCOPED_TRACE(b.label());
        ++tried;
        run_program({DEFTRACE_EXE, "-o", "/dev/null", "--normalize", "--json", tmp / "n.json", b.binary()}, kEnv);
        const json trace = json::parse(slurp(tmp / "n.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        ASSERT_FALSE(trace["events"].empty());
        for (const auto &e : trace["events"])
            for (const char *k : {"time", "tid", "stack", "stack_truncated"})
                EXPECT_FALSE(e.contains(k)) << k << " in " << e.dump();
        EXPECT_FALSE(trace["exit"].contains("time")) << trace["exit"].dump();
        EXPECT_FALSE(trace["exit"].contains("tid")) << trace["exit"].dump();
    }
    EXPECT_GT(tried, 0);
}

} // namespace
} // namespace deftrace::testing
