// The tracer: turns each breakpoint hit into trace events by reading the goroutine's runtime
// state, and checks every observation against the runtime model (trace/validator.h).
//
// Where it stops is the probe plan's (trace/probe_plan.h, which lists the probe points); what a
// name or a site is, the symbolizer's (trace/symbolizer.h); what the runtime's structures hold,
// goruntime's. The stop handlers live in tracer_*.cpp by subject: defers, panics, endings of
// the program (os.Exit, fatal errors, exec), resources.
#pragma once

#include "binary/go_binary.h"
#include "binary/load_bias.h"
#include "goruntime/current_g.h"
#include "goruntime/funcval.h"
#include "goruntime/go_types.h"
#include "goruntime/pending_defers.h"
#include "goruntime/runtime_offsets.h"
#include "goruntime/runtime_state.h"
#include "goruntime/stack_unwind.h"
#include "leaks/leak_tracker.h"
#include "leaks/resource_probe.h"
#include "model/observation.h"
#include "process/tracee.h"
#include "trace/event.h"
#include "trace/panic_book.h"
#include "trace/probe_plan.h"
#include "trace/probe_registers.h"
#include "trace/symbolizer.h"
#include "trace/tsc_clock.h"

#include <array>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace deftrace {

class Validator;

struct TraceOptions {
    // Only panics: no breakpoints on the normal defer paths; pending defers are reconstructed
    // from memory when a panic starts.
    bool panics_only = false;
    // Resource probes (--leaks, --probes): acquire/release events and the leak report.
    std::vector<ResourceProbe> resources;
    // The runtime's struct offsets for a binary the program execs (DWARF or the shipped tables;
    // throws Error when there are none). Unset: tracing ends at an exec.
    std::function<RuntimeOffsets(const GoBinary &)> offsets_for;
    // Whose defers are traced (trace/scope.h): "all", "main" or a regular expression.
    std::string scope = "all";
    // --leak-age: a resource open this many seconds or longer is reported while the program
    // runs (check_leak_age), once.
    std::optional<double> leak_age;
    // Report recover() calls made while no panic is in progress (recover() = nil, no panic) in
    // --panics-only mode, where they would cost stops.
    bool all_recovers = false;
    // Probes whose events need only what is at hand record them in the program, without a stop
    // (arch/record_stub.h); false: every probe stops (--no-inline-probes).
    bool inline_probes = true;
};

class Tracer : public StopHandler {
public:
    // Throws Error(UnsupportedGo) when the runtime model has no generation for the binary's
    // release: every trace is validated.
    Tracer(const GoBinary &bin, std::vector<FunctionDefers> sites, RuntimeOffsets offsets, EventSink &sink,
           TraceOptions options);
    // The defer sites a trace with `options` probes (the `sites` to construct it with): those of
    // the functions in scope, none with --panics-only, which reads pending defers from memory.
    // Throws Error(Usage) for a bad --scope expression. Kept between runs (analysis/analysis_cache.h);
    // `from_cache` says whether this one was.
    static std::vector<FunctionDefers> sites_needed(const GoBinary &bin, const TraceOptions &options,
                                                    bool *from_cache = nullptr);
    ~Tracer() override;

    // At the launch stop: load bias, scratch page, breakpoints.
    void attach(Tracee &tracee);
    void on_breakpoint(ThreadStop &stop, Addr addr) override;
    void on_exiting(ThreadStop &stop, int status) override;
    void on_exec() override;
    void on_spawn(ThreadStop &stop, pid_t child) override;
    // A child process of the program ran `argv` (the executable `path`), at its first exec: the
    // child event, on the goroutine that started it (tracer_children.cpp).
    void report_child(pid_t child, const std::string &path, std::vector<std::string> argv, bool traced,
                      const std::string &note);
    // The program is gone, or deftrace detached from it: the final events.
    void finish(const ExitStatus &status);
    // Between stops, while the program runs (the program's memory is not read): a leak_report
    // of every probed resource open now (SIGUSR1 to an attached deftrace), and of those that
    // have just been open for TraceOptions::leak_age.
    void report_leaks();
    void check_leak_age();
    // Reads every record the program's probes have taken (tracer_records.cpp); done before each
    // stop is handled, and between stops (attached: every tick).
    void drain();
    // Events recorded without a stop, and the probes that record.
    [[nodiscard]] uint64_t recorded() const { return recorded_; }
    [[nodiscard]] size_t recording_probes() const { return recording_at_.size(); }
    // Hits of recording probes that stopped instead (a panic in progress, the ring full).
    [[nodiscard]] uint64_t recording_stops() const { return recording_stops_; }
    // deftrace snapshot, before the process is stopped: what needs only the binary (the probe
    // plan, which knows where allgs is), so that the process is stopped for the reads alone.
    // `dis` must outlive the Tracer.
    void prepare_snapshot(const Disassembler &dis);
    // deftrace snapshot, every thread of `tracee` stopped: each goroutine's pending deferred calls
    // and panics in progress (JSON, schema deftrace.snapshot/1's "goroutines"). Reads memory
    // only: no scratch page, no breakpoint.
    nlohmann::ordered_json snapshot(Tracee &tracee);

