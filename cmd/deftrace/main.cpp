// deftrace command line: parses flags, calls the library, maps errors to exit codes.
#include "binary/error.h"
#include "deftrace_version.h" // generated (cmake/version_header.cmake)
#include "exit_codes.h"
#include "inspect_command.h"
#include "process/signals.h"
#include "release/go_releases.h"
#include "trace_command.h"
#include "view_commands.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string_view>

namespace {

// CLI11 would say "deftrace [OPTIONS]"; the program and its arguments are part of the usage.
class Usage : public CLI::Formatter {
public:
    std::string make_usage(const CLI::App *app, std::string name) const override {
        std::string u = CLI::Formatter::make_usage(app, std::move(name));
        if (app->get_parent() == nullptr && !u.empty() && u.back() == '\n')
            u.insert(u.size() - 1, " [--] PROGRAM [ARGS...]");
        return u;
    }
};

// --duration, --leak-age: a number of seconds above zero, and at most a year (a deadline kept in
// nanoseconds from now overflows past 292 years; no trace is meant to outlast a year). (CLI::
// PositiveNumber's message quotes the largest double in full.)
constexpr double kMaxSeconds = 365.0 * 24 * 3600;
const CLI::Validator kSeconds(
    [](std::string &text) -> std::string {
        char *end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end == nullptr || *end != '\0' || !std::isfinite(v) || v <= 0)
            return "not a positive number of seconds: " + text;
        if (v > kMaxSeconds)
            return "more than a year (31536000 seconds): " + text;
        return {};
    },
    "SECONDS");

// --version: the release, the commit it was built from ("unknown" outside a git checkout) and
// the Go releases it reads.
std::string version_text() {
    return std::string("deftrace ") + DEFTRACE_VERSION + "\ncommit " + DEFTRACE_GIT_COMMIT +
           "\nreads binaries built by Go " + deftrace::supported_go_range();
}

} // namespace

