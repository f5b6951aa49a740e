#include "trace/validator.h"

#include "trace/symbolizer.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <string_view>

namespace deftrace {

namespace {

bool is(const Frame &f, std::string_view name) {
    return f.name == name;
}

} // namespace

Perturbation Perturbation::from_environment() {
    Perturbation p;
    const char *env = std::getenv("DEFTRACE_TEST_PERTURB");
    if (env == nullptr)
        return p;
    const std::string_view s(env);
    const size_t colon = s.find(':');
    if (colon == std::string_view::npos)
        return p;
    const std::string_view what = s.substr(0, colon), n = s.substr(colon + 1);
    uint64_t nth = 0;
    if (std::from_chars(n.data(), n.data() + n.size(), nth).ec != std::errc() || nth == 0)
        return p;
    if (what == "call-fn")
        p.kind = Kind::CallFn;
    else if (what == "drop-defer")
        p.kind = Kind::DropDefer;
    else if (what == "snapshot")
        p.kind = Kind::Snapshot;
    else if (what == "current-g")
        p.kind = Kind::CurrentG;
    else if (what == "drop-record")
        p.kind = Kind::DropRecord;
    else
        return p;
    p.nth = nth;
    return p;
}

Validator::Validator(const GoBinary &bin, const StackWalker &walker, const RuntimeState &state, const GoRelease &traits,
                     bool registrations_observed, Perturbation perturb)
    : bin_(bin), walker_(walker), state_(state), model_(traits, registrations_observed),
      registrations_observed_(registrations_observed), era_b_(state.era() == Era::B), funcvals_(bin, state.memory()),
      perturb_(perturb), deferreturn_(bin.runtime().get("runtime.deferreturn")) {
    if (perturb_.kind == Perturbation::Kind::CallFn) {
        // Another function of the program: what a misread funcval would name.
        if (auto i = bin_.pclntab().find_by_name("main.main"))
            perturb_code_ = walker_.to_runtime(bin_.pclntab().func(*i).entry);
        else
            perturb_code_ = Addr(1);
    }
}

Validator::~Validator() = default;

std::string Validator::model_name() const {
    return "Go 1." + std::to_string(model_.traits().minor);
}

bool Validator::perturb(Perturbation::Kind kind) {
    return perturb_.kind == kind && ++perturb_count_ == perturb_.nth;
}

// g.stack.hi - sp: the model's frame depth, which survives copystack moving the stack.
model::FrameDepth Validator::depth(Addr g, Addr sp) const {
    std::optional<uint64_t> hi;
    if (g == stop_g_ && !g.is_null())
        hi = stop_hi_.value(); // read at this stop already (at_stop)
    else
        hi = state_.word(g, state_.offsets().g.stack_hi);
    if (!hi || sp.is_null() || sp.value() >= *hi)
        return model::kUnknownDepth;
    return *hi - sp.value();
}

std::optional<Addr> Validator::caller_sp(Addr pc, Addr sp) const {
    auto f = walker_.func_at(pc);
    if (!f)
        return std::nullopt;
    auto delta = bin_.pclntab().pcsp(*f).at(walker_.to_link(pc));
    if (!delta || *delta < 0)
        return std::nullopt;
    return sp + static_cast<uint64_t>(*delta) + 8; // above the return address
}

Addr Validator::code_of(Addr funcval) const {
    return funcvals_.code(funcval);
}

// A callNN of reflectcall (≤1.16), which makes gopanic's, Goexit's and reflectcallSave's
// deferred calls.
bool Validator::is_reflectcall_helper(const Frame &f) const {
    return bin_.facts().panic_calls_reflectcall && deftrace::is_reflectcall_helper(f.name);
}

// The callNN at frames[j] runs a deferred call for the runtime, not for reflect.
bool Validator::runner_call(const std::vector<Frame> &frames, size_t j) const {
    return j + 1 < frames.size() && runs_deferred_calls_by_reflectcall(frames[j + 1].name);
}

// ≤1.16: reflect's frames between a method value or MakeFunc func and the function it calls
// (methodValueCall / makeFuncStub, WRAPPER assembly, then callMethod / callReflect, then a callNN)
// hand the panic's argp on as wrappers do (test/recover.go test9reflect1 and the like).
bool Validator::reflect_call_frame(const Frame &f) const {
    if (!bin_.facts().panic_calls_reflectcall)
        return false;
    return is_reflectcall_helper(f) || is(f, "reflect.callMethod") || is(f, "reflect.callReflect") ||
           is(f, "reflect.methodValueCall") || is(f, "reflect.makeFuncStub");
}

// ≤1.17: jmpdefer makes the deferred function return to its frame's CALL runtime.deferreturn
// (it subtracts the call's 5 bytes from the return address): that frame, stopped at the call
// itself, is running its defers through deferreturn.
bool Validator::returns_into_deferreturn_call(const Frame &f) const {
    return bin_.facts().deferreturn_jmpdefer && !f.pc.is_null() && f.func.deferreturn != 0 &&
           walker_.to_link(f.pc) == f.func.entry + f.func.deferreturn;
}

bool Validator::is_wrapper(const Frame &f) const {
    return f.func.funcid == bin_.facts().funcid_wrapper;
}

void Validator::feed(const model::Observation &o, const Site &site) {
    if (auto d = model_.observe(o)) {
        const model::GoroutineState *gs = model_.goroutine(d->goid);
        pending_.push_back({std::move(*d), site, gs ? static_cast<int>(gs->panics.size()) : 0});
    }
}

void Validator::defer_registered(uint64_t goid, Addr g, model::DeferKind kind, Addr frame_sp, Addr code, int bit,
                                 const Site &site) {
    if (perturb(Perturbation::Kind::DropDefer))
        return;
    feed(model::DeferRegistered{goid, kind, depth(g, frame_sp), model::Callee{code.value(), {}, {}}, bit}, site);
}

void Validator::rangefunc_head(uint64_t goid, Addr g, Addr frame_sp) {
    feed(model::DeferRegistered{goid, model::DeferKind::RangefuncHead, depth(g, frame_sp), {}, -1}, Site{});
}

// deferprocat(fn, frame any) (1.22+): `frame` is d.head of the rangefunc record deferrangefunc
// made; that record's d.sp is the frame the defer belongs to.
void Validator::rangefunc_defer(uint64_t goid, Addr g, Addr head, Addr code, const Site &site) {
    model::FrameDepth frame = model::kUnknownDepth;
    for (const auto &d : state_.defers(g, 64))
        if (d.rangefunc && state_.rangefunc_points_at(d, head)) {
            frame = depth(g, d.sp);
            break;
        }
    if (perturb(Perturbation::Kind::DropDefer))
        return;
    feed(model::DeferRegistered{goid, model::DeferKind::RangefuncAt, frame, model::Callee{code.value(), {}, {}}, -1},
         site);
}

void Validator::deferred_call(uint64_t goid, Addr g, Addr code, model::CallCause cause, std::optional<Addr> frame_sp,
                              Addr pc, Addr sp, const Site &site) {
    model::FrameDepth frame = model::kUnknownDepth;
    if (frame_sp) {
        frame = depth(g, *frame_sp);
    } else if (cause == model::CallCause::Return) {
        // deferreturn runs its caller's defers: the frame above runtime.deferreturn (≤1.21 also
        // through runOpenDeferFrame and deferCallSave, after a recovery).
        if (auto f = walker_.func_at(pc); f && deferreturn_ && f->entry == deferreturn_->entry) {
            if (auto csp = caller_sp(pc, sp))
                frame = depth(g, *csp);
        } else {
            auto frames = walker_.walk(pc, sp, 6);
            for (size_t i = 0; i + 1 < frames.size(); ++i)
                if (is(frames[i], "runtime.deferreturn")) {
                    frame = depth(g, frames[i + 1].sp);
                    break;
                }
        }
    } else if (era_b_) {
        // 1.22+ nextDefer popped the record before the call; p.sp is the frame being processed.
        if (auto head = state_.panic_head(g); head && !head->is_null())
            if (auto p = state_.panic_at(*head); p && p->sp)
                frame = depth(g, *p->sp);
    } else {
        // ≤1.21 gopanic / Goexit keep the record being run at the head of g._defer (started).
        if (auto head = state_.defer_head(g); head && !head->is_null())
            if (auto d = state_.defer_at(*head))
                frame = depth(g, d->sp);
    }
    if (perturb(Perturbation::Kind::CallFn))
        code = perturb_code_;
    feed(model::DeferredCallStarted{goid, code.value(), cause, frame}, site);
}

model::ChainSnapshot Validator::snapshot(uint64_t goid, Addr g, const std::vector<Frame> *frames) {
    model::ChainSnapshot c;
    c.goid = goid;
    c.compare = registrations_observed_;
    for (const auto &d : state_.defers(g, 4096)) {
        model::SnapshotDefer s;
        s.kind = d.open_defer  ? model::DeferKind::OpenFrame
                 : d.rangefunc ? model::DeferKind::RangefuncHead
                 : d.heap      ? model::DeferKind::Heap
                               : model::DeferKind::Stack;
        s.frame = depth(g, d.sp);
        s.fn = code_of(d.fn).value();
        s.started = d.started;
        if (d.rangefunc)
            for (const auto &r : state_.rangefunc_list(d))
                s.at_list.push_back(code_of(r.fn).value());
        c.defers.push_back(s);
    }
    for (const auto &p : state_.panics(g, 256)) {
        model::SnapshotPanic s;
        s.recovered = p.recovered;
        s.aborted = p.aborted;
        s.goexit = p.goexit;
        s.repanicked = p.repanicked;
        if (era_b_ && p.sp)
            s.current_frame = depth(g, *p.sp);
        c.panics.push_back(s);
    }
    if (frames) {
        // Every frame with open-coded defers, its deferBits byte and the closures of its set bits.
        std::vector<model::SnapshotOpenFrame> open;
        for (const auto &f : *frames) {
            auto frame = read_open_frame(bin_, state_.memory(), f);
            if (!frame)
                continue;
            model::SnapshotOpenFrame o;
            o.frame = depth(g, f.sp);
            o.bits = frame->bits;
            o.slots.assign(8, 0);
            for (size_t b = 0; b < 8; ++b)
                if (frame->closures[b])
                    o.slots[b] = code_of(*frame->closures[b]).value();
            open.push_back(std::move(o));
        }
        c.open_frames = std::move(open);
    }
    if (perturb(Perturbation::Kind::Snapshot)) { // a record that is not there: garbage at the tail
        model::SnapshotDefer garbage;
        garbage.frame = 1;
        garbage.fn = 1;
        c.defers.push_back(garbage);
    }
    return c;
}

void Validator::panic_started(uint64_t goid, Addr g, Addr pc, Addr sp, bool goexit, uint64_t type_word,
                              uint64_t data_word, const Site &site) {
    // The chains as gopanic / Goexit find them, before the new _panic is linked.
    const auto frames = walker_.walk(pc, sp, 512);
    if (!goexit)
        nil_exit_call(goid, g, frames, site);
    feed(snapshot(goid, g, &frames), site);
    model::PanicStarted p;
    p.goid = goid;
    p.goexit = goexit;
    // preprintpanics (1.25+) compares the eface words of consecutive panics to mark a repanic.
    if (!goexit)
        p.value = Addr(type_word).hex() + ":" + Addr(data_word).hex();
    p.frame = depth(g, sp + 8); // the caller's SP: p.start(getcallerpc(), getcallersp())
    feed(p, site);
}

// `defer f()` with f == nil, open-coded: the exit clears the defer's bit, then faults loading the
// nil funcval's code before its call instruction, so the call is never seen; sigpanic raises the
// panic from that frame. The deferred call did start, as far as the runtime is concerned.
void Validator::nil_exit_call(uint64_t goid, Addr g, const std::vector<Frame> &frames, const Site &site) {
    const model::GoroutineState *gs = model_.goroutine(goid);
    if (gs == nullptr || gs->open.empty())
        return;
    for (size_t k = 1; k + 1 < frames.size() && k < 4; ++k) {
        if (!is(frames[k], "runtime.sigpanic"))
            continue;
        const Frame &x = frames[k + 1];
        auto it = gs->open.find(depth(g, x.sp));
        if (it == gs->open.end() || !bin_.open_defer_info(x.func))
            return;
        const int top = it->second.top_bit();
        auto frame = read_open_frame(bin_, state_.memory(), x);
        if (top >= 0 && frame && !(frame->bits & (1u << top)) && it->second.slots[static_cast<size_t>(top)].fn == 0)
            feed(model::DeferredCallStarted{goid, 0, model::CallCause::Return, it->first}, site);
        return;
    }
}

model::RecoverCalled Validator::recover_entry(Addr g, Addr pc, Addr sp, bool panicking) const {
    model::RecoverCalled c;
    if (!panicking)
        return c; // gp._panic == nil decides alone; no need to look at the stack
    const auto frames = walker_.walk(pc, sp, 16);
    if (frames.size() < 2)
        return c;
    const Frame &caller = frames[1];
    c.caller_frame = depth(g, caller.sp);
    c.caller_fn = caller.pc.is_null() ? 0 : walker_.to_runtime(caller.func.entry).value();
    // A recover() in a helper inlined into the deferred function (1.26+ counts it as a frame).
    c.inlined_frames = bin_.outermost_inlined(caller.func, walker_.to_link(caller.pc) - 1) ? 1 : 0;
    // `defer recover()`: the deferwrap wrapper is recover's caller, recover not in code inlined
    // into it (`defer F()` with F inlined into its deferwrap calls recover from F's code).
    c.deferred_recover = is_wrapper(caller) && c.inlined_frames == 0;
    c.frames_to_gopanic = frames_to_gopanic(frames);
    size_t at = 0;
    c.invoker = invoker_of(frames, 1, &at, &c.wrapper_frames);
    if (c.deferred_recover && c.invoker == model::Invoker::Deferreturn && at < frames.size()) {
        // The frame that executed the defer statement: above runtime.deferreturn (reached
        // directly, or ≤1.21 through deferCallSave <- runOpenDeferFrame), or frames[at] itself
        // when its inline open-coded exit called the wrapper. Only that chain is searched: above
        // an inline exit there may be another deferreturn (the panic was raised by a deferred
        // call that deferreturn ran) which belongs to a different frame.
        size_t registrar = at;
        if (is(frames[at], "runtime.deferreturn"))
            registrar = at + 1;
        else if (is(frames[at], "runtime.deferCallSave"))
            for (size_t k = at + 1; k < frames.size() && k < at + 4; ++k)
                if (is(frames[k], "runtime.deferreturn")) {
                    registrar = k + 1;
                    break;
                }
        if (registrar < frames.size()) {
            size_t unused_at = 0;
            int unused_wrappers = 0;
            c.registrar_invoker = invoker_of(frames, registrar, &unused_at, &unused_wrappers);
        }
    }
    return c;
}

// 1.26+ gorecover's count (model::RecoverCalled::frames_to_gopanic), from frames[1], recover's
// caller, up. Every frame above the first is stopped at a return address: its call is at pc - 1.
// Inlined calls are counted as ordinary functions (the funcID of an inlined wrapper is not read).
int Validator::frames_to_gopanic(const std::vector<Frame> &frames) const {
    int count = 0;
    for (size_t i = 1; i < frames.size(); ++i) {
        const Frame &f = frames[i];
        if (is(f, "runtime.gopanic"))
            return count;
        count += static_cast<int>(bin_.inlined_calls(f.func, walker_.to_link(f.pc) - 1).size());
        if (!is_wrapper(f))
            ++count;
        if (count > 1)
            return 2;
    }
    return -1;
}

// Who called frames[i]: gopanic's or Goexit's loop (directly, or through runOpenDeferFrame and
// deferCallSave before Go 1.22), deferreturn or an inline open-coded exit, or ordinary Go code.
model::Invoker Validator::invoker_of(const std::vector<Frame> &frames, size_t i, size_t *at, int *wrappers) const {
    size_t j = i + 1;
    // runtime.deferreturn is a FuncIDWrapper too (objabi/funcid.go, 1.17-1.27), yet the runner;
    // so is reflectcall's callNN (≤1.16) when the runner made the call through it.
    while (j < frames.size() && (is_wrapper(frames[j]) || reflect_call_frame(frames[j])) &&
           !is(frames[j], "runtime.deferreturn") && !(is_reflectcall_helper(frames[j]) && runner_call(frames, j))) {
        ++j;
        ++*wrappers;
    }
    *at = j;
    if (j >= frames.size())
        return model::Invoker::Ordinary;
    auto runner = [](const Frame &f) -> std::optional<model::Invoker> {
        if (is(f, "runtime.gopanic"))
            return model::Invoker::PanicRunner;
        if (is(f, "runtime.Goexit"))
            return model::Invoker::GoexitRunner;
        if (is(f, "runtime.deferreturn"))
            return model::Invoker::Deferreturn;
        return std::nullopt;
    };
    if (auto r = runner(frames[j]))
        return *r;
    // ≤1.21: deferCallSave <- runOpenDeferFrame <- driver; ≤1.16: runtime.callNN (reflectcall
    // jumped to it) <- gopanic / Goexit, or <- reflectcallSave <- runOpenDeferFrame <- driver.
    if (is(frames[j], "runtime.deferCallSave") || is_reflectcall_helper(frames[j]))
        for (size_t k = j + 1; k < frames.size() && k < j + 4; ++k)
            if (auto r = runner(frames[k]))
                return *r;
    if (exit_returns_.contains(walker_.to_link(frames[j].pc)) || returns_into_deferreturn_call(frames[j]))
        return model::Invoker::Deferreturn;
    return model::Invoker::Ordinary;
}

void Validator::recover_returned(uint64_t goid, model::RecoverCalled call, bool recovered, const Site &site) {
    call.goid = goid;
    call.recovered = recovered;
    feed(call, site);
}

void Validator::resumed(uint64_t goid, Addr g, bool in_goexit, std::optional<Addr> sp, const Site &site) {
    feed(model::Resumed{goid, sp ? depth(g, *sp) : model::kUnknownDepth, 0, in_goexit}, site);
}

void Validator::fatal(uint64_t goid) {
    feed(model::GoroutineEnded{goid, model::EndKind::FatalPanic}, Site{});
}

void Validator::goroutine_end(uint64_t goid, Addr g) {
    model::EndKind kind = model::EndKind::Returned;
    if (auto head = state_.panic_head(g); head && !head->is_null()) {
        // Goexit's _panic stays linked until gdestroy; anything else would be a runtime bug.
        if (auto p = state_.panic_at(*head); p && p->goexit)
            kind = model::EndKind::GoexitDone;
    } else if (registrations_observed_) {
        // Every defer registered has run: g._defer must be empty, and so must the model's chain.
        feed(snapshot(goid, g, nullptr), Site{});
    }
    feed(model::GoroutineEnded{goid, kind}, Site{});
    model_.forget(goid);
}

void Validator::program_ending(uint64_t goid, Addr g, Addr pc, Addr sp, bool exiting) {
    if (registrations_observed_) {
        const auto frames = walker_.walk(pc, sp, 512);
        feed(snapshot(goid, g, &frames), Site{});
    }
    if (exiting)
        feed(model::GoroutineEnded{goid, model::EndKind::ProgramExit}, Site{});
}

std::string Validator::symbolize(const std::string &text) const {
    // Code addresses in the model's descriptions, followed by the function they belong to.
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        const size_t at = text.find("0x", i);
        if (at == std::string::npos) {
            out.append(text, i, std::string::npos);
            break;
        }
        size_t end = at + 2;
        while (end < text.size() && std::isxdigit(static_cast<unsigned char>(text[end])))
            ++end;
        out.append(text, i, end - i);
        uint64_t v = 0;
        if (end > at + 2 && std::from_chars(text.data() + at + 2, text.data() + end, v, 16).ec == std::errc())
            if (auto f = walker_.func_at(Addr(v)))
                out += " (" + std::string(bin_.pclntab().func_name(*f)) + ")";
        i = end;
    }
    return out;
}

void Validator::current_g(Addr tls_g, Addr r14) {
    ++g_checks_;
    if (perturb(Perturbation::Kind::CurrentG))
        r14 = r14 + 8;
    if (tls_g == r14)
        return;
    ++g_mismatches_;
    const auto goid = state_.goid(tls_g);
    pending_.push_back({model::Divergence{goid.value_or(0), observations(), "current g (TLS word vs R14)",
                                          "g " + tls_g.hex() + " (TLS)", "g " + r14.hex() + " (R14)"},
                        Site{}, 0});
}

std::vector<Event> Validator::take_divergences() {
    std::vector<Event> out;
    for (auto &p : pending_) {
        Event e;
        e.kind = EventKind::Divergence;
        e.goroutine = p.d.goid;
        e.site = std::move(p.site);
        e.depth = p.depth;
        e.payload = DivergencePayload{p.d.rule, symbolize(p.d.expected), symbolize(p.d.observed)};
        out.push_back(std::move(e));
    }
    pending_.clear();
    return out;
}

Event Validator::summary() const {
    Event e;
    e.kind = EventKind::Validation;
    e.payload = ValidationPayload{observations(), divergences(), model_name()};
    return e;
}

} // namespace deftrace
