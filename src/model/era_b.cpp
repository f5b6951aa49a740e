#include "model/era_b.h"

#include "model/chain_ops.h"

#include <limits>

namespace deftrace::model {

namespace {

RunnerStep call_step(const Callee &c, FrameDepth frame, DeferKind kind, bool goexit) {
    RunnerStep s;
    s.kind = RunnerStep::Kind::Call;
    s.call = PredictedCall{c, frame, kind, goexit ? CallCause::Goexit : CallCause::Panic};
    return s;
}

} // namespace

// (*_panic).start: p.lr, p.fp = gopanic's caller; the first nextFrame examines the panicking frame
// itself, so the walk bound starts inclusive at p.frame.
void EraB::start(GoroutineState &gs, PanicRecord &p) const {
    p.walk_from = p.frame != kUnknownDepth ? p.frame : std::numeric_limits<FrameDepth>::max();
    next_frame(gs, p);
}

// (*_panic).nextFrame: walk outward from walk_from; stop at the frame whose sp equals the top linked
// record's sp (the `limit`), or at one whose initOpenCodedDefers finds non-zero deferBits.
bool EraB::next_frame(GoroutineState &gs, PanicRecord &p) const {
    if (p.exhausted) { // p.lr == 0 (1.27: p.pc == 0)
        return false;
    }
    FrameDepth bound = p.walk_from;
    // 1.27 (issue 77062): when the walk reaches the gopanic frame of the next older panic, it jumps
    // straight to the frame that panic is processing, skipping the frames it has already done.
    const PanicRecord *older = nullptr;
    if (traits_.skips_older_panic_frames) {
        for (size_t i = 0; i + 1 < gs.panics.size(); ++i) {
            if (gs.panics[i].id == p.id) {
                older = &gs.panics[i + 1];
            }
        }
    }
    for (;;) {
        std::optional<FrameDepth> best;
        std::optional<FrameDepth> limit;
        if (!gs.defers.empty() && gs.defers.front().frame != kUnknownDepth) {
            limit = gs.defers.front().frame;
            if (*limit <= bound) {
                best = limit;
            }
        }
        for (auto it = gs.open.begin(); it != gs.open.end() && it->first <= bound; ++it) {
            if (it->second.bits != 0 && (!best || it->first > *best)) {
                best = it->first;
            }
        }
        if (older && older->current && older->frame != kUnknownDepth && *older->current < older->frame &&
            bound > older->frame && best && *best > *older->current && *best <= older->frame) {
            bound = *older->current; // u.initAt(p.link.pc, p.link.sp)
            continue;
        }
        if (!best) {
            p.exhausted = true;
            return false;
        }
        p.current = *best;
        p.walk_from = *best - 1;
        // The linked-record check comes first in nextFrame; a frame is either open-coded or not.
        p.open_active = !(limit && *limit == *best);
        if (p.open_active) {
            p.retpc = ResumeVia::Deferreturn; // initOpenCodedDefers: p.retpc = entry + deferreturn
        }
        return true;
    }
}

// (*_panic).nextDefer, with the recovered check at its top (the runtime calls mcall(recovery) there,
// i.e. only after the recovering deferred call has returned).
RunnerStep EraB::advance(GoroutineState &gs, PanicRecord &p) const {
    if (p.recovered) {
        return recovery(gs, p);
    }
    for (;;) {
        if (p.open_active && p.current) {
            auto it = gs.open.find(*p.current);
            if (it != gs.open.end() && it->second.bits != 0) {
                int i = it->second.top_bit();
                it->second.bits &= static_cast<uint8_t>(~(1u << i)); // cleared before the call
                return call_step(it->second.slots[i], *p.current, DeferKind::OpenCoded, p.goexit);
            }
            p.open_active = false; // p.deferBitsPtr = nil
        }
        while (p.current && !gs.defers.empty() && gs.defers.front().frame == *p.current) {
            if (gs.defers.front().kind == DeferKind::RangefuncHead) {
                deferconvert(gs); // then popDefer(gp) of the head (1.23+), or gp._defer = deferconvert(d) (1.22)
                continue;
            }
            DeferRecord d = std::move(gs.defers.front());
            gs.defers.erase(gs.defers.begin());  // popDefer / freedefer before the call
            p.retpc = ResumeVia::AfterDeferproc; // p.retpc = d.pc
            return call_step(d.callee, d.frame, d.kind, p.goexit);
        }
        if (!next_frame(gs, p)) {
            RunnerStep s;
            s.kind = RunnerStep::Kind::Exhausted;
            return s;
        }
    }
}

// recovery(gp), 1.22+: resume in p.sp's frame. ≤1.24 at p.retpc (after deferproc with AX=1 for a
// linked defer, entry+deferreturn for an open-coded frame); 1.25+ always at entry+deferreturn.
// Every panic whose startSP lies below that frame is finished, except that a Goexit is never
// unwound past: execution then returns into Goexit's loop at its startPC.
RunnerStep EraB::recovery(GoroutineState &gs, PanicRecord &p) const {
    RunnerStep s;
    s.kind = RunnerStep::Kind::Recover;
    FrameDepth target = p.current.value_or(kUnknownDepth);
    s.resume = ResumePoint{target, traits_.deferproc_returns_flag ? p.retpc : ResumeVia::Deferreturn};
    size_t n = 0;
    bool into_goexit = false;
    for (; n < gs.panics.size(); ++n) {
        const PanicRecord &q = gs.panics[n];
        // p.startSP < sp: gopanic's frame sits just inside q.frame, so "below the target" is
        // q.frame >= target. The recovered panic itself always qualifies; unknown depths are popped.
        bool below = n == 0 || q.frame == kUnknownDepth || target == kUnknownDepth || q.frame >= target;
        if (!below) {
            break;
        }
        if (q.goexit) {
            into_goexit = true;
            s.resume = ResumePoint{q.frame, ResumeVia::GoexitLoop};
            break;
        }
    }
    gs.panics.erase(gs.panics.begin(), gs.panics.begin() + static_cast<std::ptrdiff_t>(n));
    if (into_goexit) {
        PanicRecord &g = gs.panics.front();
        g.in_call = false; // its deferred call's frames are unwound; the loop calls nextDefer again
        g.pending.reset();
    }
    discard_frames_deeper_than(gs, s.resume.frame);
    gs.last_resume = s.resume;
    return s;
}

} // namespace deftrace::model
