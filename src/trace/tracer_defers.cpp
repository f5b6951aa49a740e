// Stop handlers for defer statements and deferred calls.
#include "trace/tracer.h"

#include "trace/validator.h"

#include <algorithm>

namespace deftrace {

void Tracer::on_deferproc(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    // At the runtime's entry, or (--scope) at the program's CALL with the same registers.
    const bool at_call = p.kind == ProbeKind::DeferprocCall;
    const bool stack = at_call ? p.defer_kind == DeferKind::Stack : p.kind == ProbeKind::DeferProcStack;
    Registration r;
    r.funcval = Addr(stop.regs.raw.rax);
    if (stack)
        r.funcval = state_->defer_fn(r.funcval);
    r.code = funcvals_->code(r.funcval);
    if (at_call) {
        r.site = names_->site_at(stop.regs.pc(), false);
    } else {
        auto ret = tracee_->memory().read_u64(stop.regs.sp());
        r.site = names_->site_at(Addr(ret.value_or(0)), true);
    }
    r.frame_sp = stop.regs.sp() + 8;             // d.sp = getcallersp(): the caller's SP at this entry probe
    r.rangefunc_frame = Addr(stop.regs.raw.rcx); // deferprocat(fn, frame any): RCX = frame's data
    if (p.kind != ProbeKind::DeferProcAt)
        r.args = deferred_args(stop, stack ? Addr(stop.regs.raw.rax) : Addr(), at_call);
    deferproc_registered(p, g, goid, r);
}

void Tracer::deferproc_registered(const Probe &p, Addr g, uint64_t goid, const Registration &r) {
    const bool at_call = p.kind == ProbeKind::DeferprocCall;
    const bool stack = at_call ? p.defer_kind == DeferKind::Stack : p.kind == ProbeKind::DeferProcStack;
    Event e = make_event(EventKind::Defer, goid, g);
    e.site = r.site;
    e.payload = DeferPayload{stack ? DeferForm::Stack : DeferForm::Heap, deferred_target(r.code, r.funcval, r.held),
                             std::nullopt, r.args};
    remember(goid, r.code, e.site);
    if (at_call) {
        // Out of the whole-program scope the model sees no registration (registrations_observed).
    } else if (p.kind == ProbeKind::DeferProcAt) {
        validator_->rangefunc_defer(goid, g, r.rangefunc_frame, r.code, e.site);
    } else {
        validator_->defer_registered(goid, g, stack ? model::DeferKind::Stack : model::DeferKind::Heap, r.frame_sp,
                                     r.code, -1, e.site);
    }
    emit(std::move(e));
}

// ≤1.16 a deferred call's arguments travel with its record: deferproc(siz, fn) finds them after
// fn in its caller's outgoing arguments (ABI0) and copies them behind the _defer; a stack record
// (`d`) has them behind it already. nullopt where the release keeps none (1.17+ wraps every call
// with arguments in a closure).
std::optional<std::string> Tracer::deferred_args(const ThreadStop &stop, Addr d, bool at_call) const {
    if (!bin_->facts().deferproc_has_siz || bin_->facts().abi != CallingConvention::Stack)
        return std::nullopt;
    const ProcessMemory &mem = tracee_->memory();
    Addr siz_at, args_at;
    if (!d.is_null()) {
        if (!off_.defer.siz || off_.defer.size == 0)
            return std::nullopt;
        siz_at = d + *off_.defer.siz;
        args_at = d + off_.defer.size;
    } else { // deferproc(siz, fn): at its entry SP+8 (at the CALL, SP), then fn, then the arguments
        siz_at = stop.regs.sp() + (at_call ? 0 : 8);
        args_at = siz_at + 16;
    }
    auto siz = mem.read_u32(siz_at);
    if (!siz)
        return std::nullopt;
    auto bytes = mem.read_bytes(args_at, std::min<uint64_t>(*siz, kMaxDeferArgBytes));
    if (!bytes)
        return std::nullopt;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : *bytes) {
        hex += kHex[c >> 4];
        hex += kHex[c & 15];
    }
    return hex;
}

// The defer statement of an open-coded bit.
static void set_open_site(Event &e, const FunctionDefers &f, int bit) {
    e.site.function = f.name;
    for (const auto &s : f.sites)
        if (s.kind == DeferKind::OpenCoded && s.bit == bit) {
            e.site.file = s.file;
            e.site.line = s.line;
        }
}

void Tracer::on_open_register(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    uint64_t value = p.source.kind == Operand::Kind::Imm ? static_cast<uint64_t>(p.source.imm)
                     : p.source.kind == Operand::Kind::Reg && p.source.reg != Gpr::None ? stop.regs.get(p.source.reg)
                                                                                        : 0;
    Registration r;
    if (p.kind == ProbeKind::OpenBitsStore) {
        if (!(value & (1u << p.bit)))
            return; // a conditional defer whose condition was false
        if (p.has_slot)
            r.funcval =
                Addr(tracee_->memory().read_u64(stop.regs.sp() + static_cast<uint64_t>(p.slot_sp_offset)).value_or(0));
    } else {
        r.funcval = Addr(value);
    }
    r.code = funcvals_->code(r.funcval);
    r.frame_sp = stop.regs.sp(); // the store runs in the function's body: its SP is the frame's
    open_registered(p, g, goid, r);
}

