#include "trace_command.h"

#include "analysis/defer_sites.h"
#include "arch/disassembler.h"
#include "binary/error.h"
#include "binary/go_binary.h"
#include "binary/source_paths.h"
#include "exit_codes.h"
#include "file_roles.h"
#include "goruntime/runtime_offsets.h"
#include "output/normalize.h"
#include "output/output_stream.h"
#include "output/report.h"
#include "output/sinks.h"
#include "output/summary.h"
#include "output/text_safety.h"
#include "output/timeline.h"
#include "output/trace_diff.h"
#include "output/trace_file.h"
#include "process/code_log.h"
#include "process/guardian.h"
#include "process/program_path.h"
#include "process/tracee.h"
#include "shipped/shipped_data.h"
#include "startup_progress.h"
#include "trace/child_tracers.h"
#include "trace/scope.h"
#include "trace/tracer.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

namespace deftrace {

namespace {

// "stats: hits by probe: gopanic 1000, recovery 1000, ...": which probes the stops went to, most
// hit first — where tracing spends its stops.
std::string hits_by_probe_line(const Tracer &tracer) {
    std::vector<std::pair<uint64_t, const char *>> by_kind;
    for (size_t k = 0; k < kProbeKinds; ++k)
        if (tracer.hits_by_kind()[k] != 0)
            by_kind.emplace_back(tracer.hits_by_kind()[k], probe_kind_name(static_cast<ProbeKind>(k)));
    std::stable_sort(by_kind.begin(), by_kind.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
    if (tracer.unplanned_hits() != 0)
        by_kind.emplace_back(tracer.unplanned_hits(), "unplanned");
    std::string line = "stats: hits by probe:";
    for (const auto &[n, kind] : by_kind)
        line += std::string(line.back() == ':' ? " " : ", ") + kind + " " + std::to_string(n);
    return line + (by_kind.empty() ? " none\n" : "\n");
}

namespace fs = std::filesystem;

[[noreturn]] void die_like(int sig) {
    // As strace does: end the way the program ended. No core file of our own.
    std::fflush(nullptr);
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    std::signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
    _exit(128 + sig);
}

// A trace file's lines made safe for a terminal (the report quotes values from it).
std::string terminal_lines(const std::string &report) {
    std::string out;
    for (size_t at = 0; at < report.size();) {
        size_t nl = report.find('\n', at);
        out +=
            terminal_safe(std::string_view(report).substr(at, nl == std::string::npos ? std::string::npos : nl - at));
        out += '\n';
        at = nl == std::string::npos ? report.size() : nl + 1;
    }
    return out;
}

// Normalizing and comparing traces reads members by type; trace_file.h checked them, and should
// a member slip through that check the trace is still reported as malformed, not as a bug.
template <typename F> auto on_trace(const std::string &name, F &&f) {
    try {
        return f();
    } catch (const nlohmann::json::exception &e) {
        throw Error(ErrorKind::Usage, name + ": not a deftrace JSON trace: " + e.what());
    }
}

// A saved trace, and a word on stderr when its writer stopped mid-line (trace_file.h): the
// comparison goes on with what was written whole, and the reader knows what was left out.
LoadedTrace load_saved_trace(const std::string &path) {
    LoadedTrace t = on_trace(path, [&] { return load_trace_file(path); });
    if (!t.cut.empty())
        std::fprintf(stderr, "deftrace: %s: %s\n", terminal_safe(path).c_str(), t.cut.c_str());
    return t;
}

// -p: every signal deftrace can catch either asks it to detach (Ctrl-C, SIGTERM, SIGHUP, and every
// other one whose default would end it), asks for a leak report (SIGUSR1), or is ignored: a
// stopped deftrace would hold the threads it has stopped (SIGTSTP, SIGTTIN, SIGTTOU), and those
// whose default is to be ignored stay so. A fault of deftrace's own (SIGSEGV, SIGBUS...: raised
// by the kernel or by deftrace itself, not sent by another process) takes its course: deftrace
// dies, the kernel closes the trampolines' gates, and the guardian puts the code back
// (process/guardian.h). The handlers only set flags; the tracing loop looks at them between
// stops. (--duration ends as SIGTERM would, at the next 100 ms tick.)
volatile std::sig_atomic_t g_detach = 0, g_report = 0, g_tick = 0;

constexpr int kMaxSignal = 64;
std::array<struct sigaction, kMaxSignal + 1> g_previous{};

bool is_fault(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS ||
           sig == SIGABRT;
}

void on_detach_signal(int sig, siginfo_t *info, void *) {
    const bool sent = info != nullptr && info->si_code <= 0 && info->si_pid != getpid();
    if (is_fault(sig) && !sent) {
        // deftrace's own: as if it were not caught (a kernel fault runs again on return).
        sigaction(sig, &g_previous[static_cast<size_t>(sig)], nullptr);
        if (info == nullptr || info->si_code <= 0)
            raise(sig);
        return;
    }
    g_detach = 1;
}

void on_report_signal(int) {
    g_report = 1;
}

void on_tick(int) {
    g_tick = 1;
}

void on_stop_signal(int) {
    static const char kSaid[] = "deftrace: not stopping: the threads it holds would stop with it; Ctrl-C detaches\n";
    (void)!write(STDERR_FILENO, kSaid, sizeof kSaid - 1);
}

enum class Answer { Detach, Report, Tick, StopRefused, Ignore, Default };

Answer answer_to(int sig) {
    switch (sig) {
    case SIGKILL:
    case SIGSTOP: return Answer::Default; // cannot be caught
    case SIGUSR1: return Answer::Report;
    case SIGALRM: return Answer::Tick; // the 100 ms timer; one sent from outside ticks once more
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU: return Answer::StopRefused;
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    case SIGPIPE: // a write to a closed trace is an error of its own, said as such
    case SIGXFSZ: // likewise a trace file over the size limit
        return Answer::Ignore;
    default: return Answer::Detach;
    }
}

// While attached: the signals deftrace answers (not SA_RESTART, so that they interrupt the wait
// for the next stop) and a 100 ms interval timer, which measures --duration and --leak-age and
// interrupts a wait that began just before a signal set a flag.
class AttachedSignals {
public:
    AttachedSignals() {
        for (int sig = 1; sig <= kMaxSignal; ++sig) {
            struct sigaction sa {};
            sigemptyset(&sa.sa_mask);
            switch (answer_to(sig)) {
            case Answer::Detach:
                sa.sa_sigaction = on_detach_signal;
                sa.sa_flags = SA_SIGINFO;
                break;
            case Answer::Report: sa.sa_handler = on_report_signal; break;
            case Answer::Tick: sa.sa_handler = on_tick; break;
            case Answer::StopRefused: sa.sa_handler = on_stop_signal; break;
            case Answer::Ignore: sa.sa_handler = SIG_IGN; break;
            case Answer::Default: continue;
            }
            if (sig == SIGCHLD)
                continue; // waitpid needs it as it is
            set_[static_cast<size_t>(sig)] = sigaction(sig, &sa, &g_previous[static_cast<size_t>(sig)]) == 0;
        }
    }
    void start_ticks() {
        itimerval every{{0, 100000}, {0, 100000}};
        setitimer(ITIMER_REAL, &every, nullptr);
    }
    ~AttachedSignals() {
        itimerval off{};
        setitimer(ITIMER_REAL, &off, nullptr);
        for (int sig = 1; sig <= kMaxSignal; ++sig)
            if (set_[static_cast<size_t>(sig)])
                sigaction(sig, &g_previous[static_cast<size_t>(sig)], nullptr);
    }
    AttachedSignals(const AttachedSignals &) = delete;
    AttachedSignals &operator=(const AttachedSignals &) = delete;

private:
    std::array<bool, kMaxSignal + 1> set_{};
};

// -p: the running program's executable, and the name it goes by.
std::string attached_program(int pid) {
    const std::string proc = "/proc/" + std::to_string(pid);
    std::error_code ec;
    if (pid <= 0 || !fs::exists(proc, ec))
        throw Error(ErrorKind::NotFound, "no such process: " + std::to_string(pid));
    std::string name = fs::read_symlink(proc + "/exe", ec).string();
    if (ec == std::errc::no_such_file_or_directory) // a zombie's: it has ended
        throw Error(ErrorKind::NotFound, "no such process: " + std::to_string(pid) + " (it ended)");
    if (ec)
        throw Error(ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted
                        ? ErrorKind::Permission
                        : ErrorKind::NotFound,
                    "cannot read " + proc + "/exe: " + ec.message());
    return name;
}

// Attached: the probes left out because only an int3 could carry them (Tracee::guard).
void say_unplaced(const std::vector<std::pair<std::string, size_t>> &unplaced) {
    if (unplaced.empty())
        return;
    size_t n = 0;
    std::string where;
    for (const auto &[function, count] : unplaced) {
        n += count;
        if (where.size() < 200)
            where += (where.empty() ? "" : ", ") + terminal_safe(function);
    }
    std::fprintf(stderr,
                 "deftrace: %zu probe%s not placed (no trampoline fits there, and an int3 could outlive deftrace): "
                 "%s%s; what they see is not traced\n",
                 n, n == 1 ? "" : "s", where.c_str(), where.size() >= 200 ? ", ..." : "");
}

// The program's executable; -p: /proc/PID/exe, which goes when the process ends meanwhile.
GoBinary open_program(const std::string &path, std::optional<int> pid) {
    try {
        return GoBinary::open(path);
    } catch (const Error &e) {
        std::error_code ec;
        if (pid && !fs::exists("/proc/" + std::to_string(*pid) + "/exe", ec))
            throw Error(ErrorKind::NotFound, "no such process: " + std::to_string(*pid) + " (it ended)");
        throw;
    }
}

// The files the command reads, and those it writes (file_roles.h). Standard error counts as an
// output when the text trace goes there: `--json t 2>t` would mix two traces as surely as
// `-o t --json t`.
std::vector<NamedFile> named_inputs(const TraceCommandOptions &opts, const std::string &program) {
    std::vector<NamedFile> in{{"the program", program, true}};
    if (opts.expect)
        in.push_back({"--expect", *opts.expect, true});
    for (const std::string &p : opts.probes) // a shipped probe's name is no file here, and is skipped
        if (std::error_code ec; fs::is_regular_file(p, ec))
            in.push_back({"--probes", p, true});
    return in;
}

std::vector<NamedFile> named_outputs(const TraceCommandOptions &opts) {
    std::vector<NamedFile> out;
    if (opts.output)
        out.push_back({"-o", *opts.output, true});
    else
        out.push_back({"standard error (where the text trace goes)", "/dev/stderr", false});
    if (opts.json)
        out.push_back({"--json", *opts.json, true});
    if (opts.jsonl)
        out.push_back({"--jsonl", *opts.jsonl, true});
    if (opts.timeline)
        out.push_back({"--timeline", *opts.timeline, true});
    if (opts.report)
        out.push_back({"--report", *opts.report, true});
    return out;
}

// --timeline, --report, -c / -C: the views made while tracing. The timeline and the report read
// the trace as its JSON form has it, as they read a saved one (VisitorSink); the summary takes
// the events as they are, formatting nothing.
struct TraceViews {
    std::optional<OutputStream> timeline_out, report_out;
    std::optional<TimelineWriter> timeline;
    std::optional<ReportWriter> report;
    std::optional<VisitorSink> timeline_sink, report_sink;
    std::optional<Summary> summary;
    std::optional<SummarySink> summary_sink;

    // Creates the files (before the program starts: a bad path fails first).
    explicit TraceViews(const TraceCommandOptions &opts) {
        if (opts.timeline)
            timeline_out.emplace(OutputStream::open(*opts.timeline, OutputStream::Buffering::Full));
        if (opts.report)
            report_out.emplace(OutputStream::open(*opts.report, OutputStream::Buffering::Full));
        if (opts.summary || opts.summary_only)
            summary.emplace();
    }
    void add_to(TeeSink &sinks, const nlohmann::ordered_json &header) {
        if (timeline_out) {
            timeline.emplace(*timeline_out);
            timeline_sink.emplace(header, *timeline);
            sinks.add(&*timeline_sink);
        }
        if (report_out) {
            report.emplace(*report_out);
            report_sink.emplace(header, *report);
            sinks.add(&*report_sink);
        }
        if (summary) {
            summary_sink.emplace(*summary);
            sinks.add(&*summary_sink);
        }
    }
};

// snapshot: the tracer's readers without a trace.
class NullSink : public EventSink {
public:
    void emit(const Event &) override {}
};

} // namespace

int run_trace(const TraceCommandOptions &opts) {
    std::optional<AttachedSignals> attached_signals;
    std::vector<std::string> program = opts.argv;
    std::string path;
    if (opts.pid) {
        attached_signals.emplace(); // before attaching: a Ctrl-C from now on means detach
        program = {attached_program(*opts.pid)};
        path = "/proc/" + std::to_string(*opts.pid) + "/exe"; // even if the file was replaced since
    } else {
        path = resolve_program(opts.argv.at(0));
    }
    const char *term = std::getenv("TERM");
    StartupProgress progress(isatty(STDERR_FILENO) != 0 && !(term != nullptr && std::string_view(term) == "dumb"));
    const std::string name = terminal_safe(std::filesystem::path(program.front()).filename().string());
    progress.step("reading " + name, "reading");
    GoBinary bin = open_program(path, opts.pid);
    const ShippedData data = ShippedData::of_this_process();
    RuntimeOffsets offsets = RuntimeOffsets::from(layouts_for(bin, data));

    // Everything that can fail on bad input fails before the program starts: the expectation and
    // the probes are read, the output files created.
    std::optional<LoadedTrace> expected;
    if (opts.expect)
        expected = load_saved_trace(*opts.expect);
    const Scope scope = Scope::parse(opts.scope, bin); // a bad expression fails here
    if (scope.module_inferred())
        std::fprintf(stderr,
                     "deftrace: %s has no module information (built without modules): tracing the defers of "
                     "package main and of %s/..., the module its packages' paths suggest (--scope chooses others)\n",
                     terminal_safe(program.front()).c_str(), terminal_safe(scope.module()).c_str());
    TraceOptions topts;
    topts.panics_only = opts.panics_only;
    topts.scope = opts.scope;
    topts.all_recovers = opts.all_recovers;
    topts.inline_probes = !opts.no_inline_probes;
    topts.leak_age = opts.leak_age;
    // --fail-on-leak and --leak-age alone follow the shipped probes, as --leaks does.
    const bool shipped = opts.leaks || ((opts.fail_on_leak || opts.leak_age) && opts.probes.empty());
    topts.resources = resource_probes(opts.probes, shipped, data);
    topts.offsets_for = [data](const GoBinary &b) { return RuntimeOffsets::from(layouts_for(b, data)); }; // exec
    refuse_shared_files(named_inputs(opts, path), named_outputs(opts));
    OutputStream text_out = opts.output ? OutputStream::open(*opts.output, OutputStream::Buffering::Line)
                                        : OutputStream::borrow(stderr, "stderr");
    std::optional<OutputStream> json_out, jsonl_out;
    if (opts.json)
        json_out.emplace(OutputStream::open(*opts.json, OutputStream::Buffering::Full));
    if (opts.jsonl)
        jsonl_out.emplace(OutputStream::open(*opts.jsonl, OutputStream::Buffering::Full));

    TraceViews views(opts);

    const bool color = !opts.no_color && text_out.is_terminal();
    TextSink text(text_out, color, opts.timestamps);
    TeeSink sinks;
    if (!opts.summary_only)
        sinks.add(&text);
    nlohmann::ordered_json header;
    header["schema"] = std::string(kTraceSchema);
    header["go_version"] = bin.version().text;
    header["program"] = program;
    if (opts.pid)
        header["attached_pid"] = *opts.pid;
    if (opts.follow_forks)
        header["follow_forks"] = true;
    header["mode"] = opts.panics_only ? "panics-only" : "full";
    header["scope"] = scope.describe();
    header["paths"] = source_paths(bin).to_json();
    // --json streams the raw trace as it happens; the normalized form (--normalize, --expect)
    // needs the whole trace: the Normalizer spills it to a temporary file.
    const bool whole_trace = opts.normalize || opts.expect;
    std::optional<JsonSink> json;
    if (opts.json || opts.expect) {
        json.emplace(header, opts.json && !whole_trace ? &*json_out : nullptr, whole_trace);
        sinks.add(&*json);
    }
    std::optional<JsonLinesSink> jsonl;
    if (jsonl_out) {
        jsonl.emplace(header, *jsonl_out);
        sinks.add(&*jsonl);
    }
    views.add_to(sinks, header);

    // The processes the program starts: followed with -f; otherwise each gets a note.
    std::optional<ChildTracers> children;
    if (!opts.pid)
        children.emplace(opts.follow_forks, sinks, topts);
    progress.step("analysing the defer sites of " + name, "analysis");
    bool cached = false;
    Tracer tracer(bin, Tracer::sites_needed(bin, topts, &cached), offsets,
                  opts.follow_forks ? children->program_sink() : sinks, topts);
    if (cached)
        progress.rename_step("analysis (cached)");
    progress.step((opts.pid ? "attaching to " : "starting ") + name, opts.pid ? "attach" : "exec");
    // Attached: the guardian first, before anything in the program changes (process/guardian.h),
    // and not before an earlier deftrace's guardian is done with it.
    std::optional<CodeLog> code_log;
    std::optional<Guardian> guardian;
    if (opts.pid) {
        if (!Guardian::wait_for_earlier(*opts.pid, std::chrono::seconds(10)))
            throw Error(ErrorKind::Process, "process " + std::to_string(*opts.pid) +
                                                " still holds the probes of an earlier deftrace, whose guardian is "
                                                "not done with it (/proc/" +
                                                std::to_string(*opts.pid) + "/maps)");
        code_log.emplace();
        guardian.emplace(Guardian::start(*code_log));
    }
    Tracee tracee = opts.pid ? Tracee::attach(*opts.pid) : Tracee::launch(opts.argv);
    if (code_log)
        tracee.guard(Tracer::kGuardSignal, *code_log);
    progress.step("placing the probes in " + name, "probes");
    tracer.attach(tracee);
    // Counted now: a detach takes them all out.
    const size_t placed = tracee.breakpoints().size();
    const size_t patched = tracee.breakpoints().jump_patched() + tracee.breakpoints().guarded();
    progress.done();
    if (children) {
        children->set_program(tracer, tracee.pid());
        tracee.follow_children(*children);
    }
    if (opts.pid) {
        using Clock = std::chrono::steady_clock;
        std::optional<Clock::time_point> deadline;
        if (opts.duration)
            deadline = Clock::now() +
                       std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(*opts.duration));
        // As strace -p says it: from here on the process is traced, and how to let go of it.
        std::fprintf(stderr, "deftrace: attached to process %d (%s, %zu threads); Ctrl-C or SIGTERM detaches%s\n",
                     *opts.pid, terminal_safe(program.front()).c_str(), tracee.thread_ids().size(),
                     topts.resources.empty() ? "" : ", SIGUSR1 reports what is open");
        say_unplaced(tracer.unplaced());
        tracee.set_between_stops([deadline, &tracer] {
            tracer.drain();
            if (g_report != 0) {
                g_report = 0;
                tracer.report_leaks();
            }
            if (g_tick != 0) {
                g_tick = 0;
                tracer.check_leak_age();
            }
            return g_detach != 0 || (deadline && Clock::now() >= *deadline);
        });
        attached_signals->start_ticks();
    } else if (tracer.recording_probes() != 0) {
        // What the probes record is read at each stop, and every 100 ms while there is none.
        tracee.set_between_stops([&tracer] {
            tracer.drain();
            return false;
        });
        tracee.tick_every(100'000'000);
    }
    ExitStatus status = tracee.run(tracer);
    attached_signals.reset();
    tracer.finish(status);
    if (views.summary) { // the trace's "summary" member, and the tables after the text trace
        if (json)
            json->add_closing("summary", views.summary->to_json());
        if (jsonl)
            jsonl->add_closing("summary", views.summary->to_json());
    }
    sinks.finish();
    if (views.summary)
        text_out.write(views.summary->text());
    if (opts.stats) {
        text_out.write(hits_by_probe_line(tracer));
        const Tracee::Stats &st = tracee.stats();
        const uint64_t reads = tracee.memory().read_syscalls();
        char line[512];
        std::snprintf(
            line, sizeof line,
            "stats: %zu breakpoints (%zu jump-patched), %llu stops, %llu breakpoint hits (%llu jump-patched), "
            "%llu signals delivered, %llu threads, %llu events, %llu memory reads (%.2f per hit)\n",
            placed, patched, static_cast<unsigned long long>(st.stops),
            static_cast<unsigned long long>(st.breakpoint_hits), static_cast<unsigned long long>(st.jump_patched_hits),
            static_cast<unsigned long long>(st.signals_forwarded), static_cast<unsigned long long>(st.threads),
            static_cast<unsigned long long>(tracer.events()), static_cast<unsigned long long>(reads),
            st.breakpoint_hits ? static_cast<double>(reads) / static_cast<double>(st.breakpoint_hits) : 0.0);
        text_out.write(line);
        std::snprintf(line, sizeof line,
                      "stats: %llu hits recorded without a stop by %zu recording probes; %llu of their hits "
                      "stopped (a panic in progress, or the ring full)\n",
                      static_cast<unsigned long long>(tracer.recorded()), tracer.recording_probes(),
                      static_cast<unsigned long long>(tracer.recording_stops()));
        text_out.write(line);
        text_out.write("stats: " + progress.summary() + "\n");
    }
    if (json && opts.json && whole_trace)
        json->write_normalized(*json_out);
    // A trace that could not be written is the one failure that outranks the program's status:
    // whoever reads the trace must know it is cut (the program itself ran on undisturbed).
    bool write_failed = false;
    for (OutputStream *out :
         {&text_out, json_out ? &*json_out : nullptr, jsonl_out ? &*jsonl_out : nullptr,
          views.timeline_out ? &*views.timeline_out : nullptr, views.report_out ? &*views.report_out : nullptr}) {
        if (out == nullptr)
            continue;
        out->close();
        if (out->failed()) {
            std::fprintf(stderr, "deftrace: %s; the trace stops there\n", out->failure().c_str());
            write_failed = true;
        }
    }
    if (write_failed)
        return kExitIo;
    // --strict: a divergence means the trace cannot be trusted as it is (docs/validation.md); that
    // outcome replaces the program's own status, which is passed through otherwise.
    const bool diverged = opts.strict && tracer.divergences() > 0;
    if (diverged)
        std::fprintf(stderr, "deftrace: %llu divergence%s from the runtime model (--strict)\n",
                     static_cast<unsigned long long>(tracer.divergences()), tracer.divergences() == 1 ? "" : "s");
    if (expected) {
        TraceDiff d = on_trace(*opts.expect, [&] {
            return diff_traces(*expected->events, expected->members, json->normalizer(), json->members());
        });
        if (!d.same) {
            std::fprintf(stderr, "deftrace: the trace differs from %s\n%s", terminal_safe(*opts.expect).c_str(),
                         terminal_lines(d.report).c_str());
            return kExitTraceMismatch;
        }
        return diverged ? kExitDivergence : kExitOk;
    }
    if (diverged)
        return kExitDivergence;
    if (status.signaled)
        die_like(status.signal);
    if (opts.fail_on_leak && tracer.leaks_open() > 0)
        return kExitLeak;
    return status.code;
}

int run_snapshot(int pid, bool json_out) {
    const std::string program = attached_program(pid);
    GoBinary bin = open_program("/proc/" + std::to_string(pid) + "/exe", pid);
    const ShippedData data = ShippedData::of_this_process();
    RuntimeOffsets offsets = RuntimeOffsets::from(layouts_for(bin, data));
    NullSink none;
    TraceOptions topts;
    topts.panics_only = true;
    // Everything that does not need the process is done before it is stopped.
    const Disassembler dis; // the plan's, for as long as the tracer lives
    Tracer tracer(bin, Tracer::sites_needed(bin, topts), offsets, none, topts);
    tracer.prepare_snapshot(dis);
    const auto t0 = std::chrono::steady_clock::now();
    Tracee tracee = Tracee::attach(pid);
    nlohmann::ordered_json goroutines = tracer.snapshot(tracee); // on failure the destructor detaches
    tracee.detach();
    const auto stopped_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    std::string out;
    if (json_out) {
        nlohmann::ordered_json j;
        j["schema"] = "deftrace.snapshot/1";
        j["pid"] = pid;
        j["program"] = program;
        j["go_version"] = bin.version().text;
        j["stopped_us"] = stopped_us;
        j["goroutines"] = std::move(goroutines);
        out = j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    } else {
        out = "process " + std::to_string(pid) + " (" + terminal_safe(program) + ", " + bin.version().text +
              "): " + std::to_string(goroutines.size()) + " goroutines, stopped for " + std::to_string(stopped_us) +
              " us\n";
        for (const auto &g : goroutines) {
            if (g["defers"].empty() && g["panics"].empty())
                continue;
            out += "goroutine " + g["goroutine"].dump() + " (" + g["status"].get<std::string>() + "):\n";
            for (const auto &p : g["panics"])
                out += "  panic " +
                       terminal_safe(p.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)) + "\n";
            for (const auto &d : g["defers"]) {
                std::string line = "  defer " + terminal_safe(d.value("fn", std::string("?")));
                if (d.contains("defer_kind"))
                    line += " (" + terminal_safe(d["defer_kind"].get<std::string>()) + ")";
                if (d.contains("function"))
                    line += " in " + terminal_safe(d["function"].get<std::string>());
                out += line + "\n";
            }
            if (g.contains("complete"))
                out += "  (the stack is deeper than walked: open-coded defers further out are missing)\n";
        }
    }
    if (std::fputs(out.c_str(), stdout) < 0 || std::fflush(stdout) != 0)
        throw Error(ErrorKind::Io, std::string("writing the snapshot to standard output: ") + std::strerror(errno));
    return kExitOk;
}

int run_diff(const std::string &expected, const std::string &actual) {
    const LoadedTrace want = load_saved_trace(expected);
    const LoadedTrace got = load_saved_trace(actual);
    TraceDiff d = on_trace(expected + " or " + actual,
                           [&] { return diff_traces(*want.events, want.members, *got.events, got.members); });
    if (d.same)
        return kExitOk;
    const std::string report = "--- " + expected + "\n+++ " + actual + "\n" + d.report;
    // SIGPIPE is ignored (main.cpp): a reader gone away is a write error, said as such.
    if (std::fputs(terminal_lines(report).c_str(), stdout) < 0 || std::fflush(stdout) != 0)
        throw Error(ErrorKind::Io, std::string("writing the report to standard output: ") + std::strerror(errno));
    return kExitTraceMismatch;
}

} // namespace deftrace
