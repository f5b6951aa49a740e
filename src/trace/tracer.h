// The tracer: decides where breakpoints go (from the static analysis), and turns each hit into
// trace events by reading the goroutine's runtime state.
//
// Probe points (go-runtime.md §2, §3, §8):
//   deferproc / deferprocStack / deferprocat entry    defer (heap / stack / heap), RAX = fn or d
//   open-coded deferBits stores (inspect's sites)     defer (open-coded) when the stored bit is set
//   open-coded exit calls                             defer_call, cause return
//   indirect calls in gopanic / Goexit / deferreturn  defer_call, RDX = the *funcval being run
//     (and deferCallSave before Go 1.22)
//   gopanic entry (RAX:RBX = the value)               panic
//   gorecover entry and returns                       recover, with the outcome and the reason
//   recovery entry (RAX = the goroutine)              recovery, where execution resumes
//   Goexit entry, preprintpanics entry and returns    goexit, fatal (panics, the text printed
//                                                     for each, pending defers)
//   throw / fatal entry (RAX:RBX = the message)       fatal (a fatal error), never_run for the
//                                                     other goroutines
//   os.Exit entry; syscall.Exec entry and returns     never_run per goroutine (for an exec: held
//                                                     until the exec stop, dropped if it returns)
//   the exec stop (StopHandler::on_exec)              exec; a Go program is then traced afresh
//   deferrangefunc / goexit1 / os.Exit entry,         no event: observations for the runtime model
//     main.main's rets                                (trace/validator.h), which checks them all
#pragma once

#include "analysis/defer_sites.h"
#include "binary/go_binary.h"
#include "goruntime/current_g.h"
#include "goruntime/go_types.h"
#include "goruntime/runtime_offsets.h"
#include "goruntime/runtime_state.h"
#include "goruntime/stack_unwind.h"
#include "leaks/leak_tracker.h"
#include "leaks/resource_probe.h"
#include "process/tracee.h"
#include "trace/event.h"

#include <functional>
#include <memory>
#include <unordered_map>

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
};

class Tracer : public StopHandler {
public:
    Tracer(const GoBinary &bin, std::vector<FunctionDefers> sites, RuntimeOffsets offsets, EventSink &sink,
           TraceOptions options);
    ~Tracer() override;

    // At the launch stop: load bias, scratch page, breakpoints.
    void attach(Tracee &tracee);
    void on_breakpoint(ThreadStop &stop, Addr addr) override;
    void on_exiting(ThreadStop &stop, int status) override;
    void on_exec() override;
    // The program is gone: the final event.
    void finish(const ExitStatus &status);

    [[nodiscard]] uint64_t events() const { return seq_; }
    // Observations the runtime model disagreed with (trace/validator.h); 0 before attach.
    [[nodiscard]] uint64_t divergences() const;
    // Probed resources still open (at the end: leaks).
    [[nodiscard]] size_t leaks_open() const { return leaks_.open().size(); }

private:
    struct Probe;
    struct PendingRecover;

    void add_probe(Addr link_addr, Probe p);
    void insert_all(Tracee &tracee);
    void insert_breakpoints(Tracee &tracee);
    Event make_event(EventKind kind, uint64_t goid, Addr g);
    void emit(Event e);

    // Helpers over the live process.
    [[nodiscard]] std::string func_name_at(Addr runtime_pc) const;
    [[nodiscard]] Site site_at(Addr runtime_pc, bool return_address) const;
    [[nodiscard]] std::string funcval_name(Addr funcval) const;
    [[nodiscard]] Addr funcval_code(Addr funcval) const;
    // Sets `fn` to the deferred function's name; for a compiler-generated wrapper, `fn` is the
    // function it calls and `wrapper` the wrapper's own name.
    // `closure` is the funcval (the wrapper's context), used when the wrapper calls through a
    // register.
    void set_fn(nlohmann::ordered_json &fields, Addr code, Addr closure) const;
    [[nodiscard]] Site user_site(const ThreadStop &stop) const;
    [[nodiscard]] nlohmann::ordered_json value_json(Addr type, Addr data) const;
    // `complete` (if given): false when the stack is deeper than the frames walked, so that
    // open-coded defers further down are missing (linked records are all there).
    [[nodiscard]] nlohmann::ordered_json pending_defers(Addr g, Addr pc, Addr sp, bool *complete = nullptr) const;