int main(int argc, char **argv) {
    using namespace deftrace;
    // What the program must inherit is what deftrace inherited (process/signals.h); deftrace
    // itself ignores SIGPIPE: a closed trace output is an error it reports, not its death.
    save_inherited_signal_dispositions();
    std::signal(SIGPIPE, SIG_IGN);

    // `deftrace inspect ...` is the static report; anything else is a program to trace. Options
    // for deftrace come first; the first non-option word starts the program's command line.
    const bool inspect_mode = argc > 1 && std::string_view(argv[1]) == "inspect";
    const bool diff_mode = argc > 1 && std::string_view(argv[1]) == "diff";
    const bool snapshot_mode = argc > 1 && std::string_view(argv[1]) == "snapshot";
    std::optional<TraceView> view_mode;
    if (argc > 1 && std::string_view(argv[1]) == "timeline")
        view_mode = TraceView::Timeline;
    else if (argc > 1 && std::string_view(argv[1]) == "report")
        view_mode = TraceView::Report;
    else if (argc > 1 && std::string_view(argv[1]) == "summary")
        view_mode = TraceView::Summary;

    CLI::App app{"deftrace: trace the defers, panics and recovers of a Go program\n\n"
                 "  deftrace [OPTIONS] PROGRAM [ARGS...]\n"
                 "  deftrace [OPTIONS] -p PID [--duration SECONDS]\n"
                 "  deftrace inspect [--json] [--func REGEX] BINARY\n"
                 "  deftrace diff EXPECTED.json ACTUAL.json\n"
                 "  deftrace timeline TRACE [-o FILE]\n"
                 "  deftrace report TRACE [-o FILE]\n"
                 "  deftrace summary TRACE [--json]\n"
                 "  deftrace snapshot [--json] -p PID"};
    app.set_version_flag("--version", version_text());
    app.formatter(std::make_shared<Usage>());
    InspectOptions inspect;
    TraceCommandOptions trace;
    CLI::App *ins = nullptr;
    std::string diff_a, diff_b;
    int snapshot_pid = 0;
    bool snapshot_json = false;
    ViewCommandOptions view;
    if (view_mode) {
        view.view = *view_mode;
        const char *what = *view_mode == TraceView::Timeline ? "timeline"
                           : *view_mode == TraceView::Report ? "report"
                                                             : "summary";
        auto *v = app.add_subcommand(
            what, *view_mode == TraceView::Timeline
                      ? "Turn a saved trace (--json, --jsonl) into a timeline for Perfetto or chrome://tracing"
                  : *view_mode == TraceView::Report
                      ? "Turn a saved trace (--json, --jsonl) into one self-contained HTML page"
                      : "Count a saved trace's events per site, as -c does");
        v->add_option("TRACE", view.trace, "The saved trace")->required();
        if (*view_mode == TraceView::Summary)
            v->add_flag("--json", view.json, "Print the summary as JSON (the trace's \"summary\" member)");
        else
            v->add_option("-o,--output", view.output, "Write to FILE instead of standard output");
    } else if (snapshot_mode) {
        auto *sn = app.add_subcommand("snapshot", "Stop a running Go process a moment and print every goroutine's "
                                                  "pending deferred calls and panics in progress");
        sn->add_option("-p,--pid", snapshot_pid, "The running Go process")->required();
        sn->add_flag("--json", snapshot_json, "Print JSON (schema deftrace.snapshot/1) instead of text");
    } else if (diff_mode) {
        auto *d = app.add_subcommand("diff", "Compare two JSON traces as --expect does (normalized, per goroutine)");
        d->add_option("EXPECTED", diff_a, "The expected trace")->required();
        d->add_option("ACTUAL", diff_b, "The trace to check")->required();
    } else if (inspect_mode) {
        ins = app.add_subcommand("inspect", "Report a Go binary's runtime functions and defer sites");
        ins->add_flag("--json", inspect.json, "Print JSON (schema deftrace.inspect/1) instead of text");
        ins->add_option("--func", inspect.func_regex, "Only functions whose name matches this regular expression");
        ins->add_option("BINARY", inspect.binary, "The Go executable")->required();
    } else {
        app.prefix_command(true);
        app.add_option("-p,--pid", trace.pid,
                       "Attach to the running Go process PID instead of starting a program; detach on "
                       "Ctrl-C, SIGTERM or after --duration, leaving it running untouched");
        app.add_option("--duration", trace.duration, "With -p: detach after SECONDS")->check(kSeconds);
        app.add_option("-o,--output", trace.output, "Write the text trace to FILE instead of stderr");
        app.add_option("--json", trace.json,
                       "Write the JSON trace (schema deftrace.trace/1) to FILE, as the events happen");
        app.add_option("--jsonl", trace.jsonl,
                       "Write the trace as JSON Lines to FILE: a header line, one event a line (each flushed "
                       "at once), a closing \"end\" line");
        app.add_flag("-f,--follow-forks", trace.follow_forks,
                     "Follow the processes the program starts (fork, vfork, clone), and theirs: each Go "
                     "program they run is traced too, its events marked with its pid; any other program runs "
                     "on untraced, with a note");
        app.add_flag("--no-color", trace.no_color, "No colours, even on a terminal");
        app.add_flag("-t,--timestamps", trace.timestamps,
                     "Start each line of the text trace with the local time the event was observed "
                     "(HH:MM:SS.uuuuuu) and the thread id: 22:51:07.123456 [12345] [g1] panic ...");
        app.add_flag("--normalize", trace.normalize,
                     "Write the --json trace normalized: per goroutine, renumbered, relative paths, no "
                     "addresses (identical from run to run)");
        app.add_option("--expect", trace.expect,
                       "Compare the normalized trace with FILE; exit 0 if equal, 79 with a diff on stderr if not");
        app.add_flag("--strict", trace.strict,
                     "Exit 80 if the runtime model disagreed with any observation (a `divergence` in the "
                     "trace, docs/validation.md); this overrides the program's own exit status only when "
                     "divergences occurred");
        app.add_flag("--panics-only", trace.panics_only,
                     "Trace panics only: no breakpoints on normal defer paths; pending defers are "
                     "reconstructed from memory when a panic starts");
        app.add_option("--scope", trace.scope,
                       "Whose defers are traced: main (package main and the main module's packages, the "
                       "default), all, or a regular expression searched in function names; out of scope a "
                       "defer costs no stop. Panics, recovers that stop a panic, fatal errors and never_run "
                       "are traced in every scope")
            ->default_str("main");
        app.add_flag("--all-recovers", trace.all_recovers,
                     "Also report recover() calls made while no panic is in progress (recover() = nil, no "
                     "panic) in --panics-only mode, which otherwise leaves them out and costs them no stop");
        app.add_flag("--no-inline-probes", trace.no_inline_probes,
                     "Stop the program at every probe, as a debugger's breakpoint does; by default a probe "
                     "whose event needs only registers and a few words records it in the program, with no "
                     "stop (panics, recoveries and Goexit always stop)");
        app.add_option("--timeline", trace.timeline,
                       "Write a timeline of the trace to FILE (Trace Event Format: open it in ui.perfetto.dev or "
                       "chrome://tracing), a track per goroutine");
        app.add_option("--report", trace.report,
                       "Write the trace as one self-contained HTML page to FILE: goroutine lanes, the panics and "
                       "how each ended, the leaks");
        app.add_flag("-c,--summary", trace.summary_only,
                     "As strace -c: the text trace is a table per site (defers by kind, deferred calls by "
                     "cause, panics, recovers) and per goroutine start, counted, not each event; the JSON "
                     "traces get a \"summary\" member");
        app.add_flag("-C,--summary-after", trace.summary, "As -c, the tables after the text trace of every event");
        app.add_flag("--stats", trace.stats,
                     "End the text trace with what tracing cost: stops, breakpoint hits, signals, threads, "
                     "events, memory reads and the start-up's steps");
        app.add_flag("--leaks", trace.leaks,
                     "Follow the shipped resource probes (database/sql transactions and connections, "
                     "os.File) and report what is still open at exit, and which panic abandoned it");
        app.add_option("--probes", trace.probes,
                       "Follow this resource probe: a shipped NAME or a probe FILE (repeatable; "
                       "probes/README.md)")
            ->allow_extra_args(false); // one value per --probes: the program follows
        app.add_flag("--fail-on-leak", trace.fail_on_leak,
                     "Exit 81 when a probed resource is still open at exit (implies --leaks unless "
                     "--probes is given)");
        app.add_option("--leak-age", trace.leak_age,
                       "With -p: report a probed resource once it has been open SECONDS, while the program "
                       "runs (implies --leaks unless --probes is given); SIGUSR1 to deftrace reports "
                       "everything open now")
            ->check(kSeconds);
    }

    try {
        app.parse(argc, argv);
        if (!inspect_mode && !diff_mode && !snapshot_mode && !view_mode) {
            trace.argv = app.remaining();
            // Options end at the first word that is not one of ours; `--` ends them explicitly
            // (for a program whose name starts with a dash). A dash-word that is not ours is a
            // mistyped option, not a program to look for.
            if (!trace.argv.empty() && trace.argv.front() == "--")
                trace.argv.erase(trace.argv.begin());
            else if (!trace.argv.empty() && trace.argv.front().size() > 1 && trace.argv.front()[0] == '-')
                throw CLI::ValidationError("unknown option " + trace.argv.front());
            if (trace.pid && !trace.argv.empty())
                throw CLI::ValidationError("-p", "attach to a process or run a program, not both");
            if (trace.follow_forks && trace.pid)
                throw CLI::ValidationError("-f", "follows the children of a program deftrace starts, not with -p");
            if (trace.duration && !trace.pid)
                throw CLI::ValidationError("--duration", "only with -p");
            if (trace.leak_age && !trace.pid)
                throw CLI::ValidationError("--leak-age", "only with -p");
            if (trace.argv.empty() && !trace.pid)
                throw CLI::ValidationError("PROGRAM", "no program to trace");
        }
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion &e) {
        return app.exit(e);
    } catch (const CLI::ParseError &e) {
        std::cerr << "deftrace: " << e.what() << " (see deftrace --help)\n";
        return kExitUsage;
    }

    try {
        if (inspect_mode)
            return run_inspect(inspect);
        if (diff_mode)
            return run_diff(diff_a, diff_b);
        if (snapshot_mode)
            return run_snapshot(snapshot_pid, snapshot_json);
        if (view_mode)
            return run_view(view);
        return run_trace(trace);
    } catch (const Error &e) {
        std::cerr << "deftrace: " << e.what() << "\n";
        return exit_code_for(e.kind());
    } catch (const std::bad_alloc &) {
        // Not a bug: a trace or a program too large for the memory deftrace may use (ulimit -v).
        std::cerr << "deftrace: out of memory\n";
        return kExitOsError;
    } catch (const std::exception &e) {
        std::cerr << "deftrace: internal error (a bug in deftrace): " << e.what() << "\n";
        return kExitInternal;
    }
}
