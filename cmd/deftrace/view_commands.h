// The views of a saved trace (--json or --jsonl, one cut short included):
//   deftrace timeline TRACE [-o FILE]   the Trace Event Format, for Perfetto or chrome://tracing
//   deftrace report TRACE [-o FILE]     one self-contained HTML page
//   deftrace summary TRACE [--json]     the -c tables
// Each writes to FILE, or to standard output without -o, and returns 0; a trace that is not one
// is one line and kExitUsage, as for diff.
#pragma once

#include <optional>
#include <string>

namespace deftrace {

enum class TraceView { Timeline, Report, Summary };

struct ViewCommandOptions {
    TraceView view = TraceView::Timeline;
    std::string trace;                 // the saved trace
    std::optional<std::string> output; // -o
    bool json = false;                 // summary --json
};

int run_view(const ViewCommandOptions &opts);

} // namespace deftrace