    void on_defer_call(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);
    void on_open_register(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);
    void on_panic(ThreadStop &stop, Addr g, uint64_t goid);
    // A panic raised by sigpanic where a deferred call of a nil func value faulted: that call.
    void on_nil_deferred_call(ThreadStop &stop, Addr g, uint64_t goid);
    void on_recover_entry(ThreadStop &stop, Addr g);
    void on_recover_return(ThreadStop &stop, Addr g, uint64_t goid);
    void on_recovery(ThreadStop &stop);
    // A panic chain (newest first, as the runtime links it) as the JSON `panics` list, oldest first.
    nlohmann::ordered_json panic_chain_json(const std::vector<PanicRecord> &newest_first) const;
    void on_fatal(ThreadStop &stop, Addr g, uint64_t goid);
    void on_fatal_printed(uint64_t goid);
    void on_resource(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid);
    void on_os_exit(ThreadStop &stop, Addr g);
    void on_exec_call(ThreadStop &stop, Addr g, uint64_t goid);
    // The per-program state, forgotten when an exec replaces the program.
    void forget_program();
    // runtime.throw / runtime.fatal: a fatal event for the goroutine that threw (0: none, the
    // scheduler's deadlock check), never_run events for every other goroutine's pending defers.
    void on_throw(ThreadStop &stop, Addr g);
    // Every goroutine of runtime.allgs; empty when the list cannot be read or is not what it
    // must be (`current`: a goroutine it must hold, null for none).
    [[nodiscard]] std::vector<Addr> all_goroutines(Addr current) const;
    // One never_run event (`cause`) per goroutine with deferred calls still pending (`current`, the
    // goroutine stopped, from the stop's registers; left out if `current_reported`).
    [[nodiscard]] std::vector<Event> never_run_events(const ThreadStop &stop, Addr current, bool current_reported,
                                                      const char *cause);
    // pending_defers without the runtime's own (runtime.main's deferred function).
    [[nodiscard]] nlohmann::ordered_json program_pending(Addr g, Addr pc, Addr sp, bool *complete = nullptr) const;
    // runtime.allgs (link-time address of the []*g): the symbol, or found in runtime.forEachG's
    // code for stripped binaries.
    [[nodiscard]] std::optional<Addr> locate_allgs(const Disassembler &dis) const;
    void insert_resource_probes(const Disassembler &dis);
    void insert_inlined_copies(const Disassembler &dis, const ResourceProbe &rp, const ProbedFunction &pf, Probe p,
                               const std::vector<GoBinary::InlinedCopy> &copies);
    // A frame making a call: the frame's run-time pc and sp, and the link-time pc of the call (the
    // call instruction, or the site of a call the compiler inlined).
    struct CallSite {
        Addr pc, sp, call;
    };
    // The function that called the one stopped at its entry or ret: it resumes at [rsp].
    [[nodiscard]] CallSite caller_at_entry(const ThreadStop &stop) const;
    // The frames from `at` outward, inlined calls expanded; innermost first.
    [[nodiscard]] std::vector<Site> call_stack(const CallSite &at) const;
    [[nodiscard]] static Site program_site(const std::vector<Site> &stack);
    // g.stack.hi - sp: a frame's position that survives the runtime moving the stack.
    [[nodiscard]] std::optional<uint64_t> depth_of(Addr g, Addr sp) const;
    [[nodiscard]] FrameList frames_of(Addr g, Addr pc, Addr sp) const;

    const GoBinary *bin_; // the program's binary; after an exec, the new one's (owned_bins_)
    std::vector<std::unique_ptr<GoBinary>> owned_bins_;
    std::vector<FunctionDefers> sites_;
    RuntimeOffsets off_;
    EventSink &sink_;
    TraceOptions options_;
    Tracee *tracee_ = nullptr;
    uint64_t bias_ = 0;
    CurrentG current_g_; // where a stopped thread's g is
    std::unique_ptr<StackWalker> walker_;
    std::unique_ptr<RuntimeState> state_;
    std::unique_ptr<TypeReader> types_;
    std::unordered_map<Addr, std::vector<Probe>> probes_; // by link-time address
    std::unordered_map<Addr, PendingRecover> recovers_;   // by g
    // Registered defers per goroutine, newest last: (code of the deferred closure, the defer
    // statement), so a deferred call can be attributed to the statement that registered it. Keyed
    // by code, not by funcval address: a closure built in the frame moves with the stack.
    std::unordered_map<uint64_t, std::vector<std::pair<Addr, Site>>> registered_;
    void remember(uint64_t goid, Addr funcval, const Site &site);
    std::optional<Site> take(uint64_t goid, Addr code);
    [[nodiscard]] Addr after_stack_check(const FuncInfo &f, const Disassembler &dis) const;
    std::optional<Addr> allgs_;
    std::vector<std::pair<Addr, Addr>> file_words_; // [lo, hi): read-only words read from the file
    LeakTracker leaks_;
    std::vector<std::string> probe_notes_;                  // probed functions deftrace cannot see everywhere
    std::unordered_map<uint64_t, PanicSummary> last_panic_; // by goroutine: the newest panic
    // The panics in progress on each goroutine, oldest first, as they started: a recovery that
    // resumes above a panic's gopanic frame ends it; the recovered panic, and any older one not
    // recovered, which was aborted (its deferred call panicked, and that panic's recovery unwound
    // the frames the older one was unwinding).
    struct PanicInProgress {
        uint64_t depth = 0; // g.stack.hi - SP at gopanic's entry
        nlohmann::ordered_json value;
        Site site;
        bool recovered = false;
    };
    std::unordered_map<uint64_t, std::vector<PanicInProgress>> in_progress_;
    // A fatal event waits for preprintpanics to return, to carry the text the runtime prints.
    struct PendingFatal {
        Event event;
        std::vector<Addr> panics; // the panic records, in the order of event.fields["panics"]
    };
    std::unordered_map<uint64_t, PendingFatal> fatals_; // by goroutine
    bool fatal_printed_probe_ = false;
    bool thrown_ = false; // a fatal error (runtime.throw / fatal) was reported
    // never_run events (cause exec) made at syscall.Exec's entry, emitted if the exec succeeds.
    std::vector<Event> exec_held_;
    uint64_t exec_goid_ = 0; // the goroutine in syscall.Exec
    // Observations and divergences of the validators of programs replaced by exec.
    uint64_t retired_observations_ = 0, retired_divergences_ = 0;
    // Every observation is checked against the runtime model (trace/validator.h).
    std::unique_ptr<Validator> validator_;
    void emit_divergences();
    uint64_t seq_ = 0;
    bool active_ = true;
    // Static answers, memoised: the same few pcs come back at every event.
    mutable std::unordered_map<uint64_t, Site> site_cache_; // key: link pc * 2 + return_address
    mutable std::unordered_map<Addr, std::string> name_cache_;
    struct CalleeNames {
        std::string raw, callee; // callee: empty unless a wrapper with a static target
        bool indirect = false;   // a wrapper that calls through a register
    };
    mutable std::unordered_map<Addr, CalleeNames> callee_cache_; // by code address
};

} // namespace deftrace
