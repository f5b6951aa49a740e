#include "trace/tracer.h"

#include "trace/normalize.h"

#include "analysis/wrapped_callee.h"
#include "binary/error.h"
#include "trace/validator.h"

#include <algorithm>
#include <elf.h>
#include <filesystem>

namespace deftrace {

enum class ProbeKind {
    DeferProc,       // runtime.deferproc entry: RAX = *funcval
    DeferProcStack,  // runtime.deferprocStack entry: RAX = *_defer with fn set
    DeferProcAt,     // runtime.deferprocat entry: RAX = *funcval (range-over-func body)
    DeferRangefunc,  // runtime.deferrangefunc entry: a rangefunc head record (model only)
    GoroutineEnd,    // runtime.goexit1 entry: the goroutine is done (model only)
    MainReturn,      // a ret of main.main: the program's defers have all run (model only)
    ProgramExit,     // os.Exit entry: the defers still registered are skipped (model only)
    OpenBitsStore,   // store into deferBits that sets a defer's bit
    OpenSlotStore,   // store of a defer's closure into its slot (bits store was eliminated)
    OpenExitCall,    // inline call of an open-coded defer at a return
    RuntimeCall,     // the runtime calling a deferred function (call *reg)
    Gopanic,         // runtime.gopanic entry: RAX:RBX = the value
    GorecoverEntry,  // runtime.gorecover entry
    GorecoverReturn, // a ret of runtime.gorecover: RAX:RBX = result
    Recovery,        // runtime.recovery entry (on g0): RAX = the goroutine
    Goexit,          // runtime.Goexit entry
    Fatal,           // runtime.preprintpanics entry: RAX = the panic chain about to be printed
    FatalPrinted,    // a ret of runtime.preprintpanics: errors and Stringers are now their text
    OsExit,          // os.Exit entry: every goroutine's pending defers will never run
    ExecCall,        // syscall.Exec entry: every goroutine's pending defers, if the exec succeeds
    ExecFailed,      // a ret of syscall.Exec: the exec failed, the program goes on
    Throw,           // runtime.throw / runtime.fatal entry: RAX:RBX = the message; the process dies
    ResourceAcquire, // a probed acquire function's ret (result handle) or entry (argument handle)
    ResourceRelease, // a probed release function's entry: the handle in an argument register
                     // (both also at the atomic instruction of an inlined call, for lock probes)
};

struct Tracer::Probe {
    ProbeKind kind;
    const FunctionDefers *func = nullptr; // open-coded probes
    int bit = -1;
    Operand source;             // the stored value (open-coded stores)
    Gpr call_reg = Gpr::None;   // register holding the call target (indirect calls)
    std::optional<Addr> direct; // direct call target (link-time)
    std::string cause;          // RuntimeCall: "panic", "goexit", "return", "" = from the panic chain
    int64_t slot_sp_offset = 0; // OpenBitsStore: closure slot of `bit`, from SP
    bool has_slot = false;
    const ResourceProbe *resource = nullptr; // ResourceAcquire / ResourceRelease
    Gpr handle_reg = Gpr::None;
    bool handle_deref = false;
    // An inlined call's atomic instruction: the handle is its memory operand's address - offset.
    std::optional<MemOperand> handle_mem;
    Addr handle_mem_next; // link-time address after the instruction (RIP-relative operands)
    int64_t handle_offset = 0;
    Addr inline_call; // the inlined call's site, in the running frame (link-time); null: not inlined
};

struct Tracer::PendingRecover {
    Addr panic;
    bool was_recovered = false;
    bool goexit = false;
    Site site;
    model::RecoverCalled validation; // who called recover(), for the model
};

namespace {

// A defer wrapper's line is its defer statement's; name the site by the function that holds the
// statement: main.f.deferwrap1 (1.22+), main.f.func2 or main.f.func1.3 (≤1.21) -> main.f(.func1).
std::string enclosing_of_wrapper(const std::string &name) {
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0)
        return name;
    std::string_view last(name);
    last.remove_prefix(dot + 1);
    for (std::string_view prefix : {"deferwrap", "func", ""})
        if (last.starts_with(prefix) && last.size() > prefix.size() &&
            last.substr(prefix.size()).find_first_not_of("0123456789") == std::string_view::npos)
            return name.substr(0, dot);
    return name;
}

bool is_runtime_function(std::string_view name) {
    return name.starts_with("runtime.") || name.starts_with("internal/") || name.starts_with("runtime/");
}

} // namespace

Tracer::Tracer(const GoBinary &bin, std::vector<FunctionDefers> sites, RuntimeOffsets offsets, EventSink &sink,
               TraceOptions options)
    : bin_(&bin), sites_(std::move(sites)), off_(offsets), sink_(sink), options_(options) {}

Tracer::~Tracer() = default;

void Tracer::add_probe(Addr link_addr, Probe p) {
    probes_[link_addr].push_back(std::move(p));
}

void Tracer::attach(Tracee &tracee) {
    tracee_ = &tracee;
    const auto &elf = bin_->elf();
    bias_ = 0;
    validator_.reset();
    if (elf.is_pie()) {
        auto entry = tracee.auxv(AT_ENTRY);
        if (!entry)
            throw Error(ErrorKind::Process, "cannot read the program's entry point (AT_ENTRY)");
        bias_ = *entry - elf.entry().value();
    }
    walker_ = std::make_unique<StackWalker>(*bin_, tracee.memory(), bias_);
    state_ = std::make_unique<RuntimeState>(tracee.memory(), off_);
    current_g_ = CurrentG::locate(*bin_, tracee.disassembler());
    types_ = std::make_unique<TypeReader>(tracee.memory(), bin_->moduledata().types + bias_);
    // Read-only data whose words are the same in the file and in memory: not in a PIE, whose
    // pointers are relocated at load time.
    if (!elf.is_pie())
        for (const auto &seg : elf.segments())
            if (seg.type == PT_LOAD && (seg.flags & PF_W) == 0)
                file_words_.emplace_back(seg.vaddr, seg.vaddr + seg.filesz);

    // The scratch page for breakpoint stubs must be within ±2 GiB of the code: try just below
    // the lowest segment, then further down, then just above the highest.
    Addr lo(~uint64_t{0}), hi;
    for (const auto &seg : elf.segments())
        if (seg.type == PT_LOAD) {
            lo = std::min(lo, seg.vaddr);
            hi = std::max(hi, seg.vaddr + seg.memsz);
        }
    const size_t scratch = 256 * 1024;
    auto page = [](uint64_t a) { return Addr(a & ~uint64_t{0xfff}); };
    std::vector<Addr> hints;
    for (uint64_t down : {0x100000ull, 0x400000ull, 0x1000000ull})
        if (lo.value() + bias_ > down + scratch)
            hints.push_back(page(lo.value() + bias_ - down - scratch));
    hints.push_back(page(hi.value() + bias_ + 0x1000000));
    tracee.map_scratch(scratch, hints);
    if (auto traits = model::traits_for(bin_->version().major, bin_->version().minor))
        validator_ = std::make_unique<Validator>(*bin_, *walker_, *state_, *traits, !options_.panics_only,
                                                 Perturbation::from_environment());
    insert_all(tracee);
}

