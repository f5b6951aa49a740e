// Event payloads: the JSON each one writes is the trace format (key names, order, and which keys
// are left out), and the text sink formats from the typed fields.
#include "output/sinks.h"
#include "trace/event.h"

#include <gtest/gtest.h>

namespace deftrace {
namespace {

using json = nlohmann::ordered_json;

// The keys of a JSON object, in order, joined by commas.
std::string keys(const json &j) {
    std::string out;
    for (auto it = j.begin(); it != j.end(); ++it)
        out += (out.empty() ? "" : ",") + it.key();
    return out;
}

TEST(EventPayloads, OptionalKeysOnlyWhenSet) {
    EXPECT_EQ(keys(DeferPayload{DeferForm::Heap, {"main.f", ""}, std::nullopt, {}}.to_json()), "defer_kind,fn");
    EXPECT_EQ(keys(DeferPayload{DeferForm::OpenCoded, {"main.f", "main.f.deferwrap1"}, 0, {}}.to_json()),
              "defer_kind,fn,wrapper,bit");
    EXPECT_EQ(keys(DeferPayload{DeferForm::Stack, {"main.f", ""}, std::nullopt, "2a00000000000000"}.to_json()),
              "defer_kind,fn,args");
    EXPECT_EQ(keys(CallPayload{{"main.f", ""}, DeferForm::OpenCoded, 2, "return"}.to_json()),
              "fn,defer_kind,bit,cause");
    EXPECT_EQ(keys(CallPayload{{"main.f", ""}, std::nullopt, std::nullopt, "panic"}.to_json()), "fn,cause");
    EXPECT_EQ(keys(PanicValue{"*errors.errorString", "boom", true}.to_json()), "type,value,error");
    EXPECT_TRUE((PanicValue{"main.T", std::nullopt, false}.to_json()["value"].is_null()));
    EXPECT_EQ(keys(RecoverPayload{true, {"string", "x", true}, ""}.to_json()), "recovered,value,type");
    EXPECT_EQ(keys(RecoverPayload{false, {}, "no panic"}.to_json()), "recovered,reason");
    EXPECT_EQ(keys(RecoveryPayload{}.to_json()), "");
    EXPECT_EQ(keys(ExecPayload{"prog", true, ""}.to_json()), "program,traced");
    EXPECT_EQ(keys(ExecPayload{"false", false, "not a Go program"}.to_json()), "program,traced,note");
    EXPECT_EQ(keys(ExitPayload{9, "SIGKILL", 0}.to_json()), "signal,signal_name");
    EXPECT_EQ(keys(ExitPayload{}.to_json()), "status");
    EXPECT_EQ(keys(LeaksPayload{}.to_json()), "leaks");
    EXPECT_EQ(keys(LeaksPayload{{}, {"a note"}, std::nullopt}.to_json()), "leaks,probe_notes");
    LeakReportPayload on_request;
    EXPECT_EQ(keys(on_request.to_json()), "trigger,leaks");
    EXPECT_EQ(on_request.to_json()["trigger"], "SIGUSR1");
    on_request.probing = false;
    EXPECT_EQ(keys(on_request.to_json()), "trigger,probing,leaks");
    LeakReportPayload aged;
    aged.trigger = LeakReportPayload::Trigger::Age;
    aged.age_limit_s = 30;
    aged.now_us = 2'000'000;
    aged.leaks.push_back(LeakTracker::Leak{"os.File", 0x10, 1'000'000, 1, {}, std::nullopt, ""});
    const auto j = aged.to_json();
    EXPECT_EQ(keys(j), "trigger,leak_age_s,leaks");
    EXPECT_EQ(keys(j["leaks"][0]), "resource,state,goroutine,handle,open_for_s,acquired,acquired_time");
    ChainedPanic chained{{"main.E", "v", true}, false, true, true, "printed"};
    EXPECT_EQ(keys(chained.to_json()), "type,value,error,recovered,goexit,repanicked,printed");
    const ChainedPanic plain{{"string", "v", false}, true, false, false, std::nullopt};
    EXPECT_EQ(keys(plain.to_json()), "type,value,recovered");
    const PendingDeferEntry linked{DeferForm::Stack, {"main.g", ""}, "main.f", std::nullopt};
    EXPECT_EQ(keys(linked.to_json()), "defer_kind,fn,function");
    const PendingDeferEntry open{DeferForm::OpenCoded, {}, "main.f", 1};
    EXPECT_EQ(keys(open.to_json()), "defer_kind,fn,function,bit");
}

TEST(EventPayloads, AFatalErrorSaysItsMessageWhereItWasLearnt) {
    FatalPayload thrown;
    thrown.error = "all goroutines are asleep - deadlock!";
    thrown.pending_truncated = true;
    EXPECT_EQ(keys(thrown.to_json()), "panics,error,pending,pending_truncated");
    FatalPayload while_printing;
    while_printing.error = "panic while printing panic value";
    while_printing.error_while_printing = true;
    EXPECT_EQ(keys(while_printing.to_json()), "panics,pending,error");
    EXPECT_EQ(keys(FatalPayload{}.to_json()), "panics,pending");
}

TEST(EventPayloads, TheEventObjectIsItsHeaderThenItsPayload) {
    Event e;
    e.seq = 3;
    e.goroutine = 1;
    e.kind = EventKind::NeverRun;
    e.payload = NeverRunPayload{"os.Exit", "running", {{DeferForm::Heap, {"main.g", ""}, "main.main", {}}}, false};
    EXPECT_EQ(keys(e.to_json()), "seq,goroutine,kind,cause,status,pending");
    EXPECT_EQ(TextSink::format(e, false), "[g1] os.Exit: 1 deferred call will never run (goroutine running)\n"
                                          "            pending heap main.g in main.main");
}

TEST(EventPayloads, TheTimeAndThreadComeRightAfterTheGoroutine) {
    Event e;
    e.seq = 4;
    e.goroutine = 1;
    e.time_us = 1796424667123456; // 2026-12-04T22:51:07.123456Z
    e.tid = 12345;
    e.kind = EventKind::Recovery;
    e.site = {"main.main", "", 0};
    e.payload = RecoveryPayload{"main.main", std::nullopt};
    const json j = e.to_json();
    EXPECT_EQ(keys(j), "seq,goroutine,time,tid,kind,site,resume");
    EXPECT_EQ(j["time"], "2026-12-04T22:51:07.123456Z");
    EXPECT_EQ(j["tid"], 12345);
    e.tid = 0; // made at no stop of a thread
    EXPECT_EQ(keys(e.to_json()), "seq,goroutine,time,kind,site,resume");
}

TEST(EventPayloads, TimesAreWrittenToTheMicrosecond) {
    EXPECT_EQ(utc_time_text(0), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(utc_time_text(1796424667000001), "2026-12-04T22:51:07.000001Z");
    EXPECT_EQ(utc_time_text(-1), "1969-12-31T23:59:59.999999Z");
    const std::string local = local_time_text(1796424667123456);
    ASSERT_EQ(local.size(), 15u) << local;
    EXPECT_EQ(local[2], ':') << local;
    EXPECT_EQ(local[5], ':') << local;
    EXPECT_EQ(local.substr(8), ".123456") << local;
    const int64_t now = wall_clock_us();
    EXPECT_GT(now, int64_t{1700000000} * 1000000) << "CLOCK_REALTIME in microseconds";
}

TEST(EventPayloads, WithTimestampsTheTextLineStartsWithTheTimeAndThread) {
    Event e;
    e.goroutine = 3;
    e.time_us = 1796424667123456;
    e.tid = 777;
    e.kind = EventKind::Goexit;
    e.site = {"main.w", "/src/main.go", 5};
    const std::string line = TextSink::format(e, false, true);
    EXPECT_EQ(line.substr(0, 16), local_time_text(e.time_us) + " ");
    EXPECT_EQ(line.substr(16), "[777] [g3] runtime.Goexit  at main.w (main.go:5)");
    EXPECT_EQ(TextSink::format(e, false), "[g3] runtime.Goexit  at main.w (main.go:5)") << "not without -t";
    Event exit; // made at no stop: the time, no thread
    exit.kind = EventKind::Exit;
    exit.time_us = e.time_us;
    exit.payload = ExitPayload{std::nullopt, "", 2};
    EXPECT_EQ(TextSink::format(exit, false, true), local_time_text(e.time_us) + " exit: status 2");
}

TEST(EventPayloads, APanicCarriesItsStack) {
    PanicPayload p;
    p.value = {"string", "boom", false};
    EXPECT_EQ(keys(p.to_json()), "type,value,stack");
    EXPECT_TRUE(p.to_json()["stack"].is_array());
    for (int i = 0; i < 10; ++i)
        p.stack.push_back({"main.f" + std::to_string(i), "/src/main.go", 10 + i});
    p.stack_truncated = true;
    p.pending = std::vector<PendingDeferEntry>{};
    const json j = p.to_json();
    EXPECT_EQ(keys(j), "type,value,stack,stack_truncated,pending");
    EXPECT_EQ(j["stack"][0], json({{"function", "main.f0"}, {"file", "/src/main.go"}, {"line", 10}}));
    Event e;
    e.goroutine = 1;
    e.kind = EventKind::Panic;
    e.site = {"main.f0", "/src/main.go", 10};
    p.stack.resize(9);
    p.stack_truncated = false;
    e.payload = p;
    // The first 8 frames under the panic's line, then how many more.
    EXPECT_EQ(TextSink::format(e, false), "[g1] panic \"boom\"  at main.f0 (main.go:10)\n"
                                          "            stack: main.f0 (main.go:10)\n"
                                          "                   main.f1 (main.go:11)\n"
                                          "                   main.f2 (main.go:12)\n"
                                          "                   main.f3 (main.go:13)\n"
                                          "                   main.f4 (main.go:14)\n"
                                          "                   main.f5 (main.go:15)\n"
                                          "                   main.f6 (main.go:16)\n"
                                          "                   main.f7 (main.go:17)\n"
                                          "                   ... 1 more frame");
    p.stack.resize(1);
    p.stack_truncated = true;
    e.payload = p;
    EXPECT_EQ(TextSink::format(e, false), "[g1] panic \"boom\"  at main.f0 (main.go:10)\n"
                                          "            stack: main.f0 (main.go:10)\n"
                                          "                   ... deeper frames not walked");
}

TEST(EventPayloads, TheTextOfAFatalPanicListsItsPendingCallsAfterTheSite) {
    Event e;
    e.goroutine = 1;
    e.kind = EventKind::Fatal;
    e.site = {"main.main", "/src/main.go", 7};
    FatalPayload f;
    f.panics = {{{"main.E", "e\x1b", true}, false, false, false, "E!"}};
    f.pending = {{DeferForm::OpenCoded, {"main.cleanup", ""}, "main.main", 0}};
    e.payload = f;
    EXPECT_EQ(TextSink::format(e, false),
              "[g1] unrecovered panic: e\\x1b (main.E) printed as \"E!\"; pending defers: 1  at main.main (main.go:7)\n"
              "            pending open-coded main.cleanup in main.main");
}

} // namespace
} // namespace deftrace
