// Stop handlers for panics, Goexit, recover() and the recovery that follows, and fatal panics.
#include "trace/tracer.h"

#include "goruntime/recovery_point.h"
#include "model/recover_rule.h"
#include "trace/validator.h"

namespace deftrace {

void Tracer::on_panic(ThreadStop &stop, Addr g, uint64_t goid) {
    on_nil_deferred_call(stop, g, goid);
    // A repanic: the panic in progress was recovered and carries the same interface value; the
    // deferred call that recovered it raises it again before returning.
    const bool repanic = state_->is_repanic(g, stop.regs.raw.rax, stop.regs.raw.rbx);
    Event e = make_event(repanic ? EventKind::Repanic : EventKind::Panic, goid, g);
    e.site = names_->user_site(stop.regs.pc(), stop.regs.sp());
    PanicPayload panic;
    panic.value = panic_value(Addr(stop.regs.raw.rax), Addr(stop.regs.raw.rbx));
    const PanicValue &v = panic.value;
    if (auto depth = depth_of(g, stop.regs.sp()))
        panics_.started(goid, {*depth, v, e.site, false});
    arm(Arming::DuringPanics, true); // before any deferred call of this panic can recover
    if (!options_.resources.empty())
        last_panic_[goid] =
            PanicSummary{v.value.value_or("nil"), v.type, e.site, frames_of(g, stop.regs.pc(), stop.regs.sp())};
    if (options_.panics_only)
        panic.pending = pending_defers(g, stop.regs.pc(), stop.regs.sp());
    // As many frames as Go's own traceback prints of a goroutine.
    Symbolizer::PanicStack stack = names_->panic_stack(stop.regs.pc(), stop.regs.sp(), 100);
    panic.stack = std::move(stack.frames);
    panic.stack_truncated = stack.truncated;
    e.payload = std::move(panic);
    validator_->panic_started(goid, g, stop.regs.pc(), stop.regs.sp(), false, stop.regs.raw.rax, stop.regs.raw.rbx,
                              e.site);
    emit(std::move(e));
}

void Tracer::on_goexit(ThreadStop &stop, Addr g, uint64_t goid) {
    Event e = make_event(EventKind::Goexit, goid, g);
    auto ret = tracee_->memory().read_u64(stop.regs.sp());
    e.site = names_->site_at(Addr(ret.value_or(0)), true);
    validator_->panic_started(goid, g, stop.regs.pc(), stop.regs.sp(), true, 0, 0, e.site);
    goexiting_.insert(goid);
    arm(Arming::DuringPanics, true);
    emit(std::move(e));
}

void Tracer::on_recover_entry(ThreadStop &stop, Addr g) {
    PendingRecover r;
    auto ret = tracee_->memory().read_u64(stop.regs.sp());
    r.site = names_->site_at(Addr(ret.value_or(0)), true);
    if (auto site = deferred_directly(g, stop.regs.sp()))
        r.site = *site; // deferred itself (≤1.16) and entered by that call: the defer statement
    r.panic = state_->top_panic(g);
    r.validation = validator_->recover_entry(g, stop.regs.pc(), stop.regs.sp(), !r.panic.addr.is_null());
    recovers_[g] = r;
}

void Tracer::on_recover_call(ThreadStop &stop, Addr g, uint64_t goid) {
    PendingRecover r;
    r.panic = state_->top_panic(g);
    if (!r.panic.addr.is_null()) {
        // gorecover must look at the stack, from its own entry: armed already, or the panic
        // began before deftrace attached.
        arm(Arming::DuringPanics, true);
        return;
    }
    // No panic on this goroutine: recover() returns nil. Should gorecover be armed when the
    // thread gets there, its entry replaces this record and its return reports the call; if
    // not, the instruction after this call does.
    r.site = names_->site_at(stop.regs.pc(), false);
    if (auto site = deferred_directly(g, stop.regs.sp() - 8))
        r.site = *site; // an open-coded exit calling a deferred recover() (≤1.16)
    r.validation = validator_->recover_entry(g, stop.regs.pc(), stop.regs.sp(), false); // no panic: no look
    recovers_[g] = r;
    // Attached, where no trampoline could carry the probe after the call (Tracer::place): told now,
    // the outcome being known (gorecover, which cannot start a panic, finds none).
    if (unplaced_set_.contains(return_of_call(stop.regs.pc())))
        on_recover_return(stop, g, goid);
}

void Tracer::on_recover_return(ThreadStop &stop, Addr g, uint64_t goid) {
    recover_returned(g, goid, Addr(stop.regs.raw.rax), Addr(stop.regs.raw.rbx));
}

// recover() returned `result_type`:`result_data` (RAX:RBX) on g.
void Tracer::recover_returned(Addr g, uint64_t goid, Addr result_type, Addr result_data) {
    auto it = recovers_.find(g);
    if (it == recovers_.end())
        return;
    PendingRecover r = it->second;
    recovers_.erase(it);
    Event e = make_event(EventKind::Recover, goid, g);
    e.site = r.site;
    // Recovered by this call: the panic at the entry is marked recovered now and was not then.
    const bool was_recovered = r.panic.record && r.panic.record->recovered;
    const bool goexit = r.panic.record && r.panic.record->goexit;
    bool recovered = false;
    if (!r.panic.addr.is_null())
        if (auto p = state_->panic_at(r.panic.addr))
            recovered = p->recovered && !was_recovered;
    RecoverPayload result;
    result.recovered = recovered;
    if (recovered)
        panics_.recovered(goid);
    if (recovered) {
        result.value = panic_value(result_type, result_data);
    } else {
        // Why not: gorecover's conditions, in its order, named as the model names them.
        const model::RecoverReason reason = r.panic.addr.is_null() ? model::RecoverReason::NoPanic
                                            : goexit               ? model::RecoverReason::Goexit
                                            : was_recovered        ? model::RecoverReason::AlreadyRecovered
                                                                   : model::RecoverReason::NotDirect;
        result.reason = model::to_string(reason);
    }
    e.payload = std::move(result);
    validator_->recover_returned(goid, r.validation, recovered, e.site);
    emit(std::move(e));
}

void Tracer::on_recovery(ThreadStop &stop) {
    const Addr g(stop.regs.raw.rax);
    auto goid = state_->goid(g);
    if (!goid)
        return;
    Event e = make_event(EventKind::Recovery, *goid, g);
    RecoveryPayload recovery;
    const RecoveryPoint at =
        recovery_point(*state_, g, [this](Addr pc) { return is_runtime_function(names_->func_name_at(pc)); });
    if (at.into_goexit) {
        e.site.function = "runtime.Goexit";
        recovery.resume = e.site.function;
    } else if (at.pc && !at.pc->is_null()) {
        // The frame that continues; its pc is runtime bookkeeping (a deferreturn call), not a line
        // of the program's.
        e.site.function = names_->site_at(*at.pc, true).function;
        recovery.resume = e.site.function;
    }
    // Everything started below the frame that resumes is over.
    const std::optional<uint64_t> resume_depth = at.sp ? depth_of(g, *at.sp) : std::optional<uint64_t>();
    const uint64_t resumed_at = resume_depth.value_or(0);
    PanicBook::Resumed ended;
    if (resume_depth) {
        ended = panics_.resumed(*goid, resumed_at);
        drop_deferreturn_frames(*goid, resumed_at); // the frames the panic unwound
        recovery.panics_ended = ended.ended;
    }
    e.payload = recovery;
    update_recover_arming();
    // Resources acquired below the frame that resumes were acquired by frames now gone.
    if (!options_.resources.empty()) {
        auto panic = last_panic_.find(*goid);
        if (resume_depth && panic != last_panic_.end())
            leaks_.recovered(*goid, resumed_at, panic->second, e.site.function);
    }
    validator_->resumed(*goid, g, at.into_goexit, at.sp, e.site);
    const std::string resumed_in = recovery.resume.value_or("");
    const int depth = e.depth;
    emit(std::move(e));
    for (auto &p : ended.aborted) {
        Event a = make_event(EventKind::Aborted, *goid, Addr());
        a.depth = depth;
        a.site = p.site;
        a.payload = AbortedPayload{p.value, ended.by.value_or(PanicValue{"unknown", std::nullopt, false}), resumed_in};
        emit(std::move(a));
    }
}

void Tracer::on_fatal(ThreadStop &stop, Addr g, uint64_t goid) {
    Event e = make_event(EventKind::Fatal, goid, g);
    // preprintpanics(p): ≤1.21 the whole g._panic chain; 1.22+ the current gopanic's panic, linked
    // to the older ones. Print oldest first, as printpanics does.
    std::vector<PanicRecord> panics = state_->panic_chain(Addr(stop.regs.raw.rax), 64);
    // 1.25+ preprintpanics, which runs after this stop, marks a panic repanicked when the panic
    // after it carries the very same value (a recovered panic raised again): the same test here.
    if (off_.panic.repanicked)
        for (size_t i = 0; i + 1 < panics.size(); ++i)
            if (panics[i].arg_type == panics[i + 1].arg_type && panics[i].arg_data == panics[i + 1].arg_data)
                panics[i + 1].repanicked = true;
    FatalPayload fatal;
    fatal.panics = panic_chain(panics);
    bool complete = true;
    fatal.pending = pending_defers(g, stop.regs.pc(), stop.regs.sp(), &complete);
    fatal.pending_truncated = !complete;
    e.payload = std::move(fatal);
    validator_->fatal(goid);
    if (!plan_->fatal_printed_probed()) {
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
    auto &chain = std::get<FatalPayload>(pending.event.payload).panics;
    for (size_t i = 0; i < pending.panics.size() && i < chain.size(); ++i) {
        auto &p = chain[i];
        if (p.value.type == "string")
            continue; // printed as it is
        auto rec = state_->panic_at(pending.panics[i]);
        if (!rec)
            continue;
        const PanicValue now = panic_value(rec->arg_type, rec->arg_data);
        // Replaced by preprintpanics: the result of the value's Error or String method.
        if (now.type == "string" && now.value)
            p.printed = now.value;
    }
    emit(std::move(pending.event));
}

} // namespace deftrace