void Tracer::insert_all(Tracee &tracee) {
    const auto &rt = bin_->runtime();
    const Disassembler &dis = tracee.disassembler();
    auto entry_probe = [&](std::string_view fn, ProbeKind k) {
        if (auto f = rt.get(fn)) {
            Probe p;
            p.kind = k;
            add_probe(after_stack_check(*f, dis), p);
        }
    };
    // Every `call reg` and `ret` inside a runtime function.
    auto scan = [&](std::string_view fn, auto &&each) {
        auto f = rt.get(fn);
        if (!f)
            return;
        for (const auto &in : dis.decode(bin_->code(*f), f->entry))
            each(in);
    };

    if (!options_.panics_only) {
        entry_probe("runtime.deferproc", ProbeKind::DeferProc);
        entry_probe("runtime.deferprocStack", ProbeKind::DeferProcStack);
        entry_probe("runtime.deferprocat", ProbeKind::DeferProcAt);
        if (validator_)
            entry_probe("runtime.deferrangefunc", ProbeKind::DeferRangefunc);
    }
    entry_probe("runtime.gopanic", ProbeKind::Gopanic);
    entry_probe("runtime.gorecover", ProbeKind::GorecoverEntry);
    entry_probe("runtime.recovery", ProbeKind::Recovery);
    entry_probe("runtime.Goexit", ProbeKind::Goexit);
    // goexit1: both a goroutine whose function returned (runtime.goexit) and Goexit end there,
    // still on the goroutine (1.17-1.27); the model checks the chains are empty and forgets it.
    if (validator_) {
        entry_probe("runtime.goexit1", ProbeKind::GoroutineEnd);
        // The main goroutine does not end through goexit1 (runtime.main calls exit): its chains
        // are checked when main.main returns, or when os.Exit ends the program.
        if (auto f = bin_->pclntab().find_by_name("main.main")) {
            const FuncInfo fi = bin_->pclntab().func(*f);
            for (const auto &in : dis.decode(bin_->code(fi), fi.entry))
                if (in.op == Op::Ret) {
                    Probe p;
                    p.kind = ProbeKind::MainReturn;
                    add_probe(in.address, p);
                }
        }
        if (auto f = bin_->pclntab().find_by_name("os.Exit")) {
            Probe p;
            p.kind = ProbeKind::ProgramExit;
            add_probe(after_stack_check(bin_->pclntab().func(*f), dis), p);
        }
    }
    // gopanic calls preprintpanics(p) then fatalpanic(p) with the same chain (1.17-1.27).
    // preprintpanics replaces every error or Stringer value by the string its method returns:
    // the program's values are read at its entry, the text the runtime is about to print at its
    // returns.
    entry_probe("runtime.preprintpanics", ProbeKind::Fatal);
    scan("runtime.preprintpanics", [&](const Instruction &in) {
        if (in.op == Op::Ret) {
            Probe p;
            p.kind = ProbeKind::FatalPrinted;
            add_probe(in.address, p);
            fatal_printed_probe_ = true;
        }
    });
    insert_resource_probes(dis);
    if (auto f = bin_->pclntab().find_by_name("os.Exit")) {
        Probe p;
        p.kind = ProbeKind::OsExit;
        add_probe(after_stack_check(bin_->pclntab().func(*f), dis), p);
    }
    // Every fatal error the runtime raises goes through throw(s string) (its own faults: stack
    // overflow, ...) or fatal(s string) (the program's: deadlock, concurrent map writes, main
    // calling Goexit with no goroutine left), both nosplit, both ending in fatalthrow, which runs
    // no deferred call (panic.go, 1.17-1.27). An unrecovered panic ends through fatalpanic
    // instead, which calls neither.
    bool throws = false;
    for (const char *fn : {"runtime.throw", "runtime.fatal"})
        if (auto f = bin_->pclntab().find_by_name(fn)) {
            Probe p;
            p.kind = ProbeKind::Throw;
            add_probe(after_stack_check(bin_->pclntab().func(*f), dis), p);
            throws = true;
        }
    // syscall.Exec (syscall/exec_unix.go, 1.17-1.27; golang.org/x/sys/unix.Exec calls it): if
    // execve succeeds, no deferred call of the program runs. Whether it does is known only at
    // the exec stop, when the old memory is gone: the pending defers are read at the entry and
    // reported then, or dropped at a ret (the exec failed and syscall.Exec returns the error).
    bool execs = false;
    if (auto f = bin_->pclntab().find_by_name("syscall.Exec")) {
        const FuncInfo fi = bin_->pclntab().func(*f);
        Probe p;
        p.kind = ProbeKind::ExecCall;
        add_probe(after_stack_check(fi, dis), p);
        for (const auto &in : dis.decode(bin_->code(fi), fi.entry))
            if (in.op == Op::Ret) {
                Probe r;
                r.kind = ProbeKind::ExecFailed;
                add_probe(in.address, r);
            }
        execs = true;
    }
    if (throws || execs || bin_->pclntab().find_by_name("os.Exit"))
        allgs_ = locate_allgs(dis); // every goroutine's pending defers, when the process dies
    scan("runtime.gorecover", [&](const Instruction &in) {
        if (in.op == Op::Ret) {
            Probe p;
            p.kind = ProbeKind::GorecoverReturn;
            add_probe(in.address, p);
        }
    });
    const std::pair<const char *, const char *> callers[] = {
        {"runtime.gopanic", "panic"},
        {"runtime.Goexit", "goexit"},
        {"runtime.deferreturn", "return"},
        {"runtime.deferCallSave", ""}, // ≤1.21: open-coded defers and Goexit; cause from the chain
    };
    for (const auto &caller : callers) {
        const char *fn = caller.first, *cause = caller.second; // named: lambdas capture them (clang 14)
        if (options_.panics_only && std::string_view(fn) == "runtime.deferreturn")
            continue;
        scan(fn, [&](const Instruction &in) {
            if (in.op == Op::Call && !in.branch_target && in.operands.size() == 1 &&
                in.operands[0].kind == Operand::Kind::Reg) {
                Probe p;
                p.kind = ProbeKind::RuntimeCall;
                p.call_reg = in.operands[0].reg;
                p.cause = cause;
                add_probe(in.address, p);
            }
        });
    }

    if (!options_.panics_only) {
        for (const auto &f : sites_) {
            // The runtime's and the standard library's open-coded defers too: the model needs every
            // frame a panic can unwind (runtime.main's deferred function runs before a fatal
            // panic ends the program). emit() leaves them out of the trace.
            if (!f.open_coded || (!validator_ && is_runtime_function(f.name)))
                continue;
            for (const auto &s : f.sites) {
                if (s.kind != DeferKind::OpenCoded)
                    continue;
                auto in = dis.decode_one(bin_->code(*bin_->pclntab().find_func(s.pc)).subspan(s.pc - f.entry), s.pc);
                if (!in || in->operands.size() != 2)
                    continue;
                Probe p;
                p.func = &f;
                p.bit = s.bit;
                p.source = in->operands[1];
                p.kind = in->operands[0].size == 1 ? ProbeKind::OpenBitsStore : ProbeKind::OpenSlotStore;
                if (static_cast<size_t>(s.bit) < f.open_coded->slot_sp_offsets.size() &&
                    f.open_coded->slot_sp_offsets[static_cast<size_t>(s.bit)]) {
                    p.slot_sp_offset = *f.open_coded->slot_sp_offsets[static_cast<size_t>(s.bit)];
                    p.has_slot = true;
                }
                add_probe(s.pc, p);
            }
            for (const auto &e : f.open_coded->exits) {
                if (e.call_pc.is_null())
                    continue;
                auto in = dis.decode_one(bin_->code(*bin_->pclntab().find_func(e.call_pc)).subspan(e.call_pc - f.entry),
                                         e.call_pc);
                if (!in)
                    continue;
                if (validator_)
                    validator_->note_exit_return(in->next());
                // Exits may share one call instruction (tail merging): one probe per call; which
                // defer it runs is then found from the registration it matches.
                bool shared = false;
                if (auto it = probes_.find(e.call_pc); it != probes_.end())
                    for (auto &q : it->second)
                        if (q.kind == ProbeKind::OpenExitCall) {
                            q.bit = -1;
                            shared = true;
                        }
                if (shared)
                    continue;
                Probe p;
                p.kind = ProbeKind::OpenExitCall;
                p.func = &f;
                p.bit = e.bit;
                p.direct = in->branch_target;
                if (!p.direct && in->operands.size() == 1 && in->operands[0].kind == Operand::Kind::Reg)
                    p.call_reg = in->operands[0].reg;
                add_probe(e.call_pc, p);
            }
        }
    }
    insert_breakpoints(tracee);
}

void Tracer::insert_breakpoints(Tracee &tracee) {
    // A jump patch replaces several instructions (process/breakpoint_table.h), so no path may
    // enter between its first and its last byte: it ends before the next direct jump target of
    // the function, the place recovery resumes it (entry + deferreturn, runtime.recovery), the
    // next probe, and the function's end; a function that jumps through a register (a jump
    // table) gets none. (Return addresses need no care: a patch holds a call only as its last
    // instruction.)
    const Pclntab &tab = bin_->pclntab();
    const Disassembler &dis = tracee.disassembler();
    std::vector<Addr> sites;
    for (const auto &[addr, _] : probes_)
        sites.push_back(addr);
    std::sort(sites.begin(), sites.end());
    struct Entries {
        bool indirect = false;
        std::vector<Addr> targets; // sorted
    };
    std::unordered_map<uint32_t, Entries> by_function;
    for (size_t i = 0; i < sites.size(); ++i) {
        const Addr addr = sites[i];
        size_t patchable = 0;
        if (auto f = tab.find_func(addr)) {
            auto [it, fresh] = by_function.try_emplace(f->index);
            Entries &e = it->second;
            if (fresh) {
                for (const auto &in : dis.decode(bin_->code(*f), f->entry)) {
                    if (in.op == Op::Jmp && !in.branch_target)
                        e.indirect = true;
                    if ((in.op == Op::Jmp || in.op == Op::Jcc) && in.branch_target)
                        e.targets.push_back(*in.branch_target);
                }
                if (f->deferreturn != 0)
                    e.targets.push_back(f->entry + f->deferreturn);
                std::sort(e.targets.begin(), e.targets.end());
            }
            if (!e.indirect) {
                Addr limit = f->end;
                if (auto t = std::upper_bound(e.targets.begin(), e.targets.end(), addr); t != e.targets.end())
                    limit = std::min(limit, *t);
                if (i + 1 < sites.size())
                    limit = std::min(limit, sites[i + 1]);
                patchable = limit > addr ? limit - addr : 0;
            }
        }
        tracee.insert_breakpoint(addr + bias_, patchable);
    }
}

