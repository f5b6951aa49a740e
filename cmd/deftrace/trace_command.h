// `deftrace [options] PROGRAM [ARGS...]`: run a Go program and trace its defers and panics.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace deftrace {

struct TraceCommandOptions {
    std::vector<std::string> argv;     // the program and its arguments
    std::optional<int> pid;            // -p: attach to this running process instead (argv empty)
    std::optional<double> duration;    // --duration: with -p, detach after this many seconds
    std::optional<std::string> output; // -o: text trace to this file instead of stderr
    std::optional<std::string> json;   // --json: JSON trace to this file
    std::optional<std::string> jsonl;  // --jsonl: JSON Lines trace to this file, flushed per event
    bool no_color = false;
    bool timestamps = false;   // -t: the time and thread id on each line of the text trace
    bool follow_forks = false; // -f: trace the Go programs the program's child processes run
    bool panics_only = false;
    std::string scope = "main";          // --scope: main, all, or a regular expression
    bool all_recovers = false;           // --all-recovers
    bool no_inline_probes = false;       // --no-inline-probes
    bool stats = false;                  // --stats: what tracing cost, at the end of the text trace
    bool normalize = false;              // --normalize: the --json trace in normalized form
    std::optional<std::string> expect;   // --expect: compare the normalized trace with this file
    bool strict = false;                 // --strict: exit kExitDivergence when the model diverged
    bool leaks = false;                  // --leaks: the shipped resource probes
    std::vector<std::string> probes;     // --probes: names or files
    bool fail_on_leak = false;           // --fail-on-leak: exit kExitLeak when something is left open
    std::optional<double> leak_age;      // --leak-age: with -p, report what stays open this many seconds
    std::optional<std::string> timeline; // --timeline: the Trace Event Format timeline to this file
    std::optional<std::string> report;   // --report: the HTML report to this file
    bool summary_only = false;           // -c: the text trace is the summary tables alone
    bool summary = false;                // -C: the text trace, then the summary tables
};

// Returns the exit status deftrace should end with: the tracee's own (a tracee killed by a signal
// makes deftrace kill itself with the same signal), or with --expect 0 when the trace matches
// and kExitTraceMismatch when it does not (the tracee's exit is part of the comparison). With
// --strict, kExitDivergence instead when the runtime model disagreed with an observation.
// With -p: attaches, traces until Ctrl-C, SIGTERM or --duration, detaches (the process goes on
// running) and returns 0; meanwhile SIGUSR1 adds a leak_report of what is open to the trace.
int run_trace(const TraceCommandOptions &opts);

// `deftrace snapshot -p PID [--json]`: attaches, reads every goroutine's pending deferred calls
// and panics in progress, detaches, and prints them (text, or JSON schema deftrace.snapshot/1)
// with how long the process was stopped. Returns 0.
int run_snapshot(int pid, bool json);

// `deftrace diff EXPECTED ACTUAL`: compares two saved traces as --expect does.
int run_diff(const std::string &expected, const std::string &actual);

} // namespace deftrace