void Tracer::open_registered(const Probe &p, Addr g, uint64_t goid, const Registration &r) {
    Event e = make_event(EventKind::Defer, goid, g);
    set_open_site(e, *p.func, p.bit);
    e.payload = DeferPayload{DeferForm::OpenCoded, deferred_target(r.code, r.funcval, r.held), p.bit, {}};
    remember(goid, r.code, e.site);
    if (whole_program_)
        validator_->defer_registered(goid, g, model::DeferKind::OpenCoded, r.frame_sp, r.code, p.bit, e.site);
    emit(std::move(e));
}

// A runtime.callNN (≤1.16) calling on behalf of the runtime's defer machinery, not of
// reflect.Value.Call or a finalizer: reflectcall jumped to it, so it returns into its caller.
bool Tracer::runs_a_defer(const ThreadStop &stop) const {
    const auto frames = walker_->walk(stop.regs.pc(), stop.regs.sp(), 2);
    return frames.size() >= 2 && runs_deferred_calls_by_reflectcall(frames[1].name);
}

void Tracer::on_defer_call(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    if (p.via_reflectcall && !runs_a_defer(stop))
        return;
    const ProcessMemory &mem = tracee_->memory();
    Addr target;
    Addr closure(stop.regs.raw.rdx); // the closure context
    // Where the called function starts (deferred_directly_).
    Addr entry_sp = stop.regs.sp() - 8;
    if (p.direct) {
        target = bias_.runtime(*p.direct);
    } else if (p.funcval_on_stack) { // CALL jmpdefer(fn, argp): fn returns as if called at argp - 8
        closure = Addr(mem.read_u64(stop.regs.sp()).value_or(0));
        target = Addr(closure.is_null() ? 0 : mem.read_u64(closure).value_or(0));
        entry_sp = Addr(mem.read_u64(stop.regs.sp() + 8).value_or(8)) - 8;
    } else if (p.call_reg != Gpr::None && p.call_through_reg) {
        target = Addr(mem.read_u64(Addr(stop.regs.get(p.call_reg))).value_or(0));
    } else if (p.call_reg != Gpr::None) {
        target = Addr(stop.regs.get(p.call_reg));
    }
    report_defer_call(CallAt{stop.regs.pc(), stop.regs.sp(), target, closure, entry_sp, nullptr}, p, g, goid);
}

void Tracer::report_defer_call(const CallAt &at, const Probe &p, Addr g, uint64_t goid) {
    Event e = make_event(EventKind::DeferCall, goid, g);
    CallPayload call;
    call.fn = deferred_target(at.target, at.closure, at.held);
    e.payload = std::move(call);
    const std::optional<Site> registered = take(goid, at.target);
    const std::string cause = call_cause(at, p, g, e, registered);
    if (registered && p.kind == ProbeKind::OpenExitCall)
        e.site = *registered;
    std::get<CallPayload>(e.payload).cause = cause;
    if (bin_->facts().deferproc_has_siz && !at.entry_sp.is_null())
        deferred_directly_[g] = {e.site, at.entry_sp};
    // An inline exit runs its own frame's defers; the runtime's loops say theirs. Out of the
    // whole-program scope the model follows the panic paths only, as in --panics-only mode.
    const bool normal_path = p.kind == ProbeKind::OpenExitCall || p.arming == Arming::InScopeDeferreturn;
    if (whole_program_ || !normal_path)
        validator_->deferred_call(goid, g, at.target,
                                  cause == "panic"    ? model::CallCause::Panic
                                  : cause == "goexit" ? model::CallCause::Goexit
                                                      : model::CallCause::Return,
                                  p.kind == ProbeKind::OpenExitCall ? std::optional(at.sp) : std::nullopt, at.pc, at.sp,
                                  e.site);
    emit(std::move(e));
}