    // The signal a guarded trampoline sends its thread (Tracee::guard): SIGURG, with which Go's
    // runtime (1.14+) preempts goroutines, and which its handler takes as a no-op when the
    // goroutine is not to be preempted or the pc is not Go code (isAsyncSafePoint) — as it is in a
    // trampoline. Its default disposition is to ignore it, too.
    static constexpr int kGuardSignal = 23; // SIGURG on x86-64 Linux

    // Attached with guarded breakpoints: the functions whose probes no trampoline could carry
    // (not inserted: their events are not seen), with how many of their probes each.
    [[nodiscard]] std::vector<std::pair<std::string, size_t>> unplaced() const;

    [[nodiscard]] uint64_t events() const { return seq_; }
    // Breakpoint hits by the kind of probe they served (a hit at an address holding probes of
    // several kinds counts once for each), for --stats.
    [[nodiscard]] const std::array<uint64_t, kProbeKinds> &hits_by_kind() const { return hits_by_kind_; }
    // Hits at an address the plan has no probe for (none expected; counted, not hidden).
    [[nodiscard]] uint64_t unplanned_hits() const { return unplanned_hits_; }
    // Observations the runtime model disagreed with (trace/validator.h).
    [[nodiscard]] uint64_t divergences() const;
    // Probed resources still open (at the end: leaks).
    [[nodiscard]] size_t leaks_open() const { return leaks_.open().size(); }

private:
    // gorecover's entry, until its return says what it did.
    struct PendingRecover {
        PanicHead panic; // g._panic at the entry
        Site site;
        model::RecoverCalled validation; // who called recover(), for the model
    };

    // The runtime model's generation for a binary's release: its registry row.
    static GoRelease traits_of(const GoBinary &bin);
    void open_readers(Tracee &tracee);
    void map_scratch();
    bool place(Tracee &tracee, const PlannedBreakpoint &b);
    [[nodiscard]] LinkAddr placed_at(LinkAddr probe) const;
    [[nodiscard]] Registers registers_at_probe(const Registers &regs, LinkAddr probe) const;
    void on_probes(ThreadStop &stop, const std::vector<Probe> &probes);
    // The instruction after the call at `call` (file address).
    [[nodiscard]] LinkAddr return_of_call(Addr call) const;
    std::vector<LinkAddr> unplaced_; // attached and guarded: probes not inserted
    std::unordered_set<LinkAddr> unplaced_set_;
    std::unordered_map<LinkAddr, LinkAddr> early_hits_; // early site -> its probe's address
    std::unordered_map<LinkAddr, LinkAddr> placed_at_;  // probe -> its early site, where it has one
    Event make_event(EventKind kind, uint64_t goid, Addr g);
    void emit(Event e);
    void emit_divergences();
    // The goroutine a stop is for: on g0 (systemstack, mcall), the one it works for.
    struct OnGoroutine {
        Addr g;
        uint64_t goid;
    };
    std::optional<OnGoroutine> goroutine_of(Addr g);
    void prefetch(const ThreadStop &stop, ProbeKind first);
    void handle(ThreadStop &stop, const Probe &p, Addr g);
    void dispatch(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);

    // Event payload parts (trace/event_payloads.h).
    [[nodiscard]] DeferTarget deferred_target(Addr code, Addr closure, const ClosureWords *held = nullptr) const;
    [[nodiscard]] PanicValue panic_value(Addr type, Addr data) const;
    // `complete` (if given): false when the stack is deeper than the frames walked.
    [[nodiscard]] std::vector<PendingDeferEntry> pending_defers(Addr g, Addr pc, Addr sp,
                                                                bool *complete = nullptr) const;
    // pending_defers without the runtime's own (runtime.main's deferred function).
    [[nodiscard]] std::vector<PendingDeferEntry> program_pending(Addr g, Addr pc, Addr sp,
                                                                 bool *complete = nullptr) const;
    // A panic chain (newest first, as the runtime links it) as a fatal event's list, oldest first.
    [[nodiscard]] std::vector<ChainedPanic> panic_chain(const std::vector<PanicRecord> &newest_first) const;
    // g.stack.hi - sp: a frame's position that survives the runtime moving the stack.
    [[nodiscard]] std::optional<uint64_t> depth_of(Addr g, Addr sp) const;
    [[nodiscard]] FrameList frames_of(Addr g, Addr pc, Addr sp) const;

