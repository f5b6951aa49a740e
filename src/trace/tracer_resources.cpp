// Stop handlers for probed resources (--leaks, --probes): acquire and release events, and the
// leak tracker's bookkeeping; the leak reports made while the program runs.
#include "trace/tracer.h"

#include "binary/go_names.h"

namespace deftrace {

Symbolizer::CallSite Tracer::caller_at_entry(const ThreadStop &stop) const {
    const Addr ret(tracee_->memory().read_u64(stop.regs.sp()).value_or(0));
    return {ret, stop.regs.sp() + 8, walker_->to_link(ret) - 1};
}

uint64_t Tracer::handle_of(const ThreadStop &stop, const Probe &p) const {
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
        return a - static_cast<uint64_t>(p.handle_offset);
    }
    uint64_t handle = stop.regs.get(p.handle_reg);
    if (handle != 0 && p.handle_deref)
        handle = tracee_->memory().read_u64(Addr(handle)).value_or(0);
    return handle;
}

void Tracer::on_resource(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    const uint64_t handle = handle_of(stop, p);
    if (handle == 0)
        return; // an acquire that failed (nil result with an error)
    // Who made the call: the running frame for an inlined copy; else the caller, which resumes
    // at [rsp] (the probe is at the function's entry, after its stack check, or at a ret).
    const Symbolizer::CallSite at = p.inline_call.is_null()
                                        ? caller_at_entry(stop)
                                        : Symbolizer::CallSite{stop.regs.pc(), stop.regs.sp(), p.inline_call};
    if (at.pc.is_null())
        return;
    if (p.resource->program_callers_only && p.inline_call.is_null()) {
        // The standard library's own use (inlined copies were chosen by the plan): decided from
        // the caller's code alone, before any stack walk.
        auto f = bin_->pclntab().find_func(at.call);
        if (!f)
            return;
        const auto inlined = bin_->inlined_calls(*f, at.call);
        std::string caller(inlined.empty() ? bin_->pclntab().func_name(*f) : inlined.front().name);
        // ≤1.16 the runtime calls a deferred `mu.Unlock` itself: the defer statement's function is
        // the caller.
        if (auto site = deferred_directly(g, at.sp - 8))
            caller = site->function;
        if (is_std_function(caller, ""))
            return;
    }
    std::vector<Site> stack = names_->call_stack(at);
    char hex[24];
    std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(handle));
    if (p.kind == ProbeKind::ResourceRelease) {
        if (!leaks_.released(p.resource->resource, handle, goid))
            return; // released twice, or acquired before deftrace could see it
        Event e = make_event(EventKind::Release, goid, g);
        e.site = Symbolizer::program_site(stack);
        e.payload = ResourcePayload{p.resource->resource, hex};
        emit(std::move(e));
        return;
    }
    if (!depth_of(g, at.sp))
        return;
    Event e = make_event(EventKind::Acquire, goid, g);
    e.site = Symbolizer::program_site(stack);
    e.payload = ResourcePayload{p.resource->resource, hex};
    leaks_.acquired(p.resource->resource, handle, goid, frames_of(g, at.pc, at.sp), std::move(stack), seq_ + 1,
                    e.time_us);
    emit(std::move(e));
}

void Tracer::report_leaks() {
    Event e;
    e.kind = EventKind::LeakReport;
    LeakReportPayload r;
    r.trigger = LeakReportPayload::Trigger::Signal;
    r.now_us = wall_clock_us();
    r.probing = !options_.resources.empty();
    r.leaks = leaks_.open();
    e.payload = std::move(r);
    emit(std::move(e));
}

void Tracer::check_leak_age() {
    if (!options_.leak_age)
        return;
    const int64_t now = wall_clock_us();
    auto crossed = leaks_.newly_older_than(now, static_cast<int64_t>(*options_.leak_age * 1e6));
    if (crossed.empty())
        return;
    Event e;
    e.kind = EventKind::LeakReport;
    LeakReportPayload r;
    r.trigger = LeakReportPayload::Trigger::Age;
    r.age_limit_s = *options_.leak_age;
    r.now_us = now;
    r.leaks = std::move(crossed);
    e.payload = std::move(r);
    emit(std::move(e));
}

} // namespace deftrace