// A function entry probe must sit after the stack-bound check: when the stack has to grow,
// runtime.morestack restarts the function from its entry, and an entry breakpoint would fire
// twice. Registers and SP are still as at entry there (the frame is not built yet).
Addr Tracer::after_stack_check(const FuncInfo &f, const Disassembler &dis) const {
    auto code = bin_->code(f);
    auto insns = dis.decode(code.first(std::min<size_t>(code.size(), 48)), f.entry);
    for (size_t i = 0; i + 1 < insns.size() && i < 4; ++i) {
        const auto &ops = insns[i].operands;
        const bool checks_stackguard = insns[i].text.starts_with("cmp") && ops.size() == 2 &&
                                       ops[0].kind == Operand::Kind::Reg && ops[1].kind == Operand::Kind::Mem &&
                                       ops[1].mem.base == Gpr::R14 && ops[1].mem.disp == 16;
        const bool checks_rsp = insns[i].text.starts_with("cmp") && ops.size() == 2 &&
                                ops[0].kind == Operand::Kind::Reg && ops[1].kind == Operand::Kind::Mem &&
                                ops[1].mem.base == Gpr::R14;
        if ((checks_stackguard || checks_rsp) && insns[i + 1].op == Op::Jcc)
            return insns[i + 1].next();
    }
    return f.entry;
}

void Tracer::remember(uint64_t goid, Addr funcval, const Site &site) {
    // A nil func value is remembered under the null code address: its call (which faults, see
    // on_nil_deferred_call) has a null target.
    auto code = funcval.is_null() ? std::optional<uint64_t>(0) : tracee_->memory().read_u64(funcval);
    if (!code)
        return;
    auto &v = registered_[goid];
    v.emplace_back(Addr(*code), site);
    if (v.size() > 100000) // defers that never run (os.Exit paths) must not grow without bound
        v.erase(v.begin(), v.begin() + 50000);
}

std::optional<Site> Tracer::take(uint64_t goid, Addr code) {
    auto it = registered_.find(goid);
    if (it == registered_.end())
        return std::nullopt;
    auto &v = it->second;
    for (auto r = v.rbegin(); r != v.rend(); ++r) {
        if (r->first == code) {
            Site s = r->second;
            v.erase(std::next(r).base());
            return s;
        }
    }
    return std::nullopt;
}

std::string Tracer::func_name_at(Addr runtime_pc) const {
    if (auto it = name_cache_.find(runtime_pc); it != name_cache_.end())
        return it->second;
    auto f = walker_->func_at(runtime_pc);
    std::string name = f ? std::string(bin_->pclntab().func_name(*f)) : std::string();
    name_cache_.emplace(runtime_pc, name);
    return name;
}

Site Tracer::site_at(Addr runtime_pc, bool return_address) const {
    const uint64_t key = runtime_pc.value() * 2 + (return_address ? 1 : 0);
    if (auto it = site_cache_.find(key); it != site_cache_.end())
        return it->second;
    Site s;
    Addr link = walker_->to_link(runtime_pc);
    if (return_address)
        link = link - 1; // the call instruction, not the one after it
    auto f = bin_->pclntab().find_func(link);
    if (!f)
        return s;
    s.function = std::string(bin_->pclntab().func_name(*f));
    if (f->funcid == bin_->facts().funcid_wrapper)
        s.function = enclosing_of_wrapper(s.function);
    if (auto pos = bin_->pclntab().source_at(*f, link)) {
        s.file = std::string(pos->file);
        s.line = pos->line;
    }
    site_cache_.emplace(key, s);
    return s;
}

std::string Tracer::funcval_name(Addr funcval) const {
    if (funcval.is_null())
        return {};
    auto code = tracee_->memory().read_u64(funcval);
    if (!code)
        return {};
    return func_name_at(Addr(*code));
}

Addr Tracer::funcval_code(Addr funcval) const {
    if (funcval.is_null())
        return {};
    // A closure that captures nothing is a funcval in the binary's read-only data: its code
    // pointer comes from the file, without a read of the tracee.
    for (const auto &[lo, hi] : file_words_)
        if (funcval >= lo && funcval.value() + 8 <= hi.value()) {
            if (auto b = bin_->elf().bytes_at(funcval, 8)) {
                uint64_t code;
                std::memcpy(&code, b->data(), 8);
                return Addr(code);
            }
            break;
        }
    return Addr(tracee_->memory().read_u64(funcval).value_or(0));
}

void Tracer::set_fn(nlohmann::ordered_json &fields, Addr code, Addr closure) const {
    auto it = callee_cache_.find(code);
    if (it == callee_cache_.end()) {
        std::string raw = func_name_at(code);
        std::string callee;
        bool indirect = false;
        if (auto f = walker_->func_at(code);
            f && f->entry == walker_->to_link(code) && f->funcid == bin_->facts().funcid_wrapper) {
            callee = wrapped_callee(*bin_, tracee_->disassembler(), *f).value_or("");
            indirect = callee.empty();
        }
        it = callee_cache_.emplace(code, CalleeNames{raw, callee, indirect}).first;
    }
    const CalleeNames &names = it->second;
    std::string callee = names.callee;
    if (names.indirect && !closure.is_null()) {
        // Which function the wrapper will call depends on what it captured: evaluate its loads.
        auto f = walker_->func_at(code);
        auto read = [this](uint64_t a) { return tracee_->memory().read_u64(Addr(a)); };
        if (auto target = wrapper_call_target(*bin_, tracee_->disassembler(), *f, closure.value(), read)) {
            callee = func_name_at(Addr(*target));
            // A method value's own wrapper (T.m-fm) calls the method.
            if (auto g = walker_->func_at(Addr(*target)); g && g->funcid == bin_->facts().funcid_wrapper)
                if (auto inner = wrapped_callee(*bin_, tracee_->disassembler(), *g))
                    callee = *inner;
        }
    }
    if (code.is_null() && closure.is_null()) {
        fields["fn"] = "nil"; // `defer f()` of a nil func value; its call panics
    } else if (callee.empty()) {
        fields["fn"] = names.raw;
    } else {
        fields["fn"] = callee;
        fields["wrapper"] = names.raw;
    }
}

// The innermost frame that is not the runtime's: where user code called into a runtime
// function (or faulted, for panics raised by sigpanic).
Site Tracer::user_site(const ThreadStop &stop) const {
    auto frames = walker_->walk(stop.regs.pc(), stop.regs.sp(), 64);
    for (size_t i = 1; i < frames.size(); ++i) {
        if (is_runtime_function(frames[i].name))
            continue;
        // A frame entered through sigpanic faulted at its pc: no call instruction precedes it.
        const bool after_sigpanic = frames[i - 1].name == "runtime.sigpanic";
        return site_at(frames[i].pc, !after_sigpanic);
    }
    return frames.size() > 1 ? site_at(frames[1].pc, true) : Site{};
}

nlohmann::ordered_json Tracer::value_json(Addr type, Addr data) const {
    auto v = render_any(*types_, type, data);
    nlohmann::ordered_json j;
    j["type"] = v.type;
    // The raw bytes: the text sink escapes them for the terminal, the JSON sinks for JSON.
    j["value"] = v.value ? nlohmann::ordered_json(*v.value) : nlohmann::ordered_json(nullptr);
    if (v.is_error)
        j["error"] = true;
    return j;
}

Event Tracer::make_event(EventKind kind, uint64_t goid, Addr g) {
    Event e;
    e.kind = kind;
    e.goroutine = goid;
    if (!g.is_null())
        e.depth = static_cast<int>(state_->panics(g, 64).size());
    return e;
}

void Tracer::emit(Event e) {
    // The runtime's own defers and recovers (runtime.main's deferred unlock, preprintpanics
    // recovering from a failing Error method) are machinery, not the program's story.
    const bool machinery = e.kind == EventKind::Defer || e.kind == EventKind::DeferCall || e.kind == EventKind::Recover;
    if (machinery && is_runtime_function(e.site.function))
        return;
    // A deferred runtime function (not a wrapper around one: `defer close(ch)` is the program's).
    if (e.kind == EventKind::DeferCall && e.fields.contains("fn") && !e.fields.contains("wrapper") &&
        is_runtime_function(e.fields["fn"].get<std::string>()))
        return;
    e.seq = ++seq_;
    sink_.emit(e);
}