    // tracer_defers.cpp
    void on_deferproc(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);
    void on_open_register(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);
    [[nodiscard]] bool runs_a_defer(const ThreadStop &stop) const;
    void on_defer_call(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);
    [[nodiscard]] std::optional<std::string> deferred_args(const ThreadStop &stop, Addr d, bool at_call) const;
    // Why the runtime runs a deferred call (panic, goexit, return), and the defer statement's site;
    // an inline exit's open-coded bit into `e`'s CallPayload.
    // A deferred call about to be made: at pc, with SP sp (a stop's registers, or a record's).
    struct CallAt {
        Addr pc, sp;
        Addr target, closure;
        Addr entry_sp; // where the called function's frame starts (deferred_directly_)
        const ClosureWords *held = nullptr;
        Addr caller_ret = {}; // recorded in runtime.deferreturn: where it returns (its caller's call)
    };
    std::string call_cause(const CallAt &at, const Probe &p, Addr g, Event &e,
                           const std::optional<Site> &registered) const;
    // A panic raised by sigpanic where a deferred call of a nil func value faulted: that call.
    void on_nil_deferred_call(ThreadStop &stop, Addr g, uint64_t goid);
    void nil_call_in_deferreturn(ThreadStop &stop, const Frame &f, Addr g, uint64_t goid);
    void report_defer_call(const CallAt &at, const Probe &p, Addr g, uint64_t goid);
    // A defer statement registering its call: what its handler read, from a stop or a record.
    struct Registration {
        Addr funcval, code;
        const ClosureWords *held = nullptr; // the closure's words as recorded; null: read them
        Site site;
        Addr frame_sp;        // the SP of the frame the defer belongs to
        Addr rangefunc_frame; // deferprocat's frame argument
        std::optional<std::string> args;
    };
    void deferproc_registered(const Probe &p, Addr g, uint64_t goid, const Registration &r);
    void open_registered(const Probe &p, Addr g, uint64_t goid, const Registration &r);
    void remember(uint64_t goid, Addr code, const Site &site);
    std::optional<Site> take(uint64_t goid, Addr code);
    void on_deferreturn(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);
    // Forgets a goroutine's in-scope deferreturn frames (those deeper than `deeper_than`, or all).
    void drop_deferreturn_frames(uint64_t goid, std::optional<uint64_t> deeper_than);
    // Puts the breakpoints armed on demand (ProbePlan::on_demand) in place or takes them away.
    void arm(Arming when, bool on);
    // gorecover is armed while a panic or Goexit is in progress on some goroutine.
    void update_recover_arming();
    // Whether an event belongs in the trace: not the runtime's machinery, and in scope.
    [[nodiscard]] bool shown(const Event &e) const;

    // tracer_panics.cpp
    void on_panic(ThreadStop &stop, Addr g, uint64_t goid);
    void on_goexit(ThreadStop &stop, Addr g, uint64_t goid);
    void on_recover_entry(ThreadStop &stop, Addr g);
    // An in-scope CALL runtime.gorecover (out of the whole-program scope, where gorecover is armed
    // only during panics): recover()'s entry seen from its caller, its return at the instruction
    // after the call (RecoverCallReturn).
    void on_recover_call(ThreadStop &stop, Addr g, uint64_t goid);
    void on_recover_return(ThreadStop &stop, Addr g, uint64_t goid);
    void recover_returned(Addr g, uint64_t goid, Addr result_type, Addr result_data);
    void on_recovery(ThreadStop &stop);
    void on_fatal(ThreadStop &stop, Addr g, uint64_t goid);
    void on_fatal_printed(uint64_t goid);

