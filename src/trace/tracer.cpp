#include "trace/tracer.h"

#include "analysis/wrapped_callee.h"
#include "binary/error.h"

#include <algorithm>
#include <elf.h>

namespace deftrace {

enum class ProbeKind {
    DeferProc,       // runtime.deferproc entry: RAX = *funcval
    DeferProcStack,  // runtime.deferprocStack entry: RAX = *_defer with fn set
    DeferProcAt,     // runtime.deferprocat entry: RAX = *funcval (range-over-func body)
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
};

struct Tracer::PendingRecover {
    Addr panic;
    bool was_recovered = false;
    bool goexit = false;
    Site site;
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
    : bin_(bin), sites_(std::move(sites)), off_(offsets), sink_(sink), options_(options) {}

Tracer::~Tracer() = default;

void Tracer::add_probe(Addr link_addr, Probe p) {
    probes_[link_addr].push_back(std::move(p));
}

void Tracer::attach(Tracee &tracee) {
    tracee_ = &tracee;
    const auto &elf = bin_.elf();
    if (elf.is_pie()) {
        auto entry = tracee.auxv(AT_ENTRY);
        if (!entry)
            throw Error(ErrorKind::Process, "cannot read the program's entry point (AT_ENTRY)");
        bias_ = *entry - elf.entry().value();
    }
    walker_ = std::make_unique<StackWalker>(bin_, tracee.memory(), bias_);
    state_ = std::make_unique<RuntimeState>(tracee.memory(), off_);
    types_ = std::make_unique<TypeReader>(tracee.memory(), bin_.moduledata().types + bias_);

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
    insert_all(tracee);
}

void Tracer::insert_all(Tracee &tracee) {
    const auto &rt = bin_.runtime();
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
        for (const auto &in : dis.decode(bin_.code(*f), f->entry))
            each(in);
    };