void Tracer::on_breakpoint(ThreadStop &stop, Addr addr) {
    if (!active_)
        return;
    auto it = probes_.find(walker_->to_link(addr));
    if (it == probes_.end())
        return;
    // The current g is the thread's TLS word, which Go code also keeps in R14 (ABIInternal;
    // goruntime/current_g.h); recovery runs on g0 and gets the user g in RAX instead.
    const Addr r14(stop.regs.raw.r14);
    // One syscall for what nearly every stop reads: the goroutine's g (the header, _panic,
    // _defer), the top of its stack (return address, arguments, stack-allocated records), the
    // TLS word and, where RAX is the pointer the probe reads (a funcval, a _defer, the panic
    // value's type, the goroutine given to recovery), what it points to. Last: an unreadable RAX
    // only cuts the prefetch short there.
    const ProbeKind first = it->second.front().kind;
    const bool rax_points = first == ProbeKind::DeferProc || first == ProbeKind::DeferProcStack ||
                            first == ProbeKind::DeferProcAt || first == ProbeKind::Gopanic ||
                            first == ProbeKind::Recovery;
    const Addr around[] = {r14, r14 + off_.g.goid, stop.regs.sp(), current_g_.slot(stop.regs).value_or(Addr()),
                           rax_points ? Addr(stop.regs.raw.rax) : Addr()};
    tracee_->memory().prefetch(around);
    const CurrentG::Found current = current_g_.at(stop.regs, tracee_->memory());
    Addr g = current.g;
    if (validator_) {
        validator_->at_stop({}, {}); // nothing read yet at this stop (recovery runs on g0)
        if (current.checked)
            validator_->current_g(current.g, r14);
    }
    for (const Probe &p : it->second) {
        if (p.kind == ProbeKind::Recovery) {
            on_recovery(stop);
            continue;
        }
        if (p.kind == ProbeKind::Throw) { // may run on g0 with no goroutine (the deadlock check)
            on_throw(stop, g);
            continue;
        }
        // goid and g.stack in one read; the validator measures frame depths from g.stack.hi.
        auto header = state_->header(g);
        if (!header)
            continue;
        if (header->goid == 0) { // on g0 (systemstack, mcall): the goroutine it works for
            auto user = CurrentG::curg_of_g0(g, *state_);
            if (!user || !(header = state_->header(*user)))
                continue;
            g = *user;
        }
        const std::optional<uint64_t> goid = header->goid;
        if (validator_)
            validator_->at_stop(g, header->stack_hi);
        switch (p.kind) {
        case ProbeKind::DeferProc:
        case ProbeKind::DeferProcAt:
        case ProbeKind::DeferProcStack: {
            Addr fn(stop.regs.raw.rax);
            if (p.kind == ProbeKind::DeferProcStack) {
                auto v = tracee_->memory().read_u64(fn + off_.defer.fn);
                fn = Addr(v.value_or(0));
            }
            auto ret = tracee_->memory().read_u64(stop.regs.sp());
            Event e = make_event(EventKind::Defer, *goid, g);
            e.site = site_at(Addr(ret.value_or(0)), true);
            e.fields["defer_kind"] = p.kind == ProbeKind::DeferProcStack ? "stack" : "heap";
            const Addr code = funcval_code(fn);
            set_fn(e.fields, code, fn);
            remember(*goid, fn, e.site);
            if (validator_ && p.kind == ProbeKind::DeferProcAt) // deferprocat(fn, frame any): RCX = frame's data
                validator_->rangefunc_defer(*goid, g, Addr(stop.regs.raw.rcx), code, e.site);
            else if (validator_) // d.sp = getcallersp(): the caller's SP at this entry probe
                validator_->defer_registered(
                    *goid, g, p.kind == ProbeKind::DeferProcStack ? model::DeferKind::Stack : model::DeferKind::Heap,
                    stop.regs.sp() + 8, code, -1, e.site);
            emit(std::move(e));
            break;
        }
        case ProbeKind::OpenBitsStore:
        case ProbeKind::OpenSlotStore: on_open_register(stop, p, g, *goid); break;
        case ProbeKind::OpenExitCall:
        case ProbeKind::RuntimeCall: on_defer_call(stop, p, g, *goid); break;
        case ProbeKind::Gopanic: on_panic(stop, g, *goid); break;
        case ProbeKind::GorecoverEntry: on_recover_entry(stop, g); break;
        case ProbeKind::GorecoverReturn: on_recover_return(stop, g, *goid); break;
        case ProbeKind::Goexit: {
            Event e = make_event(EventKind::Goexit, *goid, g);
            auto ret = tracee_->memory().read_u64(stop.regs.sp());
            e.site = site_at(Addr(ret.value_or(0)), true);
            if (validator_)
                validator_->panic_started(*goid, g, stop.regs.pc(), stop.regs.sp(), true, 0, 0, e.site);
            emit(std::move(e));
            break;
        }
        case ProbeKind::DeferRangefunc:
            if (validator_)
                validator_->rangefunc_head(*goid, g, stop.regs.sp() + 8);
            break;
        case ProbeKind::GoroutineEnd:
            if (validator_)
                validator_->goroutine_end(*goid, g);
            break;
        case ProbeKind::MainReturn:
        case ProbeKind::ProgramExit:
            if (validator_)
                validator_->program_ending(*goid, g, stop.regs.pc(), stop.regs.sp(), p.kind == ProbeKind::ProgramExit);
            break;
        case ProbeKind::Fatal: on_fatal(stop, g, *goid); break;
        case ProbeKind::FatalPrinted: on_fatal_printed(*goid); break;
        case ProbeKind::ResourceAcquire:
        case ProbeKind::ResourceRelease: on_resource(stop, p, g, *goid); break;
        case ProbeKind::OsExit: on_os_exit(stop, g); break;
        case ProbeKind::ExecCall: on_exec_call(stop, g, *goid); break;
        case ProbeKind::ExecFailed:
            exec_held_.clear();
            exec_goid_ = 0;
            break;
        case ProbeKind::Recovery:
        case ProbeKind::Throw: break;
        }
    }
    emit_divergences();
}

void Tracer::on_open_register(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    uint64_t value = p.source.kind == Operand::Kind::Imm ? static_cast<uint64_t>(p.source.imm)
                     : p.source.kind == Operand::Kind::Reg && p.source.reg != Gpr::None ? stop.regs.get(p.source.reg)
                                                                                        : 0;
    Addr funcval;
    if (p.kind == ProbeKind::OpenBitsStore) {
        if (!(value & (1u << p.bit)))
            return; // a conditional defer whose condition was false
        if (p.has_slot)
            funcval =
                Addr(tracee_->memory().read_u64(stop.regs.sp() + static_cast<uint64_t>(p.slot_sp_offset)).value_or(0));
    } else {
        funcval = Addr(value);
    }
    Event e = make_event(EventKind::Defer, goid, g);
    e.site.function = p.func->name;
    for (const auto &s : p.func->sites)
        if (s.kind == DeferKind::OpenCoded && s.bit == p.bit) {
            e.site.file = s.file;
            e.site.line = s.line;
        }
    e.fields["defer_kind"] = "open-coded";
    const Addr code = funcval_code(funcval);
    set_fn(e.fields, code, funcval);
    e.fields["bit"] = p.bit;
    remember(goid, funcval, e.site);
    if (validator_) // the store runs in the function's body: its SP is the frame's
        validator_->defer_registered(goid, g, model::DeferKind::OpenCoded, stop.regs.sp(), code, p.bit, e.site);
    emit(std::move(e));
}

void Tracer::on_defer_call(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    Addr target;
    if (p.direct)
        target = *p.direct + bias_;
    else if (p.call_reg != Gpr::None)
        target = Addr(stop.regs.get(p.call_reg));
    Event e = make_event(EventKind::DeferCall, goid, g);
    set_fn(e.fields, target, Addr(stop.regs.raw.rdx)); // ABIInternal: the closure context in RDX
    std::string cause = p.cause;
    auto registered = take(goid, target);
    if (p.kind == ProbeKind::OpenExitCall) {
        cause = "return";
        e.fields["defer_kind"] = "open-coded";
        if (p.bit >= 0)
            e.fields["bit"] = p.bit;
        // The defer statement this bit belongs to.
        e.site.function = p.func->name;
        for (const auto &s : p.func->sites)
            if (s.kind == DeferKind::OpenCoded && s.bit == p.bit) {
                e.site.file = s.file;
                e.site.line = s.line;
            }
    } else {
        auto panics = state_->panics(g, 64);
        if (cause.empty()) {
            // deferCallSave (≤1.21) runs open-coded defers for runOpenDeferFrame, which gopanic,
            // Goexit and deferreturn all call: after a recovery, deferreturn runs the rest of the
            // recovering frame's defers while the outer panic is still on the chain. The driver
            // on the stack says which.
            for (const auto &f : walker_->walk(stop.regs.pc(), stop.regs.sp(), 6)) {
                if (f.name == "runtime.deferreturn")
                    cause = "return";
                else if (f.name == "runtime.gopanic")
                    cause = "panic";
                else if (f.name == "runtime.Goexit")
                    cause = "goexit";
                if (!cause.empty())
                    break;
            }
            if (cause.empty())
                cause = panics.empty() ? "return" : panics.front().goexit ? "goexit" : "panic";
        }
        if (registered) {
            e.site = *registered;
        } else if (cause == "return") {
            auto frames = walker_->walk(stop.regs.pc(), stop.regs.sp(), 3);
            if (frames.size() > 1)
                e.site = site_at(frames[1].pc, true);
        } else if (!panics.empty() && panics.front().retpc) {
            e.site = site_at(*panics.front().retpc, true);
        }
    }
    if (registered && p.kind == ProbeKind::OpenExitCall)
        e.site = *registered;
    e.fields["cause"] = cause;
    if (validator_) // an inline exit runs its own frame's defers; the runtime's loops say theirs
        validator_->deferred_call(goid, g, target,
                                  cause == "panic"    ? model::CallCause::Panic
                                  : cause == "goexit" ? model::CallCause::Goexit
                                                      : model::CallCause::Return,
                                  p.kind == ProbeKind::OpenExitCall ? std::optional(stop.regs.sp()) : std::nullopt,
                                  stop.regs.pc(), stop.regs.sp(), e.site);
    emit(std::move(e));
}