    // tracer_endings.cpp
    void on_os_exit(ThreadStop &stop, Addr g);
    void on_exec_call(ThreadStop &stop, Addr g, uint64_t goid);
    // runtime.throw / runtime.fatal: a fatal event for the goroutine that threw (0: none, the
    // scheduler's deadlock check), never_run events for every other goroutine's pending defers.
    void on_throw(ThreadStop &stop, Addr g);
    // The fatal event of a throw, at the innermost frame of the program's.
    Event thrown_event(uint64_t goid, Addr user, Addr pc, Addr sp, const std::string &message);
    // Every goroutine of runtime.allgs (`current`: a goroutine it must hold, null for none).
    [[nodiscard]] std::vector<Addr> all_goroutines(Addr current) const;
    // One never_run event (`cause`) per goroutine with deferred calls still pending (`current`, the
    // goroutine stopped, from the stop's registers; left out if `current_reported`).
    [[nodiscard]] std::vector<Event> never_run_events(const ThreadStop &stop, Addr current, bool current_reported,
                                                      const char *cause);
    // The per-program state, forgotten when an exec replaces the program.
    void forget_program();
    // Follows the program an exec started: sets `x`'s ExecPayload traced / note.
    void follow_exec(Event &x, const std::string &path);

    // tracer_attached.cpp
    struct StoppedGoroutine {
        Addr g;
        uint64_t goid;
        uint32_t status;
        SavedContext at; // where it continues: its thread's registers if it is running on one
        bool on_thread = false;
    };
    // Every live goroutine of a process whose threads are all stopped. A goroutine whose thread is
    // in a signal handler continues where the signal interrupted it (signal_frames); the pc of
    // every context a handler will return to, a goroutine's or not, is added to `interrupted`.
    [[nodiscard]] std::vector<StoppedGoroutine> stopped_goroutines(Tracee &tracee,
                                                                   std::vector<Addr> *interrupted = nullptr) const;
    // A function's defer sites, from sites_ or attached_sites_; null if not analysed.
    [[nodiscard]] const FunctionDefers *analysed(std::string_view function) const;
    [[nodiscard]] Site registration_site(const PendingDefer &d) const;
    // Every pc some goroutine's frames will return to (Tracee::keep_unpatched).
    [[nodiscard]] std::vector<Addr> resume_pcs(const std::vector<StoppedGoroutine> &stopped) const;
    // Attached: the deferred calls each goroutine registered before deftrace came, remembered
    // (so that their calls name their defer statements) and, where a goroutine's whole chain is
    // known, given to the runtime model as if it had seen them registered.
    [[nodiscard]] bool halfway(const StoppedGoroutine &s) const;
    void seed_attached(const std::vector<StoppedGoroutine> &stopped);

    // tracer_records.cpp
    [[nodiscard]] bool recordable(const Probe &p) const;
    [[nodiscard]] bool probe_words(const Probe &p, LinkAddr at, std::vector<Capture> &out) const;
    // The record a breakpoint at `at` (placed at its `early` site, if given) takes instead of
    // stopping; nullopt: it stops.
    [[nodiscard]] std::optional<RecordSpec> record_spec(LinkAddr at, const EarlySite *early = nullptr) const;
    void on_record(const Record &r);
    void on_recorded_probe(const Probe &p, LinkAddr at, const Record &r, size_t &next);
    // The thread a goroutine's M runs on, for the records it takes (learnt at the stops when
    // m.procid's offset is not known).
    void learn_thread(Addr g, int32_t tid);
    int32_t thread_of(Addr m);
    void map_record_ring(Addr scratch);

    // tracer_resources.cpp
    void on_resource(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);
    [[nodiscard]] uint64_t handle_of(const ThreadStop &stop, const Probe &p) const;
    // The function that called the one stopped at its entry or ret: it resumes at [rsp].
    [[nodiscard]] Symbolizer::CallSite caller_at_entry(const ThreadStop &stop) const;

