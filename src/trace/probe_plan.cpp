#include "trace/probe_plan.h"

#include "arch/displacement.h"
#include "arch/register_loads.h"

#include "binary/go_names.h"
#include "trace/symbolizer.h"

#include <algorithm>

namespace deftrace {

namespace {

// Go's register ABI (ABIInternal, amd64, 1.17+): integer arguments and results, receiver first.
Gpr abi_register(int index) {
    static constexpr Gpr order[] = {Gpr::Rax, Gpr::Rbx, Gpr::Rcx, Gpr::Rdi, Gpr::Rsi,
                                    Gpr::R8,  Gpr::R9,  Gpr::R10, Gpr::R11};
    return index >= 0 && index < 9 ? order[index] : Gpr::None;
}

Probe probe_of(ProbeKind kind) {
    Probe p;
    p.kind = kind;
    return p;
}

} // namespace

// The order probes are added in is the order a stop at a shared address handles them (os.Exit:
// the model's ProgramExit before OsExit's never_run events).
ProbePlan ProbePlan::build(const GoBinary &bin, const std::vector<FunctionDefers> &sites, const Disassembler &dis,
                           const PlanOptions &opts) {
    ProbePlan plan(bin, dis);
    const bool scoped = opts.scope && !opts.scope->is_all();
    plan.add_runtime_probes(opts);
    plan.add_runtime_calls(opts.panics_only);
    if (!opts.panics_only)
        plan.add_open_coded(sites, scoped ? opts.scope : nullptr);
    if (!opts.panics_only && scoped) {
        plan.add_scoped_defer_paths(sites, *opts.scope);
        plan.add_scoped_recover_calls(*opts.scope);
    }
    plan.set_arming(opts);
    plan.plan_breakpoints();
    return plan;
}

namespace {

bool on_demand_only(const std::vector<Probe> &probes) {
    return std::all_of(probes.begin(), probes.end(), [](const Probe &p) { return p.arming != Arming::Always; });
}

} // namespace

std::vector<LinkAddr> ProbePlan::on_demand(Arming when) const {
    std::vector<LinkAddr> out;
    for (const auto &[addr, probes] : probes_)
        if (on_demand_only(probes) && probes.front().arming == when)
            out.push_back(addr);
    std::sort(out.begin(), out.end());
    return out;
}

void ProbePlan::set_arming(const PlanOptions &opts) {
    const bool scoped = opts.scope && !opts.scope->is_all();
    // Every recover() costs two stops at gorecover. The whole program's are all reported, so
    // there it is always armed; --panics-only arms it while a panic or Goexit is in progress
    // (unless --all-recovers); out of the whole-program scope too, in-scope recover() calls with
    // no panic in progress being seen at their own CALLs (add_scoped_recover_calls).
    const bool recovers_on_demand = opts.panics_only ? !opts.all_recovers : scoped;
    for (auto &[addr, probes] : probes_)
        for (auto &p : probes) {
            if (recovers_on_demand && (p.kind == ProbeKind::GorecoverEntry || p.kind == ProbeKind::GorecoverReturn))
                p.arming = Arming::DuringPanics;
            if (scoped && p.kind == ProbeKind::RuntimeCall && p.cause == "return")
                p.arming = Arming::InScopeDeferreturn;
        }
}

// Out of the whole-program scope, a linked defer is seen at its in-scope CALL of
// runtime.deferproc* (not at the runtime's entry, which every package's defers go through), and
// the calls deferreturn makes are armed while an in-scope frame is in deferreturn: from its CALL
// runtime.deferreturn (every return of a function with linked defers, and where a recovery
// resumes it) to the instruction after.
void ProbePlan::add_scoped_defer_paths(const std::vector<FunctionDefers> &sites, const Scope &scope) {
    const auto deferreturn = function("runtime.deferreturn");
    for (const auto &f : sites) {
        if (!scope.contains(f.name))
            continue;
        for (const auto &s : f.sites) {
            if (s.kind == DeferKind::OpenCoded)
                continue;
            Probe p = probe_of(ProbeKind::DeferprocCall);
            p.defer_kind = s.kind;
            p.rangefunc = s.runtime_call == "runtime.deferprocat";
            add(s.pc, p);
        }
    }
    // The functions that call deferreturn say so in their _func (the call a recovery resumes
    // at): those with linked or open-coded defers, and those whose range-over-func loop bodies
    // defer onto their frame (1.23+), which have no defer statement of their own.
    const Pclntab &tab = bin_->pclntab();
    for (size_t i = 0; deferreturn && i < tab.num_funcs(); ++i) {
        const FuncInfo f = tab.func(i);
        if (f.deferreturn == 0 || !scope.contains(tab.func_name(f)))
            continue;
        for (const auto &in : dis_->decode(bin_->code(f), f.entry))
            if (in.op == Op::Call && in.branch_target == deferreturn->entry) {
                add(in.address, probe_of(ProbeKind::DeferreturnEnter));
                add(in.next(), probe_of(ProbeKind::DeferreturnLeave));
            }
    }
}

// Out of the whole-program scope, gorecover is armed only during panics; a recover() of an
// in-scope function that finds no panic (recover() = nil, no panic: part of the story) is seen at
// its CALL runtime.gorecover and the instruction after, where RAX:RBX hold the result
// (cmd/compile's walkRecover: a direct call, never inlined, 1.17-1.27). The standard library's
// many recover() calls then cost no stop.
void ProbePlan::add_scoped_recover_calls(const Scope &scope) {
    const auto gorecover = function("runtime.gorecover");
    if (!gorecover)
        return;
    const std::vector<LinkAddr> target = {gorecover->entry};
    const Pclntab &tab = bin_->pclntab();
    for (size_t i = 0; i < tab.num_funcs(); ++i) {
        const FuncInfo f = tab.func(i);
        if (f.end <= f.entry || !may_call(bin_->code(f), f.entry, target) || !scope.contains(tab.func_name(f)))
            continue;
        for (const auto &in : dis_->decode(bin_->code(f), f.entry))
            if (in.op == Op::Call && in.branch_target == gorecover->entry) {
                add(in.address, probe_of(ProbeKind::RecoverCall));
                add(in.next(), probe_of(ProbeKind::RecoverCallReturn));
            }
    }
}

const std::vector<Probe> *ProbePlan::at(LinkAddr link_addr) const {
    auto it = probes_.find(link_addr);
    return it == probes_.end() ? nullptr : &it->second;
}

void ProbePlan::add(LinkAddr link_addr, Probe p) {
    probes_[link_addr].push_back(std::move(p));
}

// The watched runtime functions (binary/runtime_functions.h) are resolved already.
std::optional<FuncInfo> ProbePlan::function(std::string_view fn) const {
    if (auto f = bin_->runtime().get(fn))
        return f;
    if (auto i = bin_->pclntab().find_by_name(fn))
        return bin_->pclntab().func(*i);
    return std::nullopt;
}

void ProbePlan::add_entry(std::string_view fn, ProbeKind kind) {
    if (auto f = function(fn))
        add(after_stack_check(*f), probe_of(kind));
}

size_t ProbePlan::add_rets(std::string_view fn, ProbeKind kind) {
    size_t n = 0;
    if (auto f = function(fn))
        for (const auto &in : dis_->decode(bin_->code(*f), f->entry))
            if (in.op == Op::Ret) {
                add(in.address, probe_of(kind));
                ++n;
            }
    return n;
}

void ProbePlan::add_runtime_probes(const PlanOptions &opts) {
    if (!opts.panics_only && (!opts.scope || opts.scope->is_all())) {
        add_entry("runtime.deferproc", ProbeKind::DeferProc);
        add_entry("runtime.deferprocStack", ProbeKind::DeferProcStack);
        add_entry("runtime.deferprocat", ProbeKind::DeferProcAt);
        add_entry("runtime.deferrangefunc", ProbeKind::DeferRangefunc);
    }
    add_entry("runtime.gopanic", ProbeKind::Gopanic);
    add_entry("runtime.gorecover", ProbeKind::GorecoverEntry);
    add_entry("runtime.recovery", ProbeKind::Recovery);
    add_entry("runtime.Goexit", ProbeKind::Goexit);
    // goexit1: both a goroutine whose function returned (runtime.goexit) and Goexit end there,
    // still on the goroutine (1.17-1.27); the model checks the chains are empty and forgets it.
    add_entry("runtime.goexit1", ProbeKind::GoroutineEnd);
    // The main goroutine does not end through goexit1 (runtime.main calls exit): its chains
    // are checked when main.main returns, or when os.Exit ends the program.
    add_rets("main.main", ProbeKind::MainReturn);
    add_entry("os.Exit", ProbeKind::ProgramExit);
    // gopanic calls preprintpanics(p) then fatalpanic(p) with the same chain (1.17-1.27).
    // preprintpanics replaces every error or Stringer value by the string its method returns:
    // the program's values are read at its entry, the text the runtime is about to print at its
    // returns.
    add_entry("runtime.preprintpanics", ProbeKind::Fatal);
    fatal_printed_ = add_rets("runtime.preprintpanics", ProbeKind::FatalPrinted) > 0;
    if (opts.resources)
        add_resources(*opts.resources);
    add_program_end_probes();
}

void ProbePlan::add_program_end_probes() {
    const Pclntab &tab = bin_->pclntab();
    add_entry("os.Exit", ProbeKind::OsExit);
    // Every fatal error the runtime raises goes through throw(s string) (its own faults: stack
    // overflow, ...) or fatal(s string) (the program's: deadlock, concurrent map writes, main
    // calling Goexit with no goroutine left), both nosplit, both ending in fatalthrow, which runs
    // no deferred call (panic.go, 1.17-1.27). An unrecovered panic ends through fatalpanic
    // instead, which calls neither.
    add_entry("runtime.throw", ProbeKind::Throw);
    add_entry("runtime.fatal", ProbeKind::Throw);
    // syscall.Exec (syscall/exec_unix.go, 1.17-1.27; golang.org/x/sys/unix.Exec calls it): if
    // execve succeeds, no deferred call of the program runs. Whether it does is known only at
    // the exec stop, when the old memory is gone: the pending defers are read at the entry and
    // reported then, or dropped at a ret (the exec failed and syscall.Exec returns the error).
    add_entry("syscall.Exec", ProbeKind::ExecCall);
    add_rets("syscall.Exec", ProbeKind::ExecFailed);
    if (tab.find_by_name("runtime.throw") || tab.find_by_name("runtime.fatal") || tab.find_by_name("syscall.Exec") ||
        tab.find_by_name("os.Exit"))
        allgs_ = locate_allgs(); // every goroutine's pending defers, when the process dies
    add_rets("runtime.gorecover", ProbeKind::GorecoverReturn);
}

void ProbePlan::add_runtime_calls(bool panics_only) {
    const std::pair<const char *, const char *> callers[] = {
        {"runtime.gopanic", "panic"},
        {"runtime.Goexit", "goexit"},
        {"runtime.deferreturn", "return"},
        {"runtime.deferCallSave", ""}, // ≤1.21: open-coded defers and Goexit; cause from the chain
    };
    for (const auto &[fn, cause] : callers) {
        if (panics_only && std::string_view(fn) == "runtime.deferreturn")
            continue;
        if (auto f = function(fn))
            add_indirect_calls(*f, cause, false);
    }
    const GoRelease &facts = bin_->facts();
    // ≤1.17: deferreturn calls jmpdefer(fn, argp) (ABI0: both on the stack), which makes the
    // deferred function return to the CALL runtime.deferreturn and jumps to it. The probe is
    // that CALL: a direct call a patch can carry, where jmpdefer's `JMP BX` is too short for one.
    if (facts.deferreturn_jmpdefer && !panics_only) {
        auto f = function("runtime.deferreturn");
        auto jmpdefer = bin_->pclntab().find_by_name("runtime.jmpdefer");
        if (f && jmpdefer)
            for (const auto &in : dis_->decode(bin_->code(*f), f->entry))
                if (in.op == Op::Call && in.branch_target == bin_->pclntab().func(*jmpdefer).entry) {
                    Probe p = probe_of(ProbeKind::RuntimeCall);
                    p.cause = "return";
                    p.funcval_on_stack = true;
                    add(in.address, p);
                }
    }
    // ≤1.16: gopanic, Goexit and reflectcallSave call a deferred function through reflectcall,
    // which jumps to the callNN that fits its arguments; callNN copies them and `CALL AX`.
    // reflect.Value.Call and finalizers use them too: the handler keeps the calls whose callNN
    // returns into one of the three.
    if (facts.panic_calls_reflectcall) {
        const Pclntab &tab = bin_->pclntab();
        for (size_t i = 0; i < tab.num_funcs(); ++i)
            if (const FuncInfo f = tab.func(i); is_reflectcall_helper(tab.func_name(f)))
                add_indirect_calls(f, "", true);
    }
}

// Every `call *reg` of f: a deferred function being run. With `via_reflectcall` also
// `call *(reg)`, Go 1.14's callNN calling through the funcval itself.
void ProbePlan::add_indirect_calls(const FuncInfo &f, const char *cause, bool via_reflectcall) {
    for (const auto &in : dis_->decode(bin_->code(f), f.entry)) {
        if (in.op != Op::Call || in.branch_target || in.operands.size() != 1)
            continue;
        const Operand &o = in.operands[0];
        const bool through_funcval = via_reflectcall && o.kind == Operand::Kind::Mem && o.mem.base != Gpr::None &&
                                     o.mem.base != Gpr::Rip && o.mem.index == Gpr::None && o.mem.disp == 0 &&
                                     !o.mem.fs_segment;
        if (o.kind == Operand::Kind::Reg || through_funcval) {
            Probe p = probe_of(ProbeKind::RuntimeCall);
            p.call_reg = through_funcval ? o.mem.base : o.reg;
            p.call_through_reg = through_funcval;
            p.cause = cause;
            p.via_reflectcall = via_reflectcall;
            add(in.address, p);
        }
    }
}

void ProbePlan::add_open_coded(const std::vector<FunctionDefers> &sites, const Scope *scope) {
    for (const auto &f : sites) {
        if (!f.open_coded || (scope && !scope->contains(f.name)))
            continue;
        for (const auto &s : f.sites) {
            if (s.kind != DeferKind::OpenCoded)
                continue;
            auto in = dis_->decode_one(bin_->code(*bin_->pclntab().find_func(s.pc)).subspan(s.pc - f.entry), s.pc);
            if (!in || in->operands.size() != 2)
                continue;
            Probe p;
            p.func = &f;
            p.bit = s.bit;
            p.source = in->operands[1];
            p.kind = in->operands[0].size == 1 ? ProbeKind::OpenBitsStore : ProbeKind::OpenSlotStore;
            const auto &slots = f.open_coded->slot_sp_offsets;
            if (static_cast<size_t>(s.bit) < slots.size() && slots[static_cast<size_t>(s.bit)]) {
                p.slot_sp_offset = *slots[static_cast<size_t>(s.bit)];
                p.has_slot = true;
            }
            add(s.pc, p);
        }
        for (const auto &e : f.open_coded->exits)
            add_open_exit(f, e);
    }
}

void ProbePlan::add_open_exit(const FunctionDefers &f, const OpenCodedExit &e) {
    if (e.call_pc.is_null())
        return;
    auto in =
        dis_->decode_one(bin_->code(*bin_->pclntab().find_func(e.call_pc)).subspan(e.call_pc - f.entry), e.call_pc);
    if (!in)
        return;
    exit_returns_.push_back(in->next());
    // Exits may share one call instruction (tail merging): one probe per call; which defer it
    // runs is then found from the registration it matches.
    bool shared = false;
    if (auto it = probes_.find(e.call_pc); it != probes_.end())
        for (auto &q : it->second)
            if (q.kind == ProbeKind::OpenExitCall) {
                q.bit = -1;
                shared = true;
            }
    if (shared)
        return;
    Probe p = probe_of(ProbeKind::OpenExitCall);
    p.func = &f;
    p.bit = e.bit;
    p.direct = in->branch_target;
    if (!p.direct && in->operands.size() == 1 && in->operands[0].kind == Operand::Kind::Reg)
        p.call_reg = in->operands[0].reg;
    add(e.call_pc, p);
}

void ProbePlan::add_resources(const std::vector<ResourceProbe> &resources) {
    const Pclntab &tab = bin_->pclntab();
    if (resources.empty())
        return;
    std::vector<std::string> names;
    for (const ResourceProbe &rp : resources) {
        for (const auto &pf : rp.acquire)
            names.push_back(pf.function);
        for (const auto &pf : rp.release)
            names.push_back(pf.function);
    }
    const auto copies = bin_->inlined_copies(names);
    for (const ResourceProbe &rp : resources) {
        bool acquirable = false; // an acquire function is in the program, out of line or inlined
        auto each_function = [&](const std::vector<ProbedFunction> &list, bool acquire) {
            for (const ProbedFunction &pf : list) {
                if (acquire && (tab.find_by_name(pf.function) || !copies.at(pf.function).empty()))
                    acquirable = true;
                Probe p = probe_of(acquire ? ProbeKind::ResourceAcquire : ProbeKind::ResourceRelease);
                p.resource = &rp;
                p.handle_reg = abi_register(pf.handle.index);
                p.handle_deref = pf.handle.deref;
                if (auto index = tab.find_by_name(pf.function)) {
                    const FuncInfo f = tab.func(*index);
                    // A result is in its register at every ret; an argument is taken at entry.
                    if (acquire && pf.handle.from == HandleSlot::From::Result) {
                        Probe at_ret = p;
                        at_ret.handle_is_result = true;
                        for (const auto &in : dis_->decode(bin_->code(f), f.entry))
                            if (in.op == Op::Ret)
                                add(in.address, at_ret);
                    } else {
                        add(after_stack_check(f), p);
                    }
                }
                add_inlined_copies(rp, pf, p, copies.at(pf.function));
            }
        };
        each_function(rp.acquire, true);
        each_function(rp.release, false);
        if (!acquirable && rp.named)
            notes_.push_back(unmatched_note(rp));
    }
}

// A probe none of whose acquire functions the linker kept (the program never calls them, or the
// probe names a function that does not exist): it can see nothing, and "leaks: none" alone would
// pass for a clean bill.
std::string ProbePlan::unmatched_note(const ResourceProbe &rp) {
    std::string functions;
    for (size_t i = 0; i < rp.acquire.size() && i < 3; ++i)
        functions += (i == 0 ? "" : ", ") + rp.acquire[i].function;
    if (rp.acquire.size() > 3)
        functions += ", ...";
    return "probe " + (rp.name.empty() ? rp.resource : rp.name) + " (" + rp.resource +
           ") matched nothing: the program has none of its acquire functions (" + functions + ")";
}

void ProbePlan::add_inlined_copies(const ResourceProbe &rp, const ProbedFunction &pf, const Probe &p,
                                   const std::vector<GoBinary::InlinedCopy> &copies) {
    // A call the compiler inlined has no entry or ret to stop at: with an "inlined" rule, stop at
    // the copy's atomic instruction; without one, say that those calls are not seen.
    std::vector<std::string> unseen;
    auto note_unseen = [&](std::string host) {
        if (std::find(unseen.begin(), unseen.end(), host) == unseen.end())
            unseen.push_back(std::move(host));
    };
    for (const auto &c : copies) {
        if (rp.program_callers_only && is_std_function(c.caller, ""))
            continue;
        const FuncInfo f = bin_->pclntab().func(c.func_index);
        std::string host(bin_->pclntab().func_name(f));
        if (!pf.inlined) {
            note_unseen(std::move(host));
            continue;
        }
        // The rule's instruction follows the call site closely, before any call, jump or return:
        // the compiler lays the inlined fast path out in line (sync.(*Mutex).Lock's
        // CompareAndSwapInt32, Unlock's AddInt32), and may schedule it just before the site's
        // own pc record (Go 1.19 gives the CAS the caller's line).
        auto code = bin_->code(f);
        const uint64_t from = c.call_pc >= f.entry ? c.call_pc - f.entry : code.size();
        std::optional<Instruction> found;
        if (from < code.size()) {
            const auto insns = dis_->decode(code.subspan(from, std::min<size_t>(code.size() - from, 96)), c.call_pc);
            for (size_t i = 0; i < insns.size() && i < 16 && !found; ++i) {
                const Instruction &in = insns[i];
                if (in.text.starts_with(pf.inlined->instruction + " ") && in.operands.size() >= 1 &&
                    in.operands[0].kind == Operand::Kind::Mem)
                    found = in;
                else if (in.op == Op::Call || in.op == Op::Jmp || in.op == Op::Ret)
                    break;
            }
        }
        if (!found) {
            note_unseen(std::move(host));
            continue;
        }
        Probe q = p;
        q.handle_mem = found->operands[0].mem;
        q.handle_mem_next = found->next();
        q.handle_offset = pf.inlined->offset;
        q.inline_call = c.call_pc;
        add(found->address, q);
    }
    if (unseen.empty())
        return;
    notes_.push_back(pf.function + " is inlined into " + std::to_string(unseen.size()) + " function" +
                     (unseen.size() == 1 ? "" : "s") + " (" + unseen.front() + (unseen.size() > 1 ? ", ..." : "") +
                     "): calls made there are not seen");
}

// A jump patch replaces several instructions (process/breakpoint_table.h), so no path may enter
// between its first and its last byte: it ends before the next direct jump target of the
// function, the place recovery resumes it (entry + deferreturn, runtime.recovery), the next
// probe, and the function's end; a function that jumps through a register (a jump table) gets
// none. (Return addresses need no care: a patch holds a call only as its last instruction.) A
// guarded patch may also start a few plain instructions before its probe (arch/displacement.h),
// after the previous probe and where no jump lands between that start and the probe.
void ProbePlan::plan_breakpoints() {
    const Pclntab &tab = bin_->pclntab();
    // Probes armed on demand bound the patches too: their int3 must not land inside one.
    std::vector<LinkAddr> sites;
    for (const auto &[addr, _] : probes_)
        sites.push_back(addr);
    std::sort(sites.begin(), sites.end());
    struct Entries {
        bool indirect = false;
        std::vector<LinkAddr> targets;  // sorted
        std::vector<Instruction> insns; // the function's
    };
    std::unordered_map<uint32_t, Entries> by_function;
    auto entries_of = [&](const FuncInfo &f) -> const Entries & {
        auto [it, fresh] = by_function.try_emplace(f.index);
        Entries &e = it->second;
        if (fresh) {
            e.insns = dis_->decode(bin_->code(f), f.entry);
            for (const auto &in : e.insns) {
                if (in.op == Op::Jmp && !in.branch_target)
                    e.indirect = true;
                if ((in.op == Op::Jmp || in.op == Op::Jcc) && in.branch_target)
                    e.targets.push_back(*in.branch_target);
            }
            if (f.deferreturn != 0)
                e.targets.push_back(f.entry + f.deferreturn);
            std::sort(e.targets.begin(), e.targets.end());
        }
        return e;
    };
    for (size_t i = 0; i < sites.size(); ++i) {
        const LinkAddr addr = sites[i];
        PlannedBreakpoint b{addr, 0, 0};
        if (auto f = tab.find_func(addr)) {
            const Entries &e = entries_of(*f);
            if (!e.indirect) {
                LinkAddr limit = f->end;
                if (auto t = std::upper_bound(e.targets.begin(), e.targets.end(), addr); t != e.targets.end())
                    limit = std::min(limit, *t);
                if (i + 1 < sites.size())
                    limit = std::min(limit, sites[i + 1]);
                b.patchable = limit > addr ? limit - addr : 0;
                const LinkAddr previous = i > 0 ? sites[i - 1] : LinkAddr();
                b.before = room_before(e.insns, e.targets, addr, previous);
                if (auto early = early_site(e.insns, e.targets, addr, previous))
                    early_.emplace(addr, std::move(*early));
            }
        }
        windows_[addr] = b;
        if (!on_demand_only(probes_.at(addr)))
            breakpoints_.push_back(b);
    }
}

namespace {

std::vector<Instruction>::const_iterator instruction_at(const std::vector<Instruction> &insns, LinkAddr addr) {
    auto at = std::lower_bound(insns.begin(), insns.end(), addr,
                               [](const Instruction &in, LinkAddr a) { return in.address < a; });
    return at != insns.end() && at->address == addr ? at : insns.end();
}

bool is_target(const std::vector<LinkAddr> &targets, LinkAddr a) {
    return std::binary_search(targets.begin(), targets.end(), a);
}

bool dereferenced_before(const std::vector<Instruction> &insns, std::vector<Instruction>::const_iterator in, Gpr base,
                         const std::vector<LinkAddr> &targets);
bool movable_here(const std::vector<Instruction> &insns, std::vector<Instruction>::const_iterator in,
                  const std::vector<LinkAddr> &targets);

} // namespace

// A memory access through register `base` cannot fault as a Go nil check does when the same
// register was dereferenced (at a small offset) earlier on the only path to it: that access
// would have faulted first. True when, going back from `in` (excluded) with no jump landing in
// between, an access through `base` comes before any write to it or any control transfer.
namespace {

bool dereferenced_before(const std::vector<Instruction> &insns, std::vector<Instruction>::const_iterator in, Gpr base,
                         const std::vector<LinkAddr> &targets) {
    for (int n = 0; n < 16 && in != insns.begin(); ++n) {
        if (is_target(targets, in->address))
            return false;
        --in;
        if (in->op == Op::Call || in->op == Op::Jmp || in->op == Op::Jcc || in->op == Op::Ret)
            return false;
        for (const Operand &o : in->operands)
            if (o.kind == Operand::Kind::Mem && o.mem.base == base && !o.mem.fs_segment && o.mem.disp >= 0 &&
                o.mem.disp < 4096)
                return true;
        if (in->writes_gpr(base))
            return false;
    }
    return false;
}

// Whether `in` may move into a trampoline ahead of its breakpoint: plain, or plain but for memory
// operands through registers dereferenced before it (dereferenced_before).
bool movable_here(const std::vector<Instruction> &insns, std::vector<Instruction>::const_iterator in,
                  const std::vector<LinkAddr> &targets) {
    if (movable_before_breakpoint(*in))
        return true;
    Instruction plain = *in;
    for (auto &o : plain.operands)
        if (o.kind == Operand::Kind::Mem && !o.mem.fs_segment && o.mem.index == Gpr::None && o.mem.base != Gpr::Rip &&
            o.mem.base != Gpr::None && dereferenced_before(insns, in, o.mem.base, targets))
            o.mem.base = Gpr::Rsp; // as safe as a stack operand
    return movable_before_breakpoint(plain);
}

} // namespace

// How far before `addr` a patch may start: over at most four instructions that may move
// (movable_here), none of them at or before `previous` (the probe before), with no jump target
// after the start up to `addr`.
size_t ProbePlan::room_before(const std::vector<Instruction> &insns, const std::vector<LinkAddr> &targets,
                              LinkAddr addr, LinkAddr previous) {
    auto at = instruction_at(insns, addr);
    if (at == insns.end() || is_target(targets, addr))
        return 0; // a jump to the probe would land inside the patch
    LinkAddr start = addr;
    for (int n = 0; n < 4 && at != insns.begin(); ++n) {
        --at;
        if (at->address <= previous || !movable_here(insns, at, targets))
            break;
        start = at->address;
        if (is_target(targets, start))
            break; // a jump may land on the start itself, not after it
    }
    return addr - start;
}

// The latest start among up to four register loads before `addr` (none a jump target but the
// start itself, which every path to `addr` then passes) whose plain instructions make 5 bytes.
std::optional<EarlySite> ProbePlan::early_site(const std::vector<Instruction> &insns,
                                               const std::vector<LinkAddr> &targets, LinkAddr addr, LinkAddr previous) {
    auto at = instruction_at(insns, addr);
    if (at == insns.end() || at == insns.begin() || is_target(targets, addr))
        return std::nullopt;
    auto first = at;
    for (int n = 0; n < 4 && first != insns.begin(); ++n) {
        --first;
        if (!is_register_load(*first) || first->address <= previous)
            return std::nullopt;
        size_t plain = 0;
        for (auto in = first; in != at && movable_before_breakpoint(*in); ++in)
            plain += in->size;
        if (plain >= 5)
            return EarlySite{first->address, {first, at}};
        if (is_target(targets, first->address))
            return std::nullopt;
    }
    return std::nullopt;
}

const EarlySite *ProbePlan::early(LinkAddr link_addr) const {
    auto it = early_.find(link_addr);
    return it == early_.end() ? nullptr : &it->second;
}

PlannedBreakpoint ProbePlan::window(LinkAddr link_addr) const {
    auto it = windows_.find(link_addr);
    return it == windows_.end() ? PlannedBreakpoint{link_addr, 0, 0} : it->second;
}

// A function entry probe must sit after the stack-bound check: when the stack has to grow,
// runtime.morestack restarts the function from its entry, and an entry breakpoint would fire
// twice. Registers and SP are still as at entry there (the frame is not built yet).
// g is R14 (ABIInternal) or, before 1.17, loaded from TLS first (`mov %fs:-8, %rcx`).
LinkAddr ProbePlan::after_stack_check(const FuncInfo &f) const {
    auto code = bin_->code(f);
    auto insns = dis_->decode(code.first(std::min<size_t>(code.size(), 64)), f.entry);
    Gpr g = bin_->facts().abi == CallingConvention::Register ? Gpr::R14 : Gpr::None;
    for (size_t i = 0; i + 1 < insns.size() && i < 5; ++i) {
        const auto &ops = insns[i].operands;
        if (insns[i].op == Op::Mov && ops.size() == 2 && ops[0].kind == Operand::Kind::Reg &&
            ops[1].kind == Operand::Kind::Mem && ops[1].mem.fs_segment)
            g = ops[0].reg;
        const bool compares_with_g = g != Gpr::None && insns[i].text.starts_with("cmp") && ops.size() == 2 &&
                                     ops[0].kind == Operand::Kind::Reg && ops[1].kind == Operand::Kind::Mem &&
                                     ops[1].mem.base == g;
        if (compares_with_g && insns[i + 1].op == Op::Jcc)
            return insns[i + 1].next();
    }
    return f.entry;
}

std::optional<LinkAddr> ProbePlan::locate_allgs() const {
    if (auto sym = bin_->elf().symbol("runtime.allgs"))
        return sym->value;
    // Stripped: forEachG (1.17+) ranges over allgs, loading the slice's pointer and length, two
    // adjacent words, RIP-relative; before 1.17 allgadd appends to it. The candidate is checked
    // against live memory when used.
    auto index = bin_->pclntab().find_by_name("runtime.forEachG");
    if (!index)
        index = bin_->pclntab().find_by_name("runtime.allgadd");
    if (!index)
        return std::nullopt;
    const FuncInfo f = bin_->pclntab().func(*index);
    std::vector<uint64_t> loads;
    for (const auto &in : dis_->decode(bin_->code(f), f.entry))
        if (in.op == Op::Mov && in.operands.size() == 2 && in.operands[1].kind == Operand::Kind::Mem &&
            in.operands[1].mem.base == Gpr::Rip && in.operands[1].size == 8)
            loads.push_back(in.next().value() + static_cast<uint64_t>(in.operands[1].mem.disp));
    // The lowest such pair: allgadd also loads the capacity, the word after the length.
    std::sort(loads.begin(), loads.end());
    for (uint64_t a : loads)
        if (std::binary_search(loads.begin(), loads.end(), a + 8))
            return LinkAddr(a);
    return std::nullopt;
}

const char *probe_kind_name(ProbeKind kind) {
    switch (kind) {
    case ProbeKind::DeferProc: return "deferproc";
    case ProbeKind::DeferProcStack: return "deferprocStack";
    case ProbeKind::DeferProcAt: return "deferprocat";
    case ProbeKind::DeferRangefunc: return "deferrangefunc";
    case ProbeKind::GoroutineEnd: return "goexit1";
    case ProbeKind::MainReturn: return "main-return";
    case ProbeKind::ProgramExit: return "program-exit";
    case ProbeKind::OpenBitsStore: return "open-bits-store";
    case ProbeKind::OpenSlotStore: return "open-slot-store";
    case ProbeKind::OpenExitCall: return "open-exit-call";
    case ProbeKind::RuntimeCall: return "runtime-call";
    case ProbeKind::Gopanic: return "gopanic";
    case ProbeKind::GorecoverEntry: return "gorecover";
    case ProbeKind::GorecoverReturn: return "gorecover-ret";
    case ProbeKind::Recovery: return "recovery";
    case ProbeKind::Goexit: return "Goexit";
    case ProbeKind::Fatal: return "preprintpanics";
    case ProbeKind::FatalPrinted: return "preprintpanics-ret";
    case ProbeKind::OsExit: return "os.Exit";
    case ProbeKind::ExecCall: return "syscall.Exec";
    case ProbeKind::ExecFailed: return "syscall.Exec-ret";
    case ProbeKind::Throw: return "throw";
    case ProbeKind::DeferprocCall: return "deferproc-call";
    case ProbeKind::DeferreturnEnter: return "deferreturn-call";
    case ProbeKind::DeferreturnLeave: return "deferreturn-after";
    case ProbeKind::RecoverCall: return "recover-call";
    case ProbeKind::RecoverCallReturn: return "recover-after";
    case ProbeKind::ResourceAcquire: return "resource-acquire";
    case ProbeKind::ResourceRelease: return "resource-release";
    }
    return "?";
}

} // namespace deftrace
