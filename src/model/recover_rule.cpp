#include "model/recover_rule.h"

namespace deftrace::model {

const char *to_string(RecoverReason r) {
    switch (r) {
    case RecoverReason::Recovered: return "recovered";
    case RecoverReason::NoPanic: return "no panic";
    case RecoverReason::NotDirect: return "not called directly by a deferred function";
    case RecoverReason::AlreadyRecovered: return "already recovered";
    case RecoverReason::Goexit: return "goexit";
    }
    return "?";
}

namespace {

// ≤1.25, gorecover(argp): argp == p.argp. The runtime sets p.argp to the SP of the runner that
// calls the deferred function (gopanic's getargp, deferCallSave, 1.22+ nextDefer: startSP), which
// is the FP of the function it calls; wrapper prologues hand argp on to the wrapped function, so
// wrappers are transparent. The compiler passes the physical caller's FP, so inlined helpers are
// transparent too. `defer recover()` passes the FP of the frame that executed the defer statement:
// that matches only when the wrapper runs from that frame's deferreturn (after a nested recovery)
// while that frame was itself called by the panic runner (test/recover1.go test6 vs test7).
bool argp_matches(const RecoverCalled &c) {
    if (c.deferred_recover) {
        return c.invoker == Invoker::Deferreturn && c.registrar_invoker == Invoker::PanicRunner;
    }
    return c.invoker == Invoker::PanicRunner;
}

// 1.26/1.27, gorecover(): walking up from recover's caller with an inline-aware unwinder, skipping
// FuncIDWrapper frames, exactly one non-wrapper frame must precede this panic's gopanic frame.
// `defer recover()` run by the panic: 0 frames (the deferwrap is a wrapper); run when the deferred
// function that registered it returns, through an inline open-coded exit or runtime.deferreturn
// (a wrapper as well): 1 (test/recover.go test4, recover1.go test5/test6). A recover() in a
// helper inlined into the deferred function: 2 (issue 73916).
bool frame_count_matches(const RecoverCalled &c) {
    return c.frames_to_gopanic == 1;
}

} // namespace

RecoverVerdict judge_recover(const GoRelease &t, const GoroutineState &gs, const RecoverCalled &call) {
    RecoverVerdict v;
    std::string ver = "gorecover@1." + std::to_string(t.minor);
    const PanicRecord *p = gs.top_panic();
    if (!p) {
        v.reason = RecoverReason::NoPanic;
        v.rule = ver + " gp._panic == nil";
        return v;
    }
    v.panic = p->id;
    if (p->goexit) {
        v.reason = RecoverReason::Goexit;
        v.rule = ver + " p.goexit";
        return v;
    }
    if (p->recovered) {
        v.reason = RecoverReason::AlreadyRecovered;
        v.rule = ver + " p.recovered";
        return v;
    }
    bool ok = false;
    switch (t.recover_rule) {
    case RecoverRule::ArgpMatch:
        ok = argp_matches(call);
        v.rule = ver + " argp == p.argp";
        break;
    case RecoverRule::FrameCountFP:
        ok = frame_count_matches(call);
        v.rule = ver + " one non-wrapper frame to gopanic (fp == p.gopanicFP)";
        break;
    case RecoverRule::FrameCountStart:
        ok = frame_count_matches(call);
        v.rule = ver + " one non-wrapper frame to gopanic (sp == p.startSP)";
        break;
    }
    v.recovered = ok;
    v.reason = ok ? RecoverReason::Recovered : RecoverReason::NotDirect;
    return v;
}

} // namespace deftrace::model