// `defer f()` with f a nil func value registers fine; the panic comes when the deferred call
// runs (Go's test/defernil.go, issues 8047 and 34926). Every place that calls a deferred
// function loads the code pointer out of the funcval just before its `call *reg`: the inline
// exit of an open-coded defer (ssagen.(*state).openDeferExit), runtime.deferreturn, and
// runtime.gopanic / deferCallSave for a panic (every release of the matrix, 1.19-1.27). For a
// nil funcval that load faults, so the call's probe is never reached and sigpanic raises the
// nil-dereference panic instead. Reported here as the call it was, at the probe it skipped, just
// before the panic it caused.
void Tracer::on_nil_deferred_call(ThreadStop &stop, Addr g, uint64_t goid) {
    const auto frames = walker_->walk(stop.regs.pc(), stop.regs.sp(), 8);
    for (size_t i = 1; i < frames.size(); ++i) {
        if (frames[i - 1].name != "runtime.sigpanic")
            continue;
        // The faulting frame: sigpanic was entered as if called from the faulting pc.
        const Frame &f = frames[i];
        const Addr fault = walker_->to_link(f.pc);
        const Bytes code = bin_->code(f.func);
        if (fault < f.func.entry || fault - f.func.entry >= code.size())
            return;
        const Disassembler &dis = tracee_->disassembler();
        auto load = dis.decode_one(code.subspan(fault - f.func.entry), fault);
        // mov (funcval), target: the code word of the funcval, at offset 0.
        if (!load || load->op != Op::Mov || load->operands.size() != 2 ||
            load->operands[0].kind != Operand::Kind::Reg || load->operands[1].kind != Operand::Kind::Mem ||
            load->operands[1].mem.disp != 0 || load->operands[1].mem.index != Gpr::None ||
            load->operands[1].mem.base == Gpr::Rsp || load->operands[1].mem.base == Gpr::Rip)
            return;
        const Gpr target = load->operands[0].reg;
        // Then at most a register copy or two (the closure context into RDX) and the call.
        Addr at = load->next();
        for (int n = 0; n < 4; ++n) {
            if (auto it = probes_.find(at); it != probes_.end()) {
                for (const Probe &p : it->second) {
                    if ((p.kind != ProbeKind::OpenExitCall && p.kind != ProbeKind::RuntimeCall) || p.direct ||
                        p.call_reg != target)
                        continue;
                    Registers regs = stop.regs;
                    regs.set_pc(walker_->to_runtime(at));
                    regs.set_sp(f.sp);
                    regs.set(target, 0);
                    regs.raw.rdx = 0; // the closure context: the nil funcval
                    ThreadStop skipped{stop.tracee, stop.tid, regs};
                    on_defer_call(skipped, p, g, goid);
                    return;
                }
            }
            if (at < f.func.entry || at - f.func.entry >= code.size())
                return;
            auto in = dis.decode_one(code.subspan(at - f.func.entry), at);
            if (!in || in->op != Op::Mov || in->operands.size() != 2 || in->operands[1].kind != Operand::Kind::Reg ||
                in->writes_gpr(target))
                return;
            at = in->next();
        }
        return;
    }
}

void Tracer::on_panic(ThreadStop &stop, Addr g, uint64_t goid) {
    on_nil_deferred_call(stop, g, goid);
    // A repanic: the panic in progress (not yet linked to this one at gopanic's entry, in every
    // release) was recovered and carries the same interface value, the way Go 1.25's
    // preprintpanics marks a recovered panic as repanicked. The deferred call that recovered it
    // has raised it again before returning.
    bool repanic = false;
    if (auto head = state_->panic_head(g); head && !head->is_null())
        if (auto prev = state_->panic_at(*head))
            repanic = prev->recovered && !prev->goexit && prev->arg_type.value() == stop.regs.raw.rax &&
                      prev->arg_data.value() == stop.regs.raw.rbx;
    Event e = make_event(repanic ? EventKind::Repanic : EventKind::Panic, goid, g);
    e.site = user_site(stop);
    auto v = value_json(Addr(stop.regs.raw.rax), Addr(stop.regs.raw.rbx));
    for (auto it = v.begin(); it != v.end(); ++it)
        e.fields[it.key()] = it.value();
    if (auto depth = depth_of(g, stop.regs.sp()))
        in_progress_[goid].push_back({*depth, v, e.site, false});
    if (!options_.resources.empty())
        last_panic_[goid] =
            PanicSummary{v["value"].is_string() ? v["value"].get<std::string>() : "nil", v["type"].get<std::string>(),
                         e.site, frames_of(g, stop.regs.pc(), stop.regs.sp())};
    if (options_.panics_only)
        e.fields["pending"] = pending_defers(g, stop.regs.pc(), stop.regs.sp());
    if (validator_)
        validator_->panic_started(goid, g, stop.regs.pc(), stop.regs.sp(), false, stop.regs.raw.rax, stop.regs.raw.rbx,
                                  e.site);
    emit(std::move(e));
}

void Tracer::on_recover_entry(ThreadStop &stop, Addr g) {
    PendingRecover r;
    auto ret = tracee_->memory().read_u64(stop.regs.sp());
    r.site = site_at(Addr(ret.value_or(0)), true);
    if (auto head = state_->panic_head(g); head && !head->is_null()) {
        r.panic = *head;
        if (auto p = state_->panic_at(*head)) {
            r.was_recovered = p->recovered;
            r.goexit = p->goexit;
        }
    }
    if (validator_)
        r.validation = validator_->recover_entry(g, stop.regs.pc(), stop.regs.sp(), !r.panic.is_null());
    recovers_[g] = r;
}

void Tracer::on_recover_return(ThreadStop &stop, Addr g, uint64_t goid) {
    auto it = recovers_.find(g);
    if (it == recovers_.end())
        return;
    PendingRecover r = it->second;
    recovers_.erase(it);
    Event e = make_event(EventKind::Recover, goid, g);
    e.site = r.site;
    bool recovered = false;
    if (!r.panic.is_null())
        if (auto p = state_->panic_at(r.panic))
            recovered = p->recovered && !r.was_recovered;
    e.fields["recovered"] = recovered;
    if (auto p = in_progress_.find(goid); recovered && p != in_progress_.end() && !p->second.empty())
        p->second.back().recovered = true;
    if (recovered) {
        auto v = value_json(Addr(stop.regs.raw.rax), Addr(stop.regs.raw.rbx));
        e.fields["value"] = v["value"];
        e.fields["type"] = v["type"];
    } else {
        // Why not (gorecover's conditions, in its order).
        e.fields["reason"] = r.panic.is_null() ? "no panic"
                             : r.goexit        ? "goexit"
                             : r.was_recovered ? "already recovered"
                                               : "not called directly by a deferred function";
    }
    if (validator_)
        validator_->recover_returned(goid, r.validation, recovered, e.site);
    emit(std::move(e));
}

void Tracer::on_recovery(ThreadStop &stop) {
    const Addr g(stop.regs.raw.rax);
    auto goid = state_->goid(g);
    if (!goid)
        return;
    Event e = make_event(EventKind::Recovery, *goid, g);
    std::optional<Addr> resume;
    auto panics = state_->panics(g, 64);
    if (!panics.empty() && panics.front().retpc)
        resume = panics.front().retpc; // Go 1.22+: recovery resumes in retpc's function
    else if (off_.g.sigcode1)
        resume = Addr(state_->word(g, off_.g.sigcode1).value_or(0)); // ≤1.21: gp.sigcode1
    // A panic raised while Goexit runs deferred calls and recovered in a frame Goexit is
    // unwinding does not end the Goexit: execution goes back into it. 1.22+ recovery pops the
    // panics started below the resumed frame and stops at a Goexit (jumping to its startPC);
    // ≤1.21 gopanic sends recovery to the aborted Goexit's pc, saved by deferCallSave.
    bool into_goexit = false;
    for (size_t i = 1; i < panics.size() && !into_goexit; ++i) {
        if (panics[i].start_sp && panics.front().sp) { // 1.22+
            if (*panics[i].start_sp < *panics.front().sp)
                into_goexit = panics[i].goexit;
        }
    }
    // ≤1.21 gopanic has already popped the recovered panic: the Goexit heads the chain.
    if (!panics.empty() && !panics.front().start_sp && resume && is_runtime_function(func_name_at(*resume)))
        into_goexit = panics.front().goexit;
    if (into_goexit) {
        e.site.function = "runtime.Goexit";
        e.fields["resume"] = e.site.function;
    } else if (resume && !resume->is_null()) {
        // The frame that continues; its pc is runtime bookkeeping (a deferreturn call), not a line
        // of the program's.
        e.site.function = site_at(*resume, true).function;
        e.fields["resume"] = e.site.function;
    }
    // The frame that resumes: 1.22+ recovery continues in the frame at p.sp; ≤1.21 gopanic put
    // its sp in gp.sigcode0. Everything started below it is over.
    std::optional<Addr> resume_sp;
    if (!panics.empty() && panics.front().start_sp)
        resume_sp = panics.front().sp;
    else if (off_.g.sigcode0)
        if (auto w = state_->word(g, off_.g.sigcode0))
            resume_sp = Addr(*w);
    const std::optional<uint64_t> resume_depth = resume_sp ? depth_of(g, *resume_sp) : std::optional<uint64_t>();
    const uint64_t resumed_at = resume_depth.value_or(0);
    std::vector<PanicInProgress> aborted;
    nlohmann::ordered_json by;
    if (auto it = in_progress_.find(*goid); it != in_progress_.end() && resume_depth) {
        auto &list = it->second;
        for (auto p = list.rbegin(); p != list.rend() && by.is_null(); ++p)
            if (p->recovered && p->depth > resumed_at)
                by = p->value;
        for (auto p = list.begin(); p != list.end();) {
            if (p->depth <= resumed_at) {
                ++p;
                continue;
            }
            if (!p->recovered)
                aborted.push_back(std::move(*p));
            p = list.erase(p);
        }
        if (list.empty())
            in_progress_.erase(it);
    }
    // Resources acquired below the frame that resumes were acquired by frames now gone.
    if (!options_.resources.empty()) {
        auto panic = last_panic_.find(*goid);
        if (resume_depth && panic != last_panic_.end())
            leaks_.recovered(*goid, resumed_at, panic->second, e.site.function);
    }
    if (validator_)
        validator_->resumed(*goid, g, into_goexit, e.site);
    const nlohmann::ordered_json resumed_in = e.fields.value("resume", nlohmann::ordered_json(""));
    const int depth = e.depth;
    emit(std::move(e));
    for (auto &p : aborted) {
        Event a = make_event(EventKind::Aborted, *goid, Addr());
        a.depth = depth;
        a.site = p.site;
        for (auto f = p.value.begin(); f != p.value.end(); ++f)
            a.fields[f.key()] = f.value();
        a.fields["by"] = by.is_null() ? nlohmann::ordered_json{{"type", "unknown"}, {"value", nullptr}} : by;
        a.fields["resume"] = resumed_in;
        emit(std::move(a));
    }
}

