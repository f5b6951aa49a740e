#include "model/era_a.h"

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

// The record p is running: gopanic asserts gp._defer == d after the call, so it is the front.
DeferRecord *running_record(GoroutineState &gs, const PanicRecord &p) {
    if (!gs.defers.empty() && p.current && gs.defers.front().frame == *p.current) {
        return &gs.defers.front();
    }
    return nullptr;
}

// One iteration of runOpenDeferFrame's loop: clear the next bit and call its slot.
std::optional<RunnerStep> next_open_bit(GoroutineState &gs, const PanicRecord &p) {
    auto it = gs.open.find(p.current.value_or(kUnknownDepth));
    if (it == gs.open.end() || it->second.bits == 0) {
        return std::nullopt;
    }
    int i = it->second.top_bit();
    it->second.bits &= static_cast<uint8_t>(~(1u << i)); // stored back before deferCallSave
    return call_step(it->second.slots[i], it->first, DeferKind::OpenCoded, p.goexit);
}

uint8_t open_bits(const GoroutineState &gs, FrameDepth frame) {
    auto it = gs.open.find(frame);
    return it == gs.open.end() ? 0 : it->second.bits;
}

FrameDepth bound_of(const PanicRecord &p) {
    return p.frame != kUnknownDepth ? p.frame : std::numeric_limits<FrameDepth>::max();
}

} // namespace

void add_one_open_defer_frame(GoroutineState &gs, FrameDepth bound, FrameDepth skip, bool stop_at_started) {
    // Frames are visited innermost first, i.e. by decreasing depth.
    for (auto it = gs.open.rbegin(); it != gs.open.rend(); ++it) {
        FrameDepth f = it->first;
        if (f > bound || f == skip) {
            continue;
        }
        size_t pos = 0;
        bool next_frame = false;
        for (; pos < gs.defers.size(); ++pos) {
            const DeferRecord &d = gs.defers[pos];
            if (f > d.frame) { // frame.sp < d.sp
                break;
            }
            if (f == d.frame) {
                if (stop_at_started && d.kind == DeferKind::OpenFrame && d.started) {
                    return; // break frames: never add past an in-progress open record
                }
                next_frame = true; // already recorded (or, for a linked record, "duplicated defer entry")
                break;
            }
        }
        if (next_frame) {
            continue;
        }
        DeferRecord d1;
        d1.kind = DeferKind::OpenFrame;
        d1.frame = f;
        gs.defers.insert(gs.defers.begin() + static_cast<std::ptrdiff_t>(pos), d1);
        return;
    }
}

