// Where the tracer stops, decided from the binary alone (no process): the probes at each
// link-time address, how many bytes each breakpoint may patch, and the static facts the stop
// handlers need. Built once per program (again after an exec), and testable without ptrace.
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
//   deferrangefunc / goexit1 / os.Exit entry,         no event: observations for the runtime model
//     main.main's rets                                (trace/validator.h), which checks them all
//   probed resource functions (--leaks, --probes)     acquire / release
#pragma once

#include "analysis/defer_sites.h"
#include "arch/disassembler.h"
#include "binary/go_binary.h"
#include "leaks/resource_probe.h"
#include "trace/scope.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace deftrace {

enum class ProbeKind {
    DeferProc,         // runtime.deferproc entry: RAX = *funcval
    DeferProcStack,    // runtime.deferprocStack entry: RAX = *_defer with fn set
    DeferProcAt,       // runtime.deferprocat entry: RAX = *funcval (range-over-func body)
    DeferRangefunc,    // runtime.deferrangefunc entry: a rangefunc head record (model only)
    GoroutineEnd,      // runtime.goexit1 entry: the goroutine is done (model only)
    MainReturn,        // a ret of main.main: the program's defers have all run (model only)
    ProgramExit,       // os.Exit entry: the defers still registered are skipped (model only)
    OpenBitsStore,     // store into deferBits that sets a defer's bit
    OpenSlotStore,     // store of a defer's closure into its slot (bits store was eliminated)
    OpenExitCall,      // inline call of an open-coded defer at a return
    RuntimeCall,       // the runtime calling a deferred function (call *reg)
    Gopanic,           // runtime.gopanic entry: RAX:RBX = the value
    GorecoverEntry,    // runtime.gorecover entry
    GorecoverReturn,   // a ret of runtime.gorecover: RAX:RBX = result
    Recovery,          // runtime.recovery entry (on g0): RAX = the goroutine
    Goexit,            // runtime.Goexit entry
    Fatal,             // runtime.preprintpanics entry: RAX = the panic chain about to be printed
    FatalPrinted,      // a ret of runtime.preprintpanics: errors and Stringers are now their text
    OsExit,            // os.Exit entry: every goroutine's pending defers will never run
    ExecCall,          // syscall.Exec entry: every goroutine's pending defers, if the exec succeeds
    ExecFailed,        // a ret of syscall.Exec: the exec failed, the program goes on
    Throw,             // runtime.throw / runtime.fatal entry: RAX:RBX = the message; the process dies
    DeferprocCall,     // --scope: a CALL runtime.deferproc / deferprocStack / deferprocat in an in-scope
                       // function; RAX as at the callee's entry
    DeferreturnEnter,  // --scope: a CALL runtime.deferreturn in an in-scope function
    DeferreturnLeave,  // --scope: the instruction after it
    RecoverCall,       // --scope: a CALL runtime.gorecover in an in-scope function
    RecoverCallReturn, // --scope: the instruction after it: RAX:RBX = recover()'s result
    ResourceAcquire,   // a probed acquire function's ret (result handle) or entry (argument handle)
    ResourceRelease,   // a probed release function's entry: the handle in an argument register
                       // (both also at the atomic instruction of an inlined call, for lock probes)
};
inline constexpr size_t kProbeKinds = static_cast<size_t>(ProbeKind::ResourceRelease) + 1;
// "gopanic", "open-bits-store", ...: a kind's name in --stats.
const char *probe_kind_name(ProbeKind kind);

// When a probe's breakpoint is in place. Out of the whole-program scope, the runtime entry points
// that every goroutine's defers go through are armed only while something in scope needs them.
enum class Arming {
    Always,
    DuringPanics,       // gorecover: while a panic or Goexit is in progress on some goroutine
                        // (--panics-only, and out of the whole-program scope)
    InScopeDeferreturn, // deferreturn's calls: while an in-scope frame is in runtime.deferreturn
};

struct Probe {
    ProbeKind kind;
    Arming arming = Arming::Always;
    DeferKind defer_kind = DeferKind::Heap; // DeferprocCall: stack or heap
    bool rangefunc = false;                 // DeferprocCall: runtime.deferprocat
    const FunctionDefers *func = nullptr;   // open-coded probes
    int bit = -1;
    Operand source;                 // the stored value (open-coded stores)
    Gpr call_reg = Gpr::None;       // register holding the call target (indirect calls)
    std::optional<LinkAddr> direct; // direct call target (link-time)
    std::string cause;              // RuntimeCall: "panic", "goexit", "return", "" = from the panic chain
    bool via_reflectcall = false;   // RuntimeCall in runtime.callNN (≤1.16): only for the runtime's defers
    bool call_through_reg = false;  // the target is the word call_reg points at (`call *(%rdx)`, 1.14)
    bool funcval_on_stack = false;  // CALL runtime.jmpdefer (≤1.17): the funcval at SP, argp at SP+8
    int64_t slot_sp_offset = 0;     // OpenBitsStore: closure slot of `bit`, from SP
    bool has_slot = false;
    const ResourceProbe *resource = nullptr; // ResourceAcquire / ResourceRelease
    Gpr handle_reg = Gpr::None;
    bool handle_deref = false;
    bool handle_is_result = false; // ResourceAcquire at a ret: the handle is a result
    // An inlined call's atomic instruction: the handle is its memory operand's address - offset.
    std::optional<MemOperand> handle_mem;
    LinkAddr handle_mem_next; // link-time address after the instruction (RIP-relative operands)
    int64_t handle_offset = 0;
    LinkAddr inline_call; // the inlined call's site, in the running frame (link-time); null: not inlined
};