nlohmann::ordered_json Tracer::pending_defers(Addr g, Addr pc, Addr sp, bool *complete) const {
    auto out = nlohmann::ordered_json::array();
    // Linked records, newest first, interleaved with open-coded frames by stack position.
    auto records = state_->defers(g, 4096);
    constexpr size_t kFrames = 512; // a runaway recursion (stack overflow) has millions
    auto frames = walker_->walk(pc, sp, kFrames);
    if (complete)
        *complete = frames.size() < kFrames || frames.back().name == "runtime.goexit";
    size_t r = 0;
    auto emit_record = [&](const DeferRecord &d) {
        if (d.open_defer)
            return; // ≤1.21 open records stand for a frame whose bits are reported below
        nlohmann::ordered_json j;
        j["defer_kind"] = d.rangefunc ? "rangefunc" : d.heap ? "heap" : "stack";
        set_fn(j, funcval_code(d.fn), d.fn);
        j["function"] = site_at(d.pc, true).function;
        out.push_back(j);
    };
    for (const auto &f : frames) {
        while (r < records.size() && records[r].sp < f.fp)
            emit_record(records[r++]);
        auto info = bin_->open_defer_info(f.func);
        if (!info)
            continue;
        auto bits = tracee_->memory().read_u8(f.varp - info->deferbits_offset);
        if (!bits || *bits == 0)
            continue;
        for (int b = 7; b >= 0; --b) {
            if (!(*bits & (1u << b)))
                continue;
            nlohmann::ordered_json j;
            j["defer_kind"] = "open-coded";
            auto off = info->closure_offset(b);
            if (off) {
                const Addr fv(tracee_->memory().read_u64(f.varp - static_cast<uint64_t>(*off)).value_or(0));
                set_fn(j, funcval_code(fv), fv);
            } else
                j["fn"] = "";
            j["function"] = f.name;
            j["bit"] = b;
            out.push_back(j);
        }
    }
    while (r < records.size())
        emit_record(records[r++]);
    return out;
}

nlohmann::ordered_json Tracer::panic_chain_json(const std::vector<PanicRecord> &newest_first) const {
    // Oldest first, as printpanics prints them.
    auto chain = nlohmann::ordered_json::array();
    for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
        auto v = value_json(it->arg_type, it->arg_data);
        v["recovered"] = it->recovered;
        if (it->goexit)
            v["goexit"] = true;
        if (it->repanicked)
            v["repanicked"] = true;
        chain.push_back(v);
    }
    return chain;
}

void Tracer::on_fatal(ThreadStop &stop, Addr g, uint64_t goid) {
    Event e = make_event(EventKind::Fatal, goid, g);
    // preprintpanics(p): ≤1.21 the whole g._panic chain; 1.22+ the current gopanic's panic, linked
    // to the older ones. Print oldest first, as printpanics does.
    std::vector<PanicRecord> panics;
    Addr p(stop.regs.raw.rax);
    for (int i = 0; i < 64 && !p.is_null(); ++i) {
        auto rec = state_->panic_at(p);
        if (!rec)
            break;
        panics.push_back(*rec);
        p = rec->link;
    }
    // 1.25+ preprintpanics, which runs after this stop, marks a panic repanicked when the panic
    // after it carries the very same value (a recovered panic raised again): the same test here.
    if (off_.panic.repanicked)
        for (size_t i = 0; i + 1 < panics.size(); ++i)
            if (panics[i].arg_type == panics[i + 1].arg_type && panics[i].arg_data == panics[i + 1].arg_data)
                panics[i + 1].repanicked = true;
    e.fields["panics"] = panic_chain_json(panics);
    bool complete = true;
    e.fields["pending"] = pending_defers(g, stop.regs.pc(), stop.regs.sp(), &complete);
    if (!complete)
        e.fields["pending_truncated"] = true;
    if (validator_)
        validator_->fatal(goid);
    if (!fatal_printed_probe_) {
        emit(std::move(e));
        return;
    }
    // Held until preprintpanics returns (on_fatal_printed), or until the program ends if it
    // never does (an Error or String method that panics makes the runtime throw).
    PendingFatal pending;
    pending.event = std::move(e);
    for (auto it = panics.rbegin(); it != panics.rend(); ++it)
        pending.panics.push_back(it->addr);
    fatals_[goid] = std::move(pending);
}

void Tracer::on_fatal_printed(uint64_t goid) {
    auto it = fatals_.find(goid);
    if (it == fatals_.end())
        return;
    PendingFatal pending = std::move(it->second);
    fatals_.erase(it);
    auto &chain = pending.event.fields["panics"];
    for (size_t i = 0; i < pending.panics.size() && i < chain.size(); ++i) {
        auto &v = chain[i];
        if (v["type"] == "string")
            continue; // printed as it is
        auto rec = state_->panic_at(pending.panics[i]);
        if (!rec)
            continue;
        auto now = value_json(rec->arg_type, rec->arg_data);
        // Replaced by preprintpanics: the result of the value's Error or String method.
        if (now["type"] == "string" && now["value"].is_string())
            v["printed"] = now["value"];
    }
    emit(std::move(pending.event));
}

void Tracer::on_exiting(ThreadStop &, int) {}

void Tracer::finish(const ExitStatus &status) {
    // A fatal panic whose values the runtime never finished converting to text.
    for (auto &[goid, pending] : fatals_)
        emit(std::move(pending.event));
    fatals_.clear();
    if (!options_.resources.empty()) {
        Event report;
        report.kind = EventKind::Leaks;
        auto list = nlohmann::ordered_json::array();
        for (const auto &l : leaks_.open())
            list.push_back(LeakTracker::to_json(l));
        report.fields["leaks"] = list;
        if (!probe_notes_.empty())
            report.fields["probe_notes"] = probe_notes_;
        emit(std::move(report));
    }
    Event e;
    e.kind = EventKind::Exit;
    if (status.signaled) {
        e.fields["signal"] = status.signal;
        e.fields["signal_name"] = sigabbrev_np(status.signal) ? std::string("SIG") + sigabbrev_np(status.signal) : "";
    } else {
        e.fields["status"] = status.code;
    }
    emit(std::move(e));
    if (validator_) { // last: the text trace ends with the validation line
        emit_divergences();
        Event summary = validator_->summary(); // with those of the programs exec replaced
        summary.fields["observations"] = summary.fields["observations"].get<uint64_t>() + retired_observations_;
        summary.fields["divergences"] = summary.fields["divergences"].get<uint64_t>() + retired_divergences_;
        sink_.emit(summary);
    }
}

uint64_t Tracer::divergences() const {
    return retired_divergences_ + (validator_ ? validator_->divergences() : 0);
}

void Tracer::emit_divergences() {
    if (validator_ && validator_->has_divergences())
        for (auto &e : validator_->take_divergences())
            emit(std::move(e));
}

// Go's register ABI (ABIInternal, amd64, 1.17+): integer arguments and results, receiver first.
static Gpr abi_register(int index) {
    static constexpr Gpr order[] = {Gpr::Rax, Gpr::Rbx, Gpr::Rcx, Gpr::Rdi, Gpr::Rsi,
                                    Gpr::R8,  Gpr::R9,  Gpr::R10, Gpr::R11};
    return index >= 0 && index < 9 ? order[index] : Gpr::None;
}