namespace {

// Back in runOpenDeferFrame after deferCallSave returned: the next bit's call, or nullopt when
// the frame is finished (`done`: runOpenDeferFrame's result).
std::optional<RunnerStep> resume_open_frame(const GoRelease &t, GoroutineState &gs, PanicRecord &p, bool &done) {
    const bool stops = t.open_scan_stops_at_started;
    DeferRecord *d = running_record(gs, p);
    if (p.aborted) {
        done = true; // `if p != nil && p.aborted { break }`: done stays true
    } else if (d && d->panic == p.id && p.recovered) {
        done = open_bits(gs, *p.current) == 0;
    } else if (auto step = next_open_bit(gs, p)) {
        return step;
    }
    // runOpenDeferFrame returned `done`.
    if (p.goexit) {
        if (p.aborted) { // rescan from Goexit's caller
            add_one_open_defer_frame(gs, bound_of(p), kUnknownDepth, stops);
        } else {
            add_one_open_defer_frame(gs, p.current.value_or(bound_of(p)), p.current.value_or(kUnknownDepth), stops);
        }
    } else if (done && !p.recovered) {
        add_one_open_defer_frame(gs, p.current.value_or(bound_of(p)), p.current.value_or(kUnknownDepth), stops);
    }
    return std::nullopt;
}

// gopanic after a recovering call: where execution resumes, with the chains as recovery leaves
// them.
RunnerStep recover_step(const GoRelease &t, GoroutineState &gs, PanicRecord &p, bool done, FrameDepth dframe,
                        bool open) {
    RunnerStep s;
    s.kind = RunnerStep::Kind::Recover;
    s.resume = ResumePoint{dframe, open ? ResumeVia::Deferreturn : ResumeVia::AfterDeferproc};
    PanicId self = p.id;
    std::erase_if(gs.panics, [&](const PanicRecord &q) { return q.id == self; }); // gp._panic = p.link
    if (!gs.panics.empty() && gs.panics.front().goexit && gs.panics.front().aborted) {
        // Back into Goexit's deferCallSave (sigcode = Goexit's p.sp/p.pc), no purge.
        PanicRecord &g = gs.panics.front();
        g.in_call = false;
        g.pending.reset();
        s.resume = ResumePoint{g.frame, ResumeVia::GoexitLoop};
        discard_frames_deeper_than(gs, g.frame);
        gs.last_resume = s.resume;
        return s;
    }
    // Purge not-started open records: those frames run their bits inline on return.
    if (t.purge_only_when_done) {
        // ≤1.15: only when done, from the head, up to a started open record.
        for (size_t i = 0; done && i < gs.defers.size();) {
            if (gs.defers[i].kind != DeferKind::OpenFrame) {
                ++i;
            } else if (gs.defers[i].started) {
                break;
            } else {
                gs.defers.erase(gs.defers.begin() + static_cast<std::ptrdiff_t>(i));
            }
        }
    } else {
        size_t i = done ? 0 : 1;
        while (i < gs.defers.size() && !gs.defers[i].started) {
            if (gs.defers[i].kind == DeferKind::OpenFrame) {
                gs.defers.erase(gs.defers.begin() + static_cast<std::ptrdiff_t>(i));
            } else {
                ++i;
            }
        }
    }
    while (!gs.panics.empty() && gs.panics.front().aborted) {
        gs.panics.erase(gs.panics.begin());
    }
    discard_frames_deeper_than(gs, dframe);
    gs.last_resume = s.resume;
    return s;
}

// gopanic / Goexit once a deferred call (or runOpenDeferFrame) returned: the record is done
// with, and a recovery resumes; nullopt when the loop goes on.
std::optional<RunnerStep> after_deferred_call(const GoRelease &t, GoroutineState &gs, PanicRecord &p, bool &done) {
    p.astate = PanicRecord::AState::Idle;
    if (p.goexit && p.aborted) {
        p.aborted = false; // Goexit: a recover further down bypassed us; d is already gone
        return std::nullopt;
    }
    DeferRecord *d = running_record(gs, p);
    FrameDepth dframe = p.current.value_or(kUnknownDepth);
    bool open = d && d->kind == DeferKind::OpenFrame;
    if (d) {
        d->panic.reset();
        if (done) {
            gs.defers.erase(gs.defers.begin());
        }
    }
    if (p.recovered && !p.goexit) {
        return recover_step(t, gs, p, done, dframe, open);
    }
    done = true;
    return std::nullopt;
}

// The loop top of gopanic / Goexit: the next record's call, or the end of the chain; nullopt
// when the loop goes on (`have_tail`: an open record without bits returned at once).
std::optional<RunnerStep> run_next_record(const GoRelease &t, GoroutineState &gs, PanicRecord &p, bool &have_tail) {
    if (gs.defers.empty()) {
        RunnerStep s;
        s.kind = RunnerStep::Kind::Exhausted;
        return s;
    }
    DeferRecord &d = gs.defers.front();
    if (d.started) {
        if (d.panic) {
            if (PanicRecord *old = gs.find_panic(*d.panic)) {
                old->aborted = true;
            }
        }
        d.panic.reset();
        if (d.kind != DeferKind::OpenFrame) {
            gs.defers.erase(gs.defers.begin());
            return std::nullopt;
        }
        // An open record: run whatever bits remain with this panic.
    }
    d.started = true;
    d.panic = p.id;
    p.current = d.frame;
    if (d.kind == DeferKind::OpenFrame) {
        p.astate = PanicRecord::AState::InOpenFrame;
        if (auto step = next_open_bit(gs, p)) {
            return step;
        }
        // No bits: runOpenDeferFrame returns done = true at once.
        if (p.goexit || !p.recovered) {
            add_one_open_defer_frame(gs, d.frame, d.frame, t.open_scan_stops_at_started);
        }
        have_tail = true;
        return std::nullopt;
    }
    p.astate = PanicRecord::AState::InLinkedCall;
    return call_step(d.callee, d.frame, d.kind, p.goexit);
}

} // namespace

// gopanic / Goexit entry: addOneOpenDeferFrame(gp, getcallerpc(), getcallersp()).
void EraA::start(GoroutineState &gs, PanicRecord &p) const {
    add_one_open_defer_frame(gs, bound_of(p), kUnknownDepth, traits_.open_scan_stops_at_started);
    p.astate = PanicRecord::AState::Idle;
}

RunnerStep EraA::advance(GoroutineState &gs, PanicRecord &p) const {
    using AState = PanicRecord::AState;
    bool done = true;       // what runOpenDeferFrame returned (a linked record is always done)
    bool have_tail = false; // a deferred call returned: gopanic's code after the call runs first
    if (p.astate == AState::InOpenFrame) {
        if (auto step = resume_open_frame(traits_, gs, p, done)) {
            return *step;
        }
        have_tail = true;
    } else if (p.astate == AState::InLinkedCall) {
        have_tail = true;
    }
    for (;;) {
        if (have_tail) {
            have_tail = false;
            if (auto step = after_deferred_call(traits_, gs, p, done)) {
                return *step;
            }
        }
        if (auto step = run_next_record(traits_, gs, p, have_tail)) {
            return *step;
        }
    }
}

} // namespace deftrace::model