struct PlanOptions {
    // Only panics: no probes on the normal defer paths (deferproc, open-coded stores and exits,
    // deferreturn's calls).
    bool panics_only = false;
    const std::vector<ResourceProbe> *resources = nullptr; // --leaks / --probes; may be null
    const Scope *scope = nullptr;                          // null: all
    // recover() calls made while no panic is in progress are probed too (otherwise, in
    // --panics-only mode, gorecover is armed during panics only).
    bool all_recovers = false;
};

// One breakpoint: where (link-time), and how many bytes a jump patch may replace there
// (process/breakpoint_table.h); 0: an int3 only. `before`: how many bytes before it a patch may
// start instead (guarded patches, Tracee::guard), over plain instructions that nothing jumps
// between.
struct PlannedBreakpoint {
    LinkAddr link_addr;
    size_t patchable = 0;
    size_t before = 0;
};

// Where a probe whose own instruction no guarded patch can carry may be caught instead: a few
// register loads before it (the funcval and its code word before an open-coded exit's or the
// runtime's `call *reg`, say), the first of them with enough plain bytes for a patch. The tracer
// plays `emulate` (arch/register_loads.h) on the registers it sees at `at` to get those at the
// probe.
struct EarlySite {
    LinkAddr at;
    std::vector<Instruction> emulate;
};

class ProbePlan {
public:
    // `sites` must outlive the plan (probes point into it), as must `opts.resources`.
    static ProbePlan build(const GoBinary &bin, const std::vector<FunctionDefers> &sites, const Disassembler &dis,
                           const PlanOptions &opts);

    // The probes at a link-time address; null if none.
    [[nodiscard]] const std::vector<Probe> *at(LinkAddr link_addr) const;
    [[nodiscard]] const std::unordered_map<LinkAddr, std::vector<Probe>> &probes() const { return probes_; }
    // The breakpoints in place from the start, sorted by address.
    [[nodiscard]] const std::vector<PlannedBreakpoint> &breakpoints() const { return breakpoints_; }
    // The addresses (link-time) armed on demand, by when.
    [[nodiscard]] std::vector<LinkAddr> on_demand(Arming when) const;
    // Where a patch for the breakpoint at `link_addr` (any of them, on-demand ones too) may go.
    [[nodiscard]] PlannedBreakpoint window(LinkAddr link_addr) const;
    // The early site of the probes at `link_addr`, if there is one (null otherwise).
    [[nodiscard]] const EarlySite *early(LinkAddr link_addr) const;
    // Link-time addresses right after an open-coded exit's call (the model tells an inline exit's
    // deferred call from deferreturn's by its return address).
    [[nodiscard]] const std::vector<LinkAddr> &exit_returns() const { return exit_returns_; }
    // preprintpanics' rets are probed: a fatal event waits for them to carry the printed text.
    [[nodiscard]] bool fatal_printed_probed() const { return fatal_printed_; }
    // runtime.allgs (link-time address of the []*g), when a stop may need every goroutine.
    [[nodiscard]] const std::optional<LinkAddr> &allgs() const { return allgs_; }
    // Probed functions deftrace cannot see everywhere (calls inlined without a rule).
    [[nodiscard]] const std::vector<std::string> &notes() const { return notes_; }

private:
    ProbePlan(const GoBinary &bin, const Disassembler &dis) : bin_(&bin), dis_(&dis) {}
    void add(LinkAddr link_addr, Probe p);
    [[nodiscard]] std::optional<FuncInfo> function(std::string_view fn) const;
    void add_entry(std::string_view fn, ProbeKind kind);
    size_t add_rets(std::string_view fn, ProbeKind kind); // how many rets

    void add_runtime_probes(const PlanOptions &opts);
    void add_program_end_probes();
    void add_runtime_calls(bool panics_only);
    void add_indirect_calls(const FuncInfo &f, const char *cause, bool via_reflectcall);
    void add_open_coded(const std::vector<FunctionDefers> &sites, const Scope *scope);
    void add_scoped_defer_paths(const std::vector<FunctionDefers> &sites, const Scope &scope);
    void add_scoped_recover_calls(const Scope &scope);
    void set_arming(const PlanOptions &opts);
    void add_open_exit(const FunctionDefers &f, const OpenCodedExit &e);
    static std::string unmatched_note(const ResourceProbe &rp);
    void add_resources(const std::vector<ResourceProbe> &resources);
    void add_inlined_copies(const ResourceProbe &rp, const ProbedFunction &pf, const Probe &p,
                            const std::vector<GoBinary::InlinedCopy> &copies);
    void plan_breakpoints();
    static size_t room_before(const std::vector<Instruction> &insns, const std::vector<LinkAddr> &targets,
                              LinkAddr addr, LinkAddr previous);
    static std::optional<EarlySite> early_site(const std::vector<Instruction> &insns,
                                               const std::vector<LinkAddr> &targets, LinkAddr addr, LinkAddr previous);
    [[nodiscard]] LinkAddr after_stack_check(const FuncInfo &f) const;
    [[nodiscard]] std::optional<LinkAddr> locate_allgs() const;

    const GoBinary *bin_;
    const Disassembler *dis_;
    std::unordered_map<LinkAddr, std::vector<Probe>> probes_;
    std::vector<PlannedBreakpoint> breakpoints_;
    std::unordered_map<LinkAddr, PlannedBreakpoint> windows_; // every probe address's
    std::unordered_map<LinkAddr, EarlySite> early_;           // by probe address
    std::vector<LinkAddr> exit_returns_;
    bool fatal_printed_ = false;
    std::optional<LinkAddr> allgs_;
    std::vector<std::string> notes_;
};

} // namespace deftrace
