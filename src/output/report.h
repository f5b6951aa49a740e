// A trace as one self-contained HTML page, for a CI artifact or a bug report: `deftrace report
// TRACE -o report.html` from a saved --json or --jsonl trace, `--report FILE` while tracing.
//
// The page needs nothing but itself: no network request, no external script, font or style (its
// Content-Security-Policy forbids them, and it counts what it loaded). It holds
//   - a header: the program, its Go release, how it ended, how long it ran, and the counts of
//     defers, deferred calls, panics (recovered, fatal, aborted), recover() calls that returned
//     nil and why, leaks and divergences;
//   - goroutine lanes on one time axis (SVG): panics as bars from start to end, the recover that
//     stopped each, leaks from their acquisition on; zoom (wheel) and pan (drag). Only the lanes
//     in view are drawn, and a lane's events are drawn at most once per pixel column, so a trace
//     of 100,000 events on thousands of goroutines stays responsive;
//   - the panic list: each panic's value, site, stack, the deferred calls that ran for it, the
//     recover that stopped it (or why none did) and where execution resumed; selecting one (a
//     click, or #panic=N in the address) shows it on the lanes;
//   - the leaks, each with the panic that abandoned it and the frame that recovered.
// Every string from the program reaches the page as text (the data is JSON inside a script
// element with '<', '>' and '&' escaped, and the page sets it with textContent): a panic value
// holding markup is shown, never interpreted.
#pragma once

#include "output/output_stream.h"
#include "output/trace_visitor.h"

#include <memory>
#include <nlohmann/json.hpp>

namespace deftrace {

class ReportWriter : public TraceVisitor {
public:
    // Writes the page to `out` at end().
    explicit ReportWriter(OutputStream &out);
    ~ReportWriter() override;
    ReportWriter(const ReportWriter &) = delete;
    ReportWriter &operator=(const ReportWriter &) = delete;

    void begin(const nlohmann::ordered_json &header) override;
    void event(nlohmann::ordered_json e) override;
    void end(const nlohmann::ordered_json &members) override;

    // What the page's script reads (tests look at it without a browser).
    [[nodiscard]] nlohmann::ordered_json data(const nlohmann::ordered_json &members);

private:
    struct State;
    OutputStream &out_;
    std::unique_ptr<State> state_;
};

} // namespace deftrace
