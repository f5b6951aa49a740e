// `deftrace [options] PROGRAM [ARGS...]`: run a Go program and trace its defers and panics.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace deftrace {

struct TraceCommandOptions {
    std::vector<std::string> argv;     // the program and its arguments
    std::optional<std::string> output; // -o: text trace to this file instead of stderr
    std::optional<std::string> json;   // --json: JSON trace to this file
    bool no_color = false;
    bool panics_only = false;
};

// Returns the exit status deftrace should end with (the tracee's own); a tracee killed by a
// signal makes deftrace kill itself with the same signal.
int run_trace(const TraceCommandOptions &opts);

} // namespace deftrace
