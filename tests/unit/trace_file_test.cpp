// Saved traces are read defensively (output/trace_file.h), and what the JSON sinks stream is what
// the reader reads back (output/sinks.h).
#include "binary/error.h"
#include "output/sinks.h"
#include "output/trace_file.h"

#include <cstdio>
#include <gtest/gtest.h>
#include <string>

namespace deftrace {
namespace {

using json = nlohmann::ordered_json;

// A trace read back as diff and --expect read it: normalized.
json parse_trace(const std::string &text, const std::string &name) {
    LoadedTrace t = load_trace(text, name);
    return t.events->document(t.members);
}

json minimal() {
    return json::parse(R"({"schema":"deftrace.trace/1","program":["p"],"mode":"full","events":[
        {"seq":1,"goroutine":1,"kind":"panic","site":{"function":"main.f","file":"/m/main.go","line":3},
         "type":"string","value":"boom"}],"exit":{"status":2}})");
}

void expect_rejected(const std::string &text, const std::string &why) {
    try {
        (void)parse_trace(text, "t.json");
        ADD_FAILURE() << "accepted: " << text.substr(0, 200);
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line: " << e.what();
    }
}

TEST(TraceFile, AcceptsATrace) {
    json t = parse_trace(minimal().dump(), "t.json");
    EXPECT_EQ(t["events"].size(), 1u);
}

TEST(TraceFile, RejectsMalformedTracesWithOneLine) {
    expect_rejected("{ not json", "not JSON");
    expect_rejected("[]", "not a JSON object");
    expect_rejected(R"({"events":[]})", "schema");
    expect_rejected(R"({"schema":"other/1","events":[]})", "schema");
    expect_rejected(R"({"schema":"deftrace.trace/1"})", "no \"events\"");
    json t = minimal();
    t["events"] = "x";
    expect_rejected(t.dump(), "events is not an array");
    t = minimal();
    t["events"][0]["goroutine"] = "a";
    expect_rejected(t.dump(), "events[0].goroutine");
    t["events"][0]["goroutine"] = -5;
    expect_rejected(t.dump(), "events[0].goroutine");
    t = minimal();
    t["events"][0]["site"] = nullptr;
    expect_rejected(t.dump(), "events[0].site is not an object");
    t = minimal();
    t["events"][0].erase("kind");
    expect_rejected(t.dump(), "no \"kind\"");
    t = minimal();
    t["exit"] = {{"signal", "x"}};
    expect_rejected(t.dump(), "exit.signal");
    t = minimal();
    t["leaks"] = json::array({{{"resource", 3}}});
    expect_rejected(t.dump(), "leaks[0].resource");
    t = minimal();
    t["events"][0]["pending"] = json::array({3});
    expect_rejected(t.dump(), "pending[0] is not an object");
    expect_rejected("{\"schema\":\"deftrace.trace/1\",\"events\":[],\"v\":\"bad\xff\"}", "not JSON");
}

TEST(TraceFile, RefusesDeepNestingBeforeParsing) {
    const std::string deep =
        R"({"schema":"deftrace.trace/1","events":[],"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    expect_rejected(deep, "nested more than");
    // Brackets inside strings are text.
    json t = minimal();
    t["events"][0]["value"] = std::string(1000, '[');
    EXPECT_NO_THROW((void)parse_trace(t.dump(), "t.json"));
}

// What a sink writes to a temporary file, read back.
template <typename MakeSink> std::string through_sink(MakeSink make) {
    FILE *f = std::tmpfile();
    {
        OutputStream out = OutputStream::borrow(f, "tmp");
        auto sink = make(out);
        Event defer;
        defer.seq = 1;
        defer.goroutine = 1;
        defer.kind = EventKind::Panic;
        defer.site = {"main.f", "/m/main.go", 3};
        defer.payload = PanicPayload{{"string", "bad\xff", false}, std::nullopt, {}, false};
        sink.emit(defer);
        Event exit;
        exit.seq = 2;
        exit.kind = EventKind::Exit;
        exit.payload = ExitPayload{std::nullopt, "", 2};
        sink.emit(exit);
        Event validation;
        validation.kind = EventKind::Validation;
        validation.payload = ValidationPayload{5, 0, "go1.22"};
        sink.emit(validation);
        sink.finish();
    }
    std::rewind(f);
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
        text.append(buf, n);
    std::fclose(f);
    return text;
}