std::string Tracer::call_cause(const CallAt &at, const Probe &p, Addr g, Event &e,
                               const std::optional<Site> &registered) const {
    if (p.kind == ProbeKind::OpenExitCall) {
        auto &call = std::get<CallPayload>(e.payload);
        call.form = DeferForm::OpenCoded;
        if (p.bit >= 0)
            call.bit = p.bit;
        set_open_site(e, *p.func, p.bit); // the defer statement this bit belongs to
        return "return";
    }
    std::string cause = p.cause;
    // A record is taken only while the goroutine has no panic (tracer_records.cpp).
    const auto panics = recording_ != nullptr ? decltype(state_->panics(g, 64)){} : state_->panics(g, 64);
    if (cause.empty()) {
        // deferCallSave (≤1.21) runs open-coded defers for runOpenDeferFrame, which gopanic,
        // Goexit and deferreturn all call: after a recovery, deferreturn runs the rest of the
        // recovering frame's defers while the outer panic is still on the chain. The driver on
        // the stack says which.
        for (const auto &f : walker_->walk(at.pc, at.sp, 6)) {
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
    } else if (cause == "return" && !at.caller_ret.is_null()) { // recorded
        e.site = names_->site_at(at.caller_ret, true);
    } else if (cause == "return") {
        auto frames = walker_->walk(at.pc, at.sp, 3);
        if (frames.size() > 1)
            e.site = names_->site_at(frames[1].pc, true);
    } else if (!panics.empty() && panics.front().retpc) {
        e.site = names_->site_at(*panics.front().retpc, true);
    }
    return cause;
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
        if (bin_->facts().deferreturn_jmpdefer && f.name == "runtime.deferreturn")
            return nil_call_in_deferreturn(stop, f, g, goid);
        const LinkAddr fault = walker_->to_link(f.pc);
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
        // Then at most a register copy or two (the closure context into RDX) or nops, and the call.
        LinkAddr at = load->next();
        for (int n = 0; n < 4; ++n) {
            if (placed_at_.contains(at))
                return; // caught at its early site, before the load: reported as a call of nil there
            if (const auto *probes = plan_->at(at))
                for (const Probe &p : *probes) {
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
            if (at < f.func.entry || at - f.func.entry >= code.size())
                return;
            auto in = dis.decode_one(code.subspan(at - f.func.entry), at);
            const bool copy = in && in->op == Op::Mov && in->operands.size() == 2 &&
                              in->operands[1].kind == Operand::Kind::Reg && !in->writes_gpr(target);
            if (!copy && !(in && in->op == Op::Nop)) // (a PIE pads the call with a nop)
                return;
            at = in->next();
        }
        return;
    }
}

// ≤1.17 deferreturn faults on a nil func value itself (`_ = fn.fn`, so that the fault is not in
// jmpdefer): the call its CALL runtime.jmpdefer would have made, in the same frame.
void Tracer::nil_call_in_deferreturn(ThreadStop &stop, const Frame &f, Addr g, uint64_t goid) {
    for (const auto &[at, probes] : plan_->probes()) {
        if (at < f.func.entry || at >= f.func.end)
            continue;
        for (const Probe &p : probes)
            if (p.kind == ProbeKind::RuntimeCall && p.funcval_on_stack) {
                Registers regs = stop.regs;
                regs.set_pc(walker_->to_runtime(at));
                regs.set_sp(f.sp);
                ThreadStop skipped{stop.tracee, stop.tid, regs};
                return report_defer_call(CallAt{skipped.regs.pc(), skipped.regs.sp(), Addr(), Addr(), Addr(), nullptr},
                                         p, g, goid);
            }
    }
}

std::optional<Site> Tracer::deferred_directly(Addr g, Addr entry_sp) const {
    auto it = deferred_directly_.find(g);
    if (it == deferred_directly_.end() || it->second.entry_sp != entry_sp)
        return std::nullopt;
    return it->second.site;
}

// --scope: runtime.deferreturn's calls are armed while an in-scope frame is in deferreturn.
// Frames are kept by depth per goroutine; a panic that unwinds one drops it at the recovery
// (drop_deferreturn_frames) or at the goroutine's end.
void Tracer::on_deferreturn(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    const uint64_t depth = depth_of(g, stop.regs.sp()).value_or(0);
    auto &frames = deferreturn_frames_[goid];
    if (p.kind == ProbeKind::DeferreturnEnter) {
        // ≤1.17 every deferred call returns to the CALL runtime.deferreturn (jmpdefer): the
        // frame enters again without having left.
        if (frames.empty() || frames.back() != depth)
            frames.push_back(depth);
    } else {
        if (auto it = std::find(frames.rbegin(), frames.rend(), depth); it != frames.rend())
            frames.erase(std::next(it).base());
        if (frames.empty())
            deferreturn_frames_.erase(goid);
    }
    arm(Arming::InScopeDeferreturn, !deferreturn_frames_.empty());
}

void Tracer::drop_deferreturn_frames(uint64_t goid, std::optional<uint64_t> deeper_than) {
    if (auto it = deferreturn_frames_.find(goid); it != deferreturn_frames_.end()) {
        std::erase_if(it->second, [&](uint64_t d) { return !deeper_than || d > *deeper_than; });
        if (it->second.empty())
            deferreturn_frames_.erase(it);
    }
    arm(Arming::InScopeDeferreturn, !deferreturn_frames_.empty());
}

void Tracer::remember(uint64_t goid, Addr code, const Site &site) {
    // A nil func value is remembered under the null code address: its call (which faults, see
    // on_nil_deferred_call) has a null target.
    auto &v = registered_[goid];
    v.emplace_back(code, site);
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

} // namespace deftrace
