// What deftrace learns from a running program it attaches to, every thread stopped: where each
// goroutine is, the deferred calls registered before deftrace came (seed_attached), and the
// read-only picture of `deftrace snapshot`.
#include "trace/tracer.h"

#include "process/signal_frames.h"
#include "trace/validator.h"

#include <algorithm>
#include <map>
#include <unordered_set>

namespace deftrace {

std::vector<Tracer::StoppedGoroutine> Tracer::stopped_goroutines(Tracee &tracee, std::vector<Addr> *interrupted) const {
    // A goroutine running on a thread has a stale saved context: where the thread stopped is
    // where it is; or, the thread in a signal handler, where the handler returns to (the
    // context whose stack pointer is on the goroutine's stack: not a nested signal's, taken on
    // the signal stack).
    std::unordered_map<Addr, SavedContext> running;
    std::vector<InterruptedContext> contexts;
    const auto &restorers = tracee.signal_restorers();
    for (pid_t tid : tracee.thread_ids()) {
        const Registers regs = get_registers(tid);
        const CurrentG::Found cur = current_g_.at(regs, tracee.memory());
        if (auto h = cur.g.is_null() ? std::nullopt : state_->header(cur.g); h && h->goid != 0)
            running[cur.g] = SavedContext{regs.pc(), regs.sp()};
        for (const InterruptedContext &c : signal_frames(tracee.memory(), regs.pc(), regs.sp(), restorers)) {
            contexts.push_back(c);
            if (interrupted != nullptr)
                interrupted->push_back(c.pc);
        }
    }
    std::vector<StoppedGoroutine> out;
    for (Addr g : all_goroutines(Addr())) {
        auto header = state_->header(g);
        auto status = state_->status(g);
        if (!header || !status || *status == 0 || *status == 6) // idle, dead
            continue;
        const auto it = running.find(g);
        bool on_thread = it != running.end();
        SavedContext at = on_thread ? it->second : state_->saved_context(g);
        // Stopped in a handler, the thread is not where the goroutine goes on: nothing can step it
        // out of a patch's way (resume_pcs keeps its pc, like a parked one's).
        for (const InterruptedContext &c : contexts)
            if (c.sp >= header->stack_lo && c.sp < header->stack_hi) {
                at = SavedContext{c.pc, c.sp};
                on_thread = false;
            }
        out.push_back({g, header->goid, *status, at, on_thread});
    }
    return out;
}

std::vector<Addr> Tracer::resume_pcs(const std::vector<StoppedGoroutine> &stopped) const {
    std::vector<Addr> out;
    constexpr size_t kFrames = 1024;
    // The pc of a goroutine on a thread is the thread's own, which the Tracee knows and may step
    // out of a patch's way (Tracee::step_out_of); its callers' return addresses are kept here.
    for (const StoppedGoroutine &s : stopped) {
        bool top = true;
        for (const Frame &f : walker_->walk(s.at.pc, s.at.sp, kFrames)) {
            if (!(top && s.on_thread))
                out.push_back(f.pc);
            top = false;
        }
    }
    return out;
}

const FunctionDefers *Tracer::analysed(std::string_view function) const {
    for (const auto *list : {&sites_, &attached_sites_})
        for (const FunctionDefers &f : *list)
            if (f.name == function)
                return &f;
    return nullptr;
}

// The site of a deferred call registered before deftrace attached, as the probes would have
// named it: the CALL of deferproc / deferprocStack for a linked record (d.pc is its return
// address), the defer statement of the bit for an open-coded one.
Site Tracer::registration_site(const PendingDefer &d) const {
    if (d.kind != PendingDefer::Kind::OpenCoded)
        return names_->site_at(d.pc, true);
    Site site;
    site.function = d.frame;
    const FunctionDefers *f = analysed(d.frame);
    if (f != nullptr)
        for (const auto &s : f->sites)
            if (s.kind == DeferKind::OpenCoded && s.bit == d.bit) {
                site.file = s.file;
                site.line = s.line;
            }
    return site;
}

// Caught halfway through something the model must see whole, in one walk of the stack:
// - inside the runtime's panic machinery: gopanic or Goexit may not have linked their _panic yet
//   (gopanic's p.start, 1.22+; the entry probe that would have told it is behind), or recovery is
//   on its way back to the frame it resumes;
// - between an open-coded exit's clearing of a deferBits bit and its call of that deferred
//   function (the bit ANDed away, the closure loaded, called: a few bytes before the instruction
//   after the call, ProbePlan::exit_returns). Memory says "nothing pending" and the probe on the
//   call is still to come. Only where the goroutine is, or was when the runtime preempted it (the
//   frame above runtime.asyncPreempt's): a return address is after a call, and none comes between.
bool Tracer::halfway(const StoppedGoroutine &s) const {
    constexpr uint64_t kExitSequence = 32; // the bit cleared .. the instruction after the call
    constexpr size_t kFrames = 64;
    const std::vector<LinkAddr> &returns = plan_->exit_returns();
    bool interrupted = true; // the top frame; then one that asyncPreempt interrupted
    for (const Frame &f : walker_->walk(s.at.pc, s.at.sp, kFrames)) {
        if (f.name == "runtime.gopanic" || f.name == "runtime.Goexit" || f.name == "runtime.recovery")
            return true;
        const uint64_t pc = bias_.link(f.pc).value();
        if (interrupted && std::any_of(returns.begin(), returns.end(),
                                       [&](LinkAddr r) { return r.value() > pc && r.value() - pc <= kExitSequence; }))
            return true;
        interrupted = f.name == "runtime.asyncPreempt";
    }
    return false;
}

void Tracer::seed_attached(const std::vector<StoppedGoroutine> &stopped) {
    std::vector<std::pair<StoppedGoroutine, PendingDefers>> chains;
    std::unordered_set<std::string> unanalysed; // not analysed: out of scope, or --panics-only
    for (const StoppedGoroutine &s : stopped) {
        chains.emplace_back(s, deftrace::pending_defers(*bin_, *state_, *walker_, s.g, s.at.pc, s.at.sp));
        for (const PendingDefer &d : chains.back().second.defers)
            if (d.kind == PendingDefer::Kind::OpenCoded && analysed(d.frame) == nullptr)
                unanalysed.insert(d.frame);
    }
    if (!unanalysed.empty()) { // their bits' defer statements, for the sites of their calls
        DeferAnalysisOptions just;
        just.only = [&](std::string_view f) { return unanalysed.count(std::string(f)) > 0; };
        for (auto &f : analyze_defer_sites(*bin_, just))
            attached_sites_.push_back(std::move(f));
    }
    for (const auto &[s, pending] : chains) {
        // The model learns a goroutine's chain only when it can learn all of it: every frame
        // walked, no panic in progress (its records and the model's panic state would have to be
        // rebuilt too), no range-over-func record (its head belongs to a deferrangefunc call).
        const bool caught = !state_->panics(s.g, 1).empty() || halfway(s);
        const bool whole = whole_program_ && pending.complete && !caught &&
                           std::none_of(pending.defers.begin(), pending.defers.end(),
                                        [](const PendingDefer &d) { return d.kind == PendingDefer::Kind::Rangefunc; });
        validator_->at_stop({}, {});
        // What the model does not learn it must not judge: a panic caught halfway (its deferred
        // calls, recover and resume still to come) or an open-coded exit caught between its bit
        // and its call, in every mode; and with every defer observed, a chain not learnt. Its
        // next chain snapshot (a panic, Goexit, its end) teaches it.
        if (caught || (whole_program_ && !whole))
            validator_->state_unknown(s.goid);
        // Oldest first, as they were registered: the reverse of the order they would run in.
        for (auto d = pending.defers.rbegin(); d != pending.defers.rend(); ++d) {
            const Addr funcval = d->funcval.value_or(Addr());
            const Site site = registration_site(*d);
            remember(s.goid, funcvals_->code(funcval), site);
            if (!whole)
                continue;
            const auto kind = d->kind == PendingDefer::Kind::OpenCoded ? model::DeferKind::OpenCoded
                              : d->kind == PendingDefer::Kind::Heap    ? model::DeferKind::Heap
                                                                       : model::DeferKind::Stack;
            validator_->defer_registered(s.goid, s.g, kind, d->frame_sp, funcvals_->code(funcval), d->bit, site);
        }
    }
    emit_divergences();
}

void Tracer::prepare_snapshot(const Disassembler &dis) {
    const PlanOptions plan{true, &options_.resources, &scope_, false};
    plan_ = std::make_unique<ProbePlan>(ProbePlan::build(*bin_, sites_, dis, plan));
}

nlohmann::ordered_json Tracer::snapshot(Tracee &tracee) {
    open_readers(tracee);
    if (!plan_)
        prepare_snapshot(tracee.disassembler());
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    // Every thread is stopped from the attach to the detach: nothing changes the memory read,
    // so each block is read once however many goroutines, records and frames lie in it.
    const StopCache cache(tracee.memory());
    for (const StoppedGoroutine &s : stopped_goroutines(tracee)) {
        bool complete = true;
        auto pending = program_pending(s.g, s.at.pc, s.at.sp, &complete);
        auto panics = state_->panics(s.g, 64);
        nlohmann::ordered_json j;
        j["goroutine"] = s.goid;
        j["status"] = RuntimeState::status_name(s.status);
        nlohmann::ordered_json defers = nlohmann::ordered_json::array();
        for (const auto &d : pending)
            defers.push_back(d.to_json());
        j["defers"] = std::move(defers);
        if (!complete)
            j["complete"] = false;
        nlohmann::ordered_json chain = nlohmann::ordered_json::array();
        for (const auto &p : panic_chain(panics))
            chain.push_back(p.to_json());
        j["panics"] = std::move(chain);
        out.push_back(std::move(j));
    }
    return out;
}

std::vector<std::pair<std::string, size_t>> Tracer::unplaced() const {
    std::map<std::string, size_t> by_function;
    for (LinkAddr a : unplaced_) {
        // Told at the call instead (on_recover_call): nothing is missed.
        const auto *probes = plan_->at(a);
        if (probes != nullptr && std::all_of(probes->begin(), probes->end(),
                                             [](const Probe &p) { return p.kind == ProbeKind::RecoverCallReturn; }))
            continue;
        auto f = bin_->pclntab().find_func(a);
        ++by_function[f ? std::string(bin_->pclntab().func_name(*f)) : a.hex()];
    }
    return {by_function.begin(), by_function.end()};
}

} // namespace deftrace