    const GoBinary *bin_; // the program's binary; after an exec, the new one's (owned_bins_)
    std::vector<std::unique_ptr<GoBinary>> owned_bins_;
    std::vector<FunctionDefers> sites_; // the probes point into it: never changed while attached
    // Attached: functions out of scope analysed only for the sites of defers pending at attach.
    std::vector<FunctionDefers> attached_sites_;
    RuntimeOffsets off_;
    GoRelease traits_; // the runtime model's generation for bin_'s release
    EventSink &sink_;
    TraceOptions options_;
    Tracee *tracee_ = nullptr;
    LoadBias bias_;
    CurrentG current_g_;        // where a stopped thread's g is
    ProbeRegisters probe_regs_; // the registers the handlers read, on every calling convention
    std::unique_ptr<StackWalker> walker_;
    std::unique_ptr<RuntimeState> state_;
    std::unique_ptr<TypeReader> types_;
    std::unique_ptr<FuncvalReader> funcvals_;
    std::unique_ptr<Symbolizer> names_;
    std::unique_ptr<ProbePlan> plan_;
    Scope scope_ = Scope::all();
    bool whole_program_ = true; // every defer is observed: no --panics-only, scope all
    bool recovers_armed_ = false, deferreturns_armed_ = false;
    std::unordered_map<uint64_t, std::vector<uint64_t>> deferreturn_frames_; // by goroutine: depths
    std::unordered_set<uint64_t> goexiting_;                                 // goroutines in Goexit
    // Every observation is checked against the runtime model; set by attach.
    std::unique_ptr<Validator> validator_;
    std::unordered_map<Addr, PendingRecover> recovers_; // by g
    // Before 1.17 a defer statement's function is called as it is (`defer recover()` defers
    // runtime.gorecover, `defer mu.Unlock()` sync.(*Mutex).Unlock): its caller is the runtime's
    // callNN or the frame's exit code, and the program's site is the defer statement. The last
    // such call's site and the SP its function starts with, by g.
    struct DeferredDirectly {
        Site site;
        Addr entry_sp;
    };
    std::unordered_map<Addr, DeferredDirectly> deferred_directly_;
    // The defer statement whose function starts at `entry_sp` on g now, if one is recorded.
    [[nodiscard]] std::optional<Site> deferred_directly(Addr g, Addr entry_sp) const;
    // Registered defers per goroutine, newest last: (code of the deferred closure, the defer
    // statement), so a deferred call can be attributed to the statement that registered it. Keyed
    // by code, not by funcval address: a closure built in the frame moves with the stack.
    std::unordered_map<uint64_t, std::vector<std::pair<Addr, Site>>> registered_;
    LeakTracker leaks_;
    std::vector<std::string> probe_notes_;                  // probed functions deftrace cannot see everywhere
    std::unordered_map<uint64_t, PanicSummary> last_panic_; // by goroutine: the newest panic
    PanicBook panics_;
    // A fatal event waits for preprintpanics to return, to carry the text the runtime prints.
    struct PendingFatal {
        Event event;
        std::vector<Addr> panics; // the panic records, in the order of the FatalPayload's panics
    };
    std::unordered_map<uint64_t, PendingFatal> fatals_; // by goroutine
    bool thrown_ = false;                               // a fatal error (runtime.throw / fatal) was reported
    // never_run events (cause exec) made at syscall.Exec's entry, emitted if the exec succeeds.
    std::vector<Event> exec_held_;
    uint64_t exec_goid_ = 0; // the goroutine in syscall.Exec
    // Observations and divergences of the validators of programs replaced by exec.
    uint64_t retired_observations_ = 0, retired_divergences_ = 0;
    uint64_t seq_ = 0;
    // Records (tracer_records.cpp): the breakpoint of each record's probe id, the clock of their
    // stamps, the thread of each M seen at a stop, the count read, and what the event being made
    // from one carries (make_event).
    std::vector<LinkAddr> record_sites_;
    TscClock clock_;
    std::unordered_map<Addr, int32_t> tid_of_m_;
    uint64_t recorded_ = 0, recording_stops_ = 0;
    std::unordered_set<LinkAddr> recording_at_;
    struct RecordContext {
        uint64_t startpc;
    };
    const RecordContext *recording_ = nullptr;
    bool draining_ = false;
    ClosureWords held_{};
    uint64_t perturb_records_nth_ = 0, perturb_records_count_ = 0; // DEFTRACE_TEST_PERTURB=drop-record:N
    std::array<uint64_t, kProbeKinds> hits_by_kind_{};
    uint64_t unplanned_hits_ = 0;
    std::unordered_set<uint64_t> started_; // goroutines whose go_start was shown (make_event)
    bool active_ = true;
    std::unordered_map<pid_t, uint64_t> spawned_by_; // child process -> the goroutine that started it
    // The stop being handled: the thread that stopped and the wall-clock time its handling began.
    // Every event made there carries them (make_event), also one held and emitted later (a fatal
    // panic waiting for its printed values); an event made at no stop gets the time it is emitted
    // and no thread (emit). Cleared between stops.
    struct StopStamp {
        int32_t tid = 0;
        int64_t time_us = 0;
    };
    StopStamp stamp_;
    // Sets stamp_ for the handling of one stop (or record), and puts back what it was when that
    // ends (a throw included).
    class Stamped {
    public:
        Stamped(StopStamp &stamp, int32_t tid, int64_t time_us = wall_clock_us()) : stamp_of_(stamp), before_(stamp) {
            stamp_of_ = {tid, time_us};
        }
        // Back to what it was: none between stops, the stop's own after a record read during it.
        ~Stamped() { stamp_of_ = before_; }
        Stamped(const Stamped &) = delete;
        Stamped &operator=(const Stamped &) = delete;

    private:
        StopStamp &stamp_of_;
        StopStamp before_;
    };
};

} // namespace deftrace
