// Event payloads: the JSON each one writes is the trace format (key names, order, and which keys
// are left out), and the text sink formats from the typed fields.
#include "trace/event.h"
#include "trace/sinks.h"

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
    EXPECT_EQ(keys(DeferPayload{DeferForm::Heap, {"main.f", ""}, std::nullopt}.to_json()), "defer_kind,fn");
    EXPECT_EQ(keys(DeferPayload{DeferForm::OpenCoded, {"main.f", "main.f.deferwrap1"}, 0}.to_json()),
              "defer_kind,fn,wrapper,bit");
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
    EXPECT_EQ(keys(LeaksPayload{{}, {"a note"}}.to_json()), "leaks,probe_notes");
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