void Tracer::insert_resource_probes(const Disassembler &dis) {
    const Pclntab &tab = bin_->pclntab();
    if (options_.resources.empty())
        return;
    std::vector<std::string> names;
    for (const ResourceProbe &rp : options_.resources) {
        for (const auto &pf : rp.acquire)
            names.push_back(pf.function);
        for (const auto &pf : rp.release)
            names.push_back(pf.function);
    }
    const auto copies = bin_->inlined_copies(names);
    for (const ResourceProbe &rp : options_.resources) {
        auto each_function = [&](const std::vector<ProbedFunction> &list, bool acquire) {
            for (const ProbedFunction &pf : list) {
                Probe p;
                p.kind = acquire ? ProbeKind::ResourceAcquire : ProbeKind::ResourceRelease;
                p.resource = &rp;
                p.handle_reg = abi_register(pf.handle.index);
                p.handle_deref = pf.handle.deref;
                if (auto index = tab.find_by_name(pf.function)) {
                    const FuncInfo f = tab.func(*index);
                    if (acquire && pf.handle.from == HandleSlot::From::Result) {
                        // The result is in its register at every ret; nothing to remember from entry.
                        for (const auto &in : dis.decode(bin_->code(f), f.entry))
                            if (in.op == Op::Ret)
                                add_probe(in.address, p);
                    } else {
                        add_probe(after_stack_check(f, dis), p);
                    }
                }
                insert_inlined_copies(dis, rp, pf, p, copies.at(pf.function));
            }
        };
        each_function(rp.acquire, true);
        each_function(rp.release, false);
    }
}

void Tracer::insert_inlined_copies(const Disassembler &dis, const ResourceProbe &rp, const ProbedFunction &pf, Probe p,
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
            const auto insns = dis.decode(code.subspan(from, std::min<size_t>(code.size() - from, 96)), c.call_pc);
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
        add_probe(found->address, q);
    }
    if (unseen.empty())
        return;
    std::string note = pf.function + " is inlined into " + std::to_string(unseen.size()) + " function" +
                       (unseen.size() == 1 ? "" : "s") + " (" + unseen.front() + (unseen.size() > 1 ? ", ..." : "") +
                       "): calls made there are not seen";
    // Once: a program that execs itself is analysed again.
    if (std::find(probe_notes_.begin(), probe_notes_.end(), note) == probe_notes_.end())
        probe_notes_.push_back(std::move(note));
}

FrameList Tracer::frames_of(Addr g, Addr pc, Addr sp) const {
    FrameList out;
    for (const auto &f : walker_->walk(pc, sp, 256))
        if (auto d = depth_of(g, f.sp))
            out.emplace_back(*d, f.name);
    return out;
}

std::optional<uint64_t> Tracer::depth_of(Addr g, Addr sp) const {
    auto bounds = state_->stack_bounds(g);
    if (!bounds || sp.value() > bounds->second.value())
        return std::nullopt;
    return bounds->second.value() - sp.value();
}

std::vector<Site> Tracer::call_stack(const CallSite &at) const {
    std::vector<Site> stack;
    if (at.pc.is_null())
        return stack;
    bool innermost = true;
    for (const auto &f : walker_->walk(at.pc, at.sp, 16)) {
        if (f.name == "runtime.goexit")
            break;
        // A call site inside inlined code (db.Begin inlined into the handler) is that many
        // frames, innermost first, as Go's own tracebacks print them.
        const Addr call = innermost ? at.call : walker_->to_link(f.pc) - 1;
        innermost = false;
        Site outer = site_at(walker_->to_runtime(call), false);
        Addr pc = call;
        for (const auto &in : bin_->inlined_calls(f.func, call)) {
            Site s{std::string(in.name), {}, 0};
            if (auto pos = bin_->pclntab().source_at(f.func, pc)) {
                s.file = std::string(pos->file);
                s.line = pos->line;
            }
            stack.push_back(std::move(s));
            pc = in.call_pc;
        }
        if (pc != call)
            if (auto pos = bin_->pclntab().source_at(f.func, pc)) {
                outer.file = std::string(pos->file);
                outer.line = pos->line;
            }
        stack.push_back(std::move(outer));
    }
    return stack;
}

Site Tracer::program_site(const std::vector<Site> &stack) {
    // The program's own call, below the library's (possibly inlined) wrappers.
    for (const Site &s : stack)
        if (!is_std_function(s.function, ""))
            return s;
    return stack.empty() ? Site{} : stack.front();
}

std::optional<Addr> Tracer::locate_allgs(const Disassembler &dis) const {
    if (auto sym = bin_->elf().symbol("runtime.allgs"))
        return sym->value;
    // Stripped: forEachG (1.17+) ranges over allgs, loading the slice's pointer and length, two
    // adjacent words, RIP-relative. The candidate is checked against live memory when used.
    auto index = bin_->pclntab().find_by_name("runtime.forEachG");
    if (!index)
        return std::nullopt;
    const FuncInfo f = bin_->pclntab().func(*index);
    std::vector<uint64_t> loads;
    for (const auto &in : dis.decode(bin_->code(f), f.entry))
        if (in.op == Op::Mov && in.operands.size() == 2 && in.operands[1].kind == Operand::Kind::Mem &&
            in.operands[1].mem.base == Gpr::Rip && in.operands[1].size == 8)
            loads.push_back(in.next().value() + static_cast<uint64_t>(in.operands[1].mem.disp));
    for (uint64_t a : loads)
        if (std::find(loads.begin(), loads.end(), a + 8) != loads.end())
            return Addr(a);
    return std::nullopt;
}

std::vector<Addr> Tracer::all_goroutines(Addr current) const {
    if (!allgs_)
        return {};
    // runtime.allgs is a []*g: pointer, length, capacity.
    const Addr slice = *allgs_ + bias_;
    auto ptr = tracee_->memory().read_u64(slice);
    auto len = tracee_->memory().read_u64(slice + 8);
    auto cap = tracee_->memory().read_u64(slice + 16);
    if (!ptr || !len || !cap || *len == 0 || *len > *cap || *len > (1u << 22))
        return {};
    std::vector<Addr> gs;
    for (uint64_t i = 0; i < *len; ++i)
        if (auto g = tracee_->memory().read_u64(Addr(*ptr) + i * 8); g && *g)
            gs.emplace_back(*g);
    // A stripped binary's guess is checked against what it must hold: the goroutine running, or,
    // when none is (a throw on a g0 stack), the main goroutine first, since runtime.newproc adds
    // runtime.main's goroutine to allgs before any other (proc.go, 1.17-1.27).
    if (!current.is_null() ? std::find(gs.begin(), gs.end(), current) == gs.end()
                           : gs.empty() || state_->goid(gs.front()) != std::optional<uint64_t>(1))
        return {}; // not the goroutine list after all
    return gs;
}

std::vector<Event> Tracer::never_run_events(const ThreadStop &stop, Addr current, bool current_reported,
                                            const char *cause) {
    std::vector<Event> out;
    // runtime2.go's _G* states (1.17-1.27), low bits: the scan bit (0x1000) is masked off.
    static const char *const states[] = {"idle",     "runnable", "running", "syscall",   "waiting",
                                         "moribund", "dead",     "enqueue", "copystack", "preempted"};
    for (Addr g : all_goroutines(current)) {
        if (g == current && current_reported)
            continue;
        auto goid = state_->goid(g);
        auto status = tracee_->memory().read_u32(g + off_.g.atomicstatus);
        if (!goid || !status)
            continue;
        const uint32_t st = *status & ~0x1000u;
        if (st == 0 || st == 6) // idle, dead
            continue;
        Addr pc, sp;
        if (g == current) {
            pc = stop.regs.pc();
            sp = stop.regs.sp();
        } else {
            // Parked, runnable or in a system call: where it will continue. (A goroutine running
            // on another thread has a stale sched; its linked records are still right.)
            pc = Addr(tracee_->memory().read_u64(g + off_.g.sched_pc).value_or(0));
            sp = Addr(tracee_->memory().read_u64(g + off_.g.sched_sp).value_or(0));
        }
        bool complete = true;
        auto pending = program_pending(g, pc, sp, &complete);
        if (pending.empty() && complete)
            continue;
        Event e = make_event(EventKind::NeverRun, *goid, g);
        e.fields["cause"] = cause;
        e.fields["status"] = st < std::size(states) ? states[st] : std::to_string(st);
        e.fields["pending"] = pending;
        if (!complete)
            e.fields["pending_truncated"] = true;
        out.push_back(std::move(e));
    }
    return out;
}

nlohmann::ordered_json Tracer::program_pending(Addr g, Addr pc, Addr sp, bool *complete) const {
    // runtime.main's own deferred function (1.17-1.27) is machinery, not the program's.
    auto pending = nlohmann::ordered_json::array();
    for (auto &d : pending_defers(g, pc, sp, complete))
        if (!is_runtime_function(d.value("function", "")))
            pending.push_back(std::move(d));
    return pending;
}

void Tracer::on_os_exit(ThreadStop &stop, Addr current) {
    for (auto &e : never_run_events(stop, current, false, "os.Exit"))
        emit(std::move(e));
}

void Tracer::on_exec_call(ThreadStop &stop, Addr g, uint64_t goid) {
    exec_held_ = never_run_events(stop, g, false, "exec");
    exec_goid_ = goid;
}