json header() {
    return {{"schema", "deftrace.trace/1"}, {"program", {"p"}}, {"mode", "full"}};
}

TEST(TraceFile, TheStreamedJsonTraceIsTheDocument) {
    json kept;
    const std::string text = through_sink([&](OutputStream &out) { return JsonSink(header(), &out, false); });
    json t = parse_trace(text, "streamed");
    ASSERT_EQ(t["events"].size(), 1u); // the exit is the top-level "exit"
    EXPECT_EQ(t["events"][0]["value"], "bad\xef\xbf\xbd");
    EXPECT_EQ(t["events"][0]["value_hex"], "626164ff");
    EXPECT_EQ(t["exit"], json({{"status", 2}}));
    EXPECT_EQ(t["validation"]["divergences"], 0);
}

TEST(TraceFile, JsonLinesAreOneEventALineAndReadBackAsTheSameTrace) {
    const std::string text = through_sink([&](OutputStream &out) { return JsonLinesSink(header(), out); });
    size_t lines = 0;
    for (char c : text)
        lines += c == '\n';
    EXPECT_EQ(lines, 4u) << text; // header, two events, end
    json t = parse_trace(text, "lines");
    EXPECT_EQ(t["events"].size(), 1u);
    EXPECT_EQ(t["events"][0]["value_hex"], "626164ff");
    EXPECT_EQ(t["exit"], json({{"status", 2}}));
    EXPECT_FALSE(t.contains("format"));
    // Cut short (deftrace killed): the lines written are still a trace.
    const std::string cut = text.substr(0, text.find('\n', text.find('\n') + 1) + 1);
    json partial = parse_trace(cut, "cut");
    EXPECT_EQ(partial["events"].size(), 1u);
    EXPECT_FALSE(partial.contains("exit"));
}

TEST(TraceFile, AJsonLinesTraceCutMidLineIsReadUpToItsLastWholeLine) {
    const std::string text = through_sink([&](OutputStream &out) { return JsonLinesSink(header(), out); });
    const size_t second_nl = text.find('\n', text.find('\n') + 1);
    // A full disk stopped the writer 7 bytes into line 3 (the end line): lines 1-2 are whole.
    LoadedTrace t = load_trace(text.substr(0, second_nl + 8), "full-disk");
    EXPECT_EQ(t.cut, "line 3 ends in the middle (the writer stopped there): read up to line 2");
    json partial = t.events->document(t.members);
    EXPECT_EQ(partial["events"].size(), 1u);
    EXPECT_FALSE(partial.contains("exit"));
    // Whole lines leave nothing to say.
    EXPECT_EQ(load_trace(text, "whole").cut, "");
    // A line that is damaged but ends with a newline is not a cut: refused as before.
    expect_rejected(text.substr(0, second_nl + 8) + "\n", "line 3 is not a JSON object");
    // Nor is a damaged header, which leaves no trace to read.
    expect_rejected(text.substr(0, 20), "not JSON");
}

TEST(TraceFile, AWriteErrorIsRememberedNotThrown) {
    FILE *full = std::fopen("/dev/full", "we");
    ASSERT_NE(full, nullptr);
    OutputStream out = OutputStream::borrow(full, "/dev/full");
    TextSink text(out, false);
    Event e;
    e.kind = EventKind::Exit;
    e.payload = ExitPayload{};
    for (int i = 0; i < 10000; ++i) // more than stdio buffers
        text.emit(e);
    text.finish();
    EXPECT_TRUE(out.failed());
    EXPECT_NE(out.failure().find("No space left on device"), std::string::npos) << out.failure();
    std::fclose(full);
}

} // namespace
} // namespace deftrace
