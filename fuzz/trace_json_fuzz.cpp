// Reading a saved trace as `deftrace diff` and `--expect` do: load_trace (JSON document or JSON
// Lines, checked and normalized as it is parsed), the normalized document written and read back,
// diff_traces against itself and against a fixed trace; and as `deftrace timeline`, `report` and
// `summary` do (read_trace into each view, written to /dev/null). The only acceptable failure is a
// deftrace::Error (the input is not a deftrace trace); a nlohmann::json exception escaping the
// normalizer or the diff means the shape check let a malformed member through.
#include "fuzz_common.h"
#include "output/normalize.h"
#include "output/report.h"
#include "output/summary.h"
#include "output/timeline.h"
#include "output/trace_diff.h"
#include "output/trace_file.h"

#include <string_view>

using namespace deftrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const nlohmann::ordered_json reference = nlohmann::ordered_json::parse(
        R"({"schema":"deftrace.trace/1","program":["p"],"mode":"full","paths":{"main_module":"m",
            "module_dir":"/m","goroot":"/g"},"events":[{"seq":1,"goroutine":1,"kind":"panic",
            "site":{"function":"main.f","file":"/m/main.go","line":3},"type":"string","value":"x"},
            {"seq":2,"goroutine":0,"kind":"exit","status":2}],"exit":{"status":2}})");
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    fuzz::run_reader([&] {
        const LoadedTrace trace = load_trace(text, "fuzz");
        const TraceDiff self = diff_traces(*trace.events, trace.members, *trace.events, trace.members);
        if (!self.same)
            __builtin_trap(); // a trace always equals itself
        const nlohmann::ordered_json normalized = trace.events->document(trace.members);
        const LoadedTrace again = load_trace(normalized.dump(), "fuzz (normalized)");
        (void)diff_traces(*trace.events, trace.members, *again.events, again.members);
        (void)diff_traces(reference, normalized);
        (void)diff_traces(normalized, reference);
        OutputStream sink = OutputStream::open("/dev/null", OutputStream::Buffering::Full);
        TimelineWriter timeline(sink);
        (void)read_trace(text, "fuzz", timeline);
        ReportWriter report(sink);
        (void)read_trace(text, "fuzz", report);
        Summary summary;
        SummaryVisitor counter(summary);
        (void)read_trace(text, "fuzz", counter);
        (void)summary.text();
    });
    return 0;
}