    if (!options_.panics_only) {
        entry_probe("runtime.deferproc", ProbeKind::DeferProc);
        entry_probe("runtime.deferprocStack", ProbeKind::DeferProcStack);
        entry_probe("runtime.deferprocat", ProbeKind::DeferProcAt);
    }
    entry_probe("runtime.gopanic", ProbeKind::Gopanic);
    entry_probe("runtime.gorecover", ProbeKind::GorecoverEntry);
    entry_probe("runtime.recovery", ProbeKind::Recovery);
    entry_probe("runtime.Goexit", ProbeKind::Goexit);
    // gopanic calls preprintpanics(p) then fatalpanic(p) with the same chain (1.17-1.27); at
    // fatalpanic the values are no longer the program's: preprintpanics has replaced every error
    // or Stringer by the string it prints.
    entry_probe("runtime.preprintpanics", ProbeKind::Fatal);
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
    for (auto [fn, cause] : callers) {
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
            if (!f.open_coded || is_runtime_function(f.name))
                continue;
            for (const auto &s : f.sites) {
                if (s.kind != DeferKind::OpenCoded)
                    continue;
                auto in = dis.decode_one(bin_.code(*bin_.pclntab().find_func(s.pc)).subspan(s.pc - f.entry), s.pc);
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
                auto in = dis.decode_one(bin_.code(*bin_.pclntab().find_func(e.call_pc)).subspan(e.call_pc - f.entry),
                                         e.call_pc);
                if (!in)
                    continue;
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
    for (const auto &[addr, _] : probes_)
        tracee.insert_breakpoint(addr + bias_);
}

// A function entry probe must sit after the stack-bound check: when the stack has to grow,
// runtime.morestack restarts the function from its entry, and an entry breakpoint would fire
// twice. Registers and SP are still as at entry there (the frame is not built yet).
Addr Tracer::after_stack_check(const FuncInfo &f, const Disassembler &dis) const {
    auto code = bin_.code(f);
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
    if (funcval.is_null())
        return;
    auto code = tracee_->memory().read_u64(funcval);
    if (!code)
        return;
    auto &v = registered_[goid];
    v.emplace_back(Addr(*code), site);
    if (v.size() > 100000) // defers that never run (os.Exit paths) must not grow without bound
        v.erase(v.begin(), v.begin() + 50000);
}

std::optional<Site> Tracer::take(uint64_t goid, Addr code) {
    auto it = registered_.find(goid);
    if (it == registered_.end() || code.is_null())
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
    std::string name = f ? std::string(bin_.pclntab().func_name(*f)) : std::string();
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
    auto f = bin_.pclntab().find_func(link);
    if (!f)
        return s;
    s.function = std::string(bin_.pclntab().func_name(*f));
    if (f->funcid == bin_.facts().funcid_wrapper)
        s.function = enclosing_of_wrapper(s.function);
    if (auto pos = bin_.pclntab().source_at(*f, link)) {
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
    return Addr(tracee_->memory().read_u64(funcval).value_or(0));
}

void Tracer::set_fn(nlohmann::ordered_json &fields, Addr code, Addr closure) const {
    auto it = callee_cache_.find(code);
    if (it == callee_cache_.end()) {
        std::string raw = func_name_at(code);
        std::string callee;
        bool indirect = false;
        if (auto f = walker_->func_at(code);
            f && f->entry == walker_->to_link(code) && f->funcid == bin_.facts().funcid_wrapper) {
            callee = wrapped_callee(bin_, tracee_->disassembler(), *f).value_or("");
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
        if (auto target = wrapper_call_target(bin_, tracee_->disassembler(), *f, closure.value(), read)) {
            callee = func_name_at(Addr(*target));
            // A method value's own wrapper (T.m-fm) calls the method.
            if (auto g = walker_->func_at(Addr(*target)); g && g->funcid == bin_.facts().funcid_wrapper)
                if (auto inner = wrapped_callee(bin_, tracee_->disassembler(), *g))
                    callee = *inner;
        }
    }
    if (callee.empty()) {
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
    j["value"] = v.value ? nlohmann::ordered_json(escape_go_string(*v.value)) : nlohmann::ordered_json(nullptr);
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
    // Go code keeps the current g in R14 (ABIInternal); recovery runs on g0 and gets the user g
    // in RAX instead.
    const Addr g(stop.regs.raw.r14);
    for (const Probe &p : it->second) {
        if (p.kind == ProbeKind::Recovery) {
            on_recovery(stop);
            continue;
        }
        auto goid = state_->goid(g);
        if (!goid)
            continue;
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
            set_fn(e.fields, funcval_code(fn), fn);
            remember(*goid, fn, e.site);
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
            emit(std::move(e));
            break;
        }
        case ProbeKind::Fatal: on_fatal(stop, g, *goid); break;
        case ProbeKind::Recovery: break;
        }
    }
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
    set_fn(e.fields, funcval_code(funcval), funcval);
    e.fields["bit"] = p.bit;
    remember(goid, funcval, e.site);
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
    emit(std::move(e));
}

void Tracer::on_panic(ThreadStop &stop, Addr g, uint64_t goid) {
    Event e = make_event(EventKind::Panic, goid, g);
    e.site = user_site(stop);
    auto v = value_json(Addr(stop.regs.raw.rax), Addr(stop.regs.raw.rbx));
    for (auto it = v.begin(); it != v.end(); ++it)
        e.fields[it.key()] = it.value();
    if (options_.panics_only)
        e.fields["pending"] = pending_defers(g, stop.regs.pc(), stop.regs.sp());
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
    emit(std::move(e));
}

nlohmann::ordered_json Tracer::pending_defers(Addr g, Addr pc, Addr sp) const {
    auto out = nlohmann::ordered_json::array();
    // Linked records, newest first, interleaved with open-coded frames by stack position.
    auto records = state_->defers(g, 4096);
    auto frames = walker_->walk(pc, sp, 512);
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
        auto info = bin_.open_defer_info(f.func);
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

void Tracer::on_fatal(ThreadStop &stop, Addr g, uint64_t goid) {
    Event e = make_event(EventKind::Fatal, goid, g);
    auto chain = nlohmann::ordered_json::array();
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
    for (auto it = panics.rbegin(); it != panics.rend(); ++it) {
        auto v = value_json(it->arg_type, it->arg_data);
        v["recovered"] = it->recovered;
        if (it->goexit)
            v["goexit"] = true;
        if (it->repanicked)
            v["repanicked"] = true;
        chain.push_back(v);
    }
    e.fields["panics"] = chain;
    e.fields["pending"] = pending_defers(g, stop.regs.pc(), stop.regs.sp());
    emit(std::move(e));
}

void Tracer::on_exiting(ThreadStop &, int) {}

void Tracer::on_exec() {
    active_ = false;
}

void Tracer::finish(const ExitStatus &status) {
    Event e;
    e.kind = EventKind::Exit;
    if (status.signaled) {
        e.fields["signal"] = status.signal;
        e.fields["signal_name"] = sigabbrev_np(status.signal) ? std::string("SIG") + sigabbrev_np(status.signal) : "";
    } else {
        e.fields["status"] = status.code;
    }
    emit(std::move(e));
}

} // namespace deftrace