void Tracer::forget_program() {
    // The goroutines, panics and probes of a program that exec replaced: none of it exists in the
    // new one (whose goroutine ids start again from 1).
    probes_.clear();
    registered_.clear();
    recovers_.clear();
    in_progress_.clear();
    last_panic_.clear();
    fatals_.clear();
    exec_held_.clear();
    file_words_.clear();
    allgs_.reset();
    fatal_printed_probe_ = false;
    thrown_ = false;
    site_cache_.clear();
    name_cache_.clear();
    callee_cache_.clear();
    if (validator_) {
        retired_observations_ += validator_->observations();
        retired_divergences_ += validator_->divergences();
        validator_.reset();
    }
}

void Tracer::on_exec() {
    // syscall.Exec succeeded: what was pending at its call will never run.
    for (auto &e : exec_held_)
        emit(std::move(e));
    exec_held_.clear();
    for (auto &[goid, pending] : fatals_)
        emit(std::move(pending.event));
    fatals_.clear();
    emit_divergences();
    Event x;
    x.kind = EventKind::Exec;
    x.goroutine = std::exchange(exec_goid_, 0); // the goroutine that called syscall.Exec (0: unknown)
    std::error_code ec;
    const std::string path =
        std::filesystem::read_symlink("/proc/" + std::to_string(tracee_->pid()) + "/exe", ec).string();
    x.fields["program"] = path.substr(path.rfind('/') + 1);
    // Follow the new program, as strace does, when it is a Go program deftrace can read: from its
    // first instruction (it is stopped there, as at launch), with its own analysis.
    try {
        if (!options_.offsets_for)
            throw Error(ErrorKind::Usage, "following an exec is not set up");
        auto bin = std::make_unique<GoBinary>(GoBinary::open(path));
        RuntimeOffsets offsets = options_.offsets_for(*bin);
        auto sites = analyze_defer_sites(*bin);
        forget_program();
        owned_bins_.push_back(std::move(bin));
        bin_ = owned_bins_.back().get();
        sites_ = std::move(sites);
        off_ = offsets;
        active_ = true;
        attach(*tracee_);
        x.fields["traced"] = true;
    } catch (const Error &err) {
        // Not a Go program, or one deftrace cannot read: it runs on untraced. (Breakpoints
        // already inserted stay and are stepped over, reporting nothing.)
        active_ = false;
        std::string why = err.what();
        if (!path.empty() && why.starts_with(path + ": "))
            why = why.substr(path.size() + 2); // the program is named by the event
        x.fields["traced"] = false;
        x.fields["note"] = why;
    }
    emit(std::move(x));
}

void Tracer::on_throw(ThreadStop &stop, Addr g) {
    // throw/fatal print "fatal error: <s>" and fatalthrow ends the process with exit(2) (or a
    // crash with GOTRACEBACK=crash): no deferred call of any goroutine runs any more. Only the
    // first one is the program's story; the runtime reports no other.
    if (thrown_)
        return;
    thrown_ = true;
    std::string message;
    if (stop.regs.raw.rbx <= 4096)
        message = tracee_->memory().read_bytes(Addr(stop.regs.raw.rax), stop.regs.raw.rbx).value_or("");
    // The goroutine that threw, and where it stands. The checks that run on a g0 stack (newstack's
    // "stack overflow", called by morestack) throw on behalf of m.curg, whose sched morestack has
    // just saved; checkdead (the deadlock and "main called runtime.Goexit" reports) runs in the
    // scheduler with no goroutine at all: the event is then goroutine 0.
    Addr user, pc, sp;
    if (auto header = state_->header(g); header && header->goid != 0) {
        user = g;
        pc = stop.regs.pc();
        sp = stop.regs.sp();
    } else if (auto curg = CurrentG::curg_of_g0(g, *state_)) {
        user = *curg;
        pc = Addr(tracee_->memory().read_u64(user + off_.g.sched_pc).value_or(0));
        sp = Addr(tracee_->memory().read_u64(user + off_.g.sched_sp).value_or(0));
    }
    const uint64_t goid = user.is_null() ? 0 : state_->goid(user).value_or(0);
    if (auto held = fatals_.find(goid); !user.is_null() && held != fatals_.end()) {
        // preprintpanics called an Error or String method that panicked, and its deferred
        // function throws "panic while printing panic value" (1.17-1.27): the fatal panic's event,
        // waiting for preprintpanics to return, is complete now.
        Event e = std::move(held->second.event);
        fatals_.erase(held);
        e.fields["error"] = message; // raw: the sinks escape for their output
        emit(std::move(e));
    } else {
        Event e = make_event(EventKind::Fatal, goid, user);
        auto chain = nlohmann::ordered_json::array();
        if (!user.is_null()) {
            // The innermost frame of the program's: where it called into the runtime or the
            // standard library (sync's "unlock of unlocked mutex" is raised inside Unlock), or the
            // function whose stack check found no room left (morestack's saved pc is inside it).
            // Failing that, the innermost frame outside the runtime.
            const auto frames = walker_->walk(pc, sp, 64);
            std::optional<size_t> at;
            for (size_t i = 0; i < frames.size(); ++i)
                if (!is_runtime_function(frames[i].name)) {
                    if (!at)
                        at = i;
                    if (!is_std_function(frames[i].name, "")) {
                        at = i;
                        break;
                    }
                }
            if (at) {
                // Calls the compiler inlined into that frame (mu.Unlock in the program's function)
                // expanded, the program's own line.
                const Frame &f = frames[*at];
                const bool return_address = !(*at > 0 && frames[*at - 1].name == "runtime.sigpanic");
                const Site inlined =
                    program_site(call_stack({f.pc, f.sp, walker_->to_link(f.pc) - (return_address ? 1 : 0)}));
                e.site = inlined.function.empty() ? site_at(f.pc, return_address) : inlined;
            }
            // A fatal error raised while panics are in progress (Go 1.26's fatal prints them
            // first, printPreFatalDeferPanic): oldest first, as for a fatal panic.
            chain = panic_chain_json(state_->panics(user, 64));
        }
        e.fields["panics"] = chain;
        e.fields["error"] = message; // raw: the sinks escape for their output
        bool complete = true;
        e.fields["pending"] =
            user.is_null() ? nlohmann::ordered_json::array() : program_pending(user, pc, sp, &complete);
        if (!complete)
            e.fields["pending_truncated"] = true;
        emit(std::move(e));
    }
    for (auto &e : never_run_events(stop, user, true, "fatal error"))
        emit(std::move(e));
}

Tracer::CallSite Tracer::caller_at_entry(const ThreadStop &stop) const {
    const Addr ret(tracee_->memory().read_u64(stop.regs.sp()).value_or(0));
    return {ret, stop.regs.sp() + 8, walker_->to_link(ret) - 1};
}

void Tracer::on_resource(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    uint64_t handle = 0;
    if (p.handle_mem) {
        // The atomic instruction of an inlined call: the address it operates on.
        const MemOperand &m = *p.handle_mem;
        uint64_t a = static_cast<uint64_t>(m.disp);
        if (m.base == Gpr::Rip)
            a += walker_->to_runtime(p.handle_mem_next).value();
        else if (m.base != Gpr::None)
            a += stop.regs.get(m.base);
        if (m.index != Gpr::None)
            a += stop.regs.get(m.index) * static_cast<uint64_t>(m.scale);
        handle = a - static_cast<uint64_t>(p.handle_offset);
    } else {
        handle = stop.regs.get(p.handle_reg);
        if (handle != 0 && p.handle_deref)
            handle = tracee_->memory().read_u64(Addr(handle)).value_or(0);
    }
    if (handle == 0)
        return; // an acquire that failed (nil result with an error)
    // Who made the call: the running frame for an inlined copy; else the caller, which resumes
    // at [rsp] (the probe is at the function's entry, after its stack check, or at a ret).
    const CallSite at =
        p.inline_call.is_null() ? caller_at_entry(stop) : CallSite{stop.regs.pc(), stop.regs.sp(), p.inline_call};
    if (at.pc.is_null())
        return;
    if (p.resource->program_callers_only && p.inline_call.is_null()) {
        // The standard library's own use (inlined copies were chosen at attach): decided from the
        // caller's code alone, before any stack walk.
        auto f = bin_->pclntab().find_func(at.call);
        if (!f)
            return;
        const auto inlined = bin_->inlined_calls(*f, at.call);
        if (is_std_function(inlined.empty() ? bin_->pclntab().func_name(*f) : inlined.front().name, ""))
            return;
    }
    std::vector<Site> stack = call_stack(at);
    char hex[24];
    std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(handle));
    if (p.kind == ProbeKind::ResourceRelease) {
        if (!leaks_.released(p.resource->resource, handle, goid))
            return; // released twice, or acquired before deftrace could see it
        Event e = make_event(EventKind::Release, goid, g);
        e.site = program_site(stack);
        e.fields["resource"] = p.resource->resource;
        e.fields["handle"] = hex;
        emit(std::move(e));
        return;
    }
    if (!depth_of(g, at.sp))
        return;
    Event e = make_event(EventKind::Acquire, goid, g);
    e.site = program_site(stack);
    e.fields["resource"] = p.resource->resource;
    e.fields["handle"] = hex;
    leaks_.acquired(p.resource->resource, handle, goid, frames_of(g, at.pc, at.sp), std::move(stack), seq_ + 1);
    emit(std::move(e));
}

} // namespace deftrace
