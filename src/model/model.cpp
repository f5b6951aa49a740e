#include "model/model.h"

#include "model/chain_ops.h"

#include <algorithm>
#include <cstdio>

namespace deftrace::model {

namespace {

std::string hex(uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}

bool same_fn(CodeAddr expected, CodeAddr observed) {
    return expected == 0 || observed == 0 || expected == observed;
}
bool same_frame(FrameDepth a, FrameDepth b) {
    return a == kUnknownDepth || b == kUnknownDepth || a == b;
}

std::string observed_call(const DeferredCallStarted &o) {
    return std::string("call ") + hex(o.fn) + " (frame " + std::to_string(o.frame) + ", cause " + to_string(o.cause) +
           ")";
}

// Linked records are compared by kind class: deferprocat records become plain heap records.
bool linked(const DeferKind k) {
    return k != DeferKind::OpenFrame;
}

std::string render_bits(FrameDepth frame, uint8_t bits) {
    char buf[48];
    std::snprintf(buf, sizeof buf, " %llu:%#04x", static_cast<unsigned long long>(frame), bits);
    return buf;
}

// The model's chains; its open-coded frames only when the snapshot has some to compare with.
std::string render(const GoroutineState &gs, bool with_open) {
    const auto &defers = gs.defers;
    const auto &panics = gs.panics;
    std::string s = "defers [";
    for (const auto &d : defers) {
        s += std::string(" ") + to_string(d.kind) + "@" + std::to_string(d.frame) + (d.started ? "*" : "");
        if (d.callee.fn) {
            s += ":" + hex(d.callee.fn);
        }
        if (d.kind == DeferKind::RangefuncHead) {
            s += "{" + std::to_string(d.at_list.size()) + "}";
        }
    }
    s += " ] panics [";
    for (const auto &p : panics) {
        s += std::string(" ") + (p.goexit ? "goexit" : "panic") + (p.recovered ? "+recovered" : "") +
             (p.aborted ? "+aborted" : "") + (p.repanicked ? "+repanicked" : "");
    }
    s += " ]";
    if (with_open) {
        s += " open-coded frames [";
        for (const auto &[frame, f] : gs.open) {
            if (f.bits != 0) {
                s += render_bits(frame, f.bits);
            }
        }
        s += " ]";
    }
    return s;
}

std::string render(const ChainSnapshot &c) {
    std::string s = "defers [";
    for (const auto &d : c.defers) {
        s += std::string(" ") + to_string(d.kind) + "@" + std::to_string(d.frame) + (d.started ? "*" : "");
        if (d.fn) {
            s += ":" + hex(d.fn);
        }
        if (d.kind == DeferKind::RangefuncHead) {
            s += "{" + std::to_string(d.at_list.size()) + "}";
        }
    }
    s += " ] panics [";
    for (const auto &p : c.panics) {
        s += std::string(" ") + (p.goexit ? "goexit" : "panic") + (p.recovered ? "+recovered" : "") +
             (p.aborted ? "+aborted" : "") + (p.repanicked ? "+repanicked" : "");
    }
    s += " ]";
    if (c.open_frames) {
        s += " open-coded frames [";
        for (const auto &f : *c.open_frames) {
            if (f.bits != 0) {
                s += render_bits(f.frame, f.bits);
            }
        }
        s += " ]";
    }
    return s;
}

// Linked records must agree exactly, in order.
bool linked_records_match(const GoroutineState &gs, const ChainSnapshot &o, bool era_a) {
    std::vector<const DeferRecord *> mine;
    for (const auto &d : gs.defers) {
        if (linked(d.kind)) {
            mine.push_back(&d);
        }
    }
    std::vector<const SnapshotDefer *> theirs;
    for (const auto &d : o.defers) {
        if (linked(d.kind)) {
            theirs.push_back(&d);
        }
    }
    if (mine.size() != theirs.size()) {
        return false;
    }
    bool match = true;
    for (size_t i = 0; i < mine.size(); ++i) {
        const DeferRecord &a = *mine[i];
        const SnapshotDefer &b = *theirs[i];
        bool kind_ok = a.kind == b.kind || (a.kind == DeferKind::RangefuncAt && b.kind == DeferKind::Heap);
        if (!kind_ok || a.frame != b.frame || !same_fn(a.callee.fn, b.fn) || (era_a && a.started != b.started)) {
            match = false;
        }
        if (a.kind == DeferKind::RangefuncHead) {
            match = match && a.at_list.size() == b.at_list.size();
            for (size_t k = 0; match && k < a.at_list.size(); ++k) {
                match = same_fn(a.at_list[k].callee.fn, b.at_list[k]);
            }
        }
    }
    return match;
}

// ≤1.21 open records: the runtime also records frames the model cannot know about (any function
// with open-coded funcdata, e.g. runtime.main), so only the model's own must be present.
bool open_records_present(const GoroutineState &gs, const ChainSnapshot &o) {
    for (const auto &d : gs.defers) {
        if (d.kind != DeferKind::OpenFrame) {
            continue;
        }
        auto it = std::find_if(o.defers.begin(), o.defers.end(), [&](const SnapshotDefer &s) {
            return s.kind == DeferKind::OpenFrame && s.frame == d.frame;
        });
        if (it == o.defers.end() || it->started != d.started) {
            return false;
        }
    }
    return true;
}

bool panics_match(const GoroutineState &gs, const ChainSnapshot &o, bool era_a, const GoRelease &t) {
    if (gs.panics.size() != o.panics.size()) {
        return false;
    }
    for (size_t i = 0; i < gs.panics.size(); ++i) {
        const PanicRecord &a = gs.panics[i];
        const SnapshotPanic &b = o.panics[i];
        if (a.recovered != b.recovered || a.goexit != b.goexit || (t.panic_has_aborted && a.aborted != b.aborted) ||
            (t.panic_has_repanicked && a.repanicked != b.repanicked) ||
            (!era_a && a.current && !same_frame(*a.current, b.current_frame))) {
            return false;
        }
    }
    return true;
}

bool open_bits_match(const GoroutineState &gs, const std::vector<SnapshotOpenFrame> &frames) {
    for (const auto &f : frames) {
        auto it = gs.open.find(f.frame);
        uint8_t mine_bits = it == gs.open.end() ? 0 : it->second.bits;
        if (mine_bits != f.bits) {
            return false;
        }
    }
    return true;
}

// Whether the model's chains agree with the snapshot read from memory.
bool snapshot_matches(const GoroutineState &gs, const ChainSnapshot &o, bool era_a, const GoRelease &t) {
    return linked_records_match(gs, o, era_a) && (!era_a || open_records_present(gs, o)) &&
           panics_match(gs, o, era_a, t) && (!o.open_frames || open_bits_match(gs, *o.open_frames));
}

// The snapshot's records, each keeping what the model knew of it beyond the snapshot (names,
// deferprocat lists).
void adopt_defers(GoroutineState &gs, const ChainSnapshot &o) {
    std::vector<DeferRecord> defers;
    for (const auto &s : o.defers) {
        auto it = std::find_if(gs.defers.begin(), gs.defers.end(), [&](const DeferRecord &d) {
            return d.frame == s.frame && (d.kind == s.kind || linked(d.kind) == linked(s.kind)) &&
                   same_fn(d.callee.fn, s.fn);
        });
        DeferRecord r;
        if (it != gs.defers.end()) {
            r = *it;
            gs.defers.erase(it);
        } else {
            r.callee.fn = s.fn;
        }
        if (r.at_list.size() != s.at_list.size()) {
            r.at_list.clear();
            for (CodeAddr fn : s.at_list) {
                DeferRecord a;
                a.kind = DeferKind::RangefuncAt;
                a.callee.fn = fn;
                r.at_list.push_back(std::move(a));
            }
        }
        r.kind = s.kind;
        r.frame = s.frame;
        r.started = s.started;
        defers.push_back(std::move(r));
    }
    gs.defers = std::move(defers);
}

// The snapshot's panics, matched with the model's from the oldest end; a panic the model did not
// see start gets the next id.
void adopt_panics(GoroutineState &gs, const ChainSnapshot &o, PanicId &next_panic) {
    std::vector<PanicRecord> panics(o.panics.size());
    for (size_t k = 0; k < o.panics.size(); ++k) { // align from the oldest end
        size_t si = o.panics.size() - 1 - k;
        PanicRecord r;
        if (k < gs.panics.size()) {
            r = gs.panics[gs.panics.size() - 1 - k];
        } else {
            r.id = next_panic++;
            r.in_call = true; // a runner we did not see start is somewhere inside a deferred call
        }
        const SnapshotPanic &s = o.panics[si];
        r.recovered = s.recovered;
        r.aborted = s.aborted;
        r.goexit = s.goexit;
        r.repanicked = s.repanicked;
        if (s.current_frame != kUnknownDepth && (!r.current || *r.current != s.current_frame)) {
            r.current = s.current_frame;
            r.walk_from = s.current_frame - 1;
            r.open_active = gs.open.count(s.current_frame) != 0;
        }
        panics[si] = std::move(r);
    }
    gs.panics = std::move(panics);
}

void adopt_open_frames(GoroutineState &gs, const std::vector<SnapshotOpenFrame> &frames) {
    std::map<FrameDepth, OpenFrame> open;
    for (const auto &s : frames) {
        OpenFrame f;
        auto it = gs.open.find(s.frame);
        if (it != gs.open.end()) {
            f = it->second;
        }
        f.frame = s.frame;
        f.bits = s.bits;
        for (size_t i = 0; i < s.slots.size() && i < 8; ++i) {
            if (s.slots[i] != 0 && s.slots[i] != f.slots[i].fn) {
                f.slots[i] = Callee{s.slots[i], {}, {}};
            }
        }
        open[s.frame] = f;
    }
    gs.open = std::move(open);
}

} // namespace

Model::Model(const GoRelease &traits, bool sees_every_defer)
    : gen_(make_generation(traits)), sees_every_defer_(sees_every_defer) {}

GoroutineState &Model::state(Goid goid) {
    auto [it, inserted] = goroutines_.try_emplace(goid);
    if (inserted) {
        it->second.goid = goid;
    }
    return it->second;
}

const GoroutineState *Model::goroutine(Goid goid) const {
    auto it = goroutines_.find(goid);
    return it == goroutines_.end() ? nullptr : &it->second;
}

std::optional<Divergence> Model::diverge(GoroutineState &gs, std::string rule, std::string expected,
                                         std::string observed) {
    if (gs.desynchronised) {
        return std::nullopt; // already reported; wait for a snapshot instead of cascading
    }
    gs.desynchronised = true;
    Divergence d{gs.goid, observations_, std::move(rule), std::move(expected), std::move(observed)};
    divergences_.push_back(d);
    return d;
}

std::optional<Divergence> Model::observe(const Observation &o) {
    ++observations_;
    const size_t before = divergences_.size();
    auto d = std::visit([this](const auto &x) { return on(x); }, o);
    if (!d && divergences_.size() > before) {
        d = divergences_[before]; // found on the way (live_frame)
    }
    return d;
}

// `frame` is executing (it registers a defer, returns, calls gopanic, or is the panicking frame a
// runner returns to): the stack below its SP is dead. A frame that returned has run every deferred
// call it had — deferreturn and the inline exits see to that — so a linked record or a set bit
// left deeper means a deferred call was not observed. Records without pending calls may remain:
// ≤1.21 deferreturn keeps an open record linked while its last call runs (runOpenDeferFrame), and
// a snapshot taken meanwhile shows it. When not every defer is observed, what a snapshot showed
// deeper may have run on a return the model did not see (a frame that returned while a deferred
// call of a panic ran, after a nested panic was recovered): it is dropped without a word.
void Model::live_frame(GoroutineState &gs, FrameDepth frame) {
    if (frame == kUnknownDepth) {
        return;
    }
    if (!sees_every_defer_) {
        discard_frames_deeper_than(gs, frame);
        return;
    }
    std::string left;
    for (const auto &d : gs.defers) {
        if (d.frame != kUnknownDepth && d.frame > frame && d.kind != DeferKind::OpenFrame) {
            left += std::string(" ") + to_string(d.kind) + "@" + std::to_string(d.frame);
            if (d.callee.fn) {
                left += ":" + hex(d.callee.fn);
            }
        }
    }
    for (auto it = gs.open.upper_bound(frame); it != gs.open.end(); ++it) {
        if (it->second.bits != 0) {
            left += render_bits(it->first, it->second.bits);
        }
    }
    discard_frames_deeper_than(gs, frame);
    if (!left.empty()) {
        diverge(gs, "frames return only after their deferred calls ran",
                "nothing pending below frame " + std::to_string(frame), "still pending:" + left);
    }
}

RunnerStep Model::next_step(GoroutineState &gs, PanicRecord &p) {
    if (p.pending) {
        RunnerStep s = *p.pending;
        p.pending.reset();
        return s;
    }
    if (p.in_call) {
        // The previous deferred call has returned to the runner: every frame deeper than the
        // panicking frame is gone.
        live_frame(gs, p.frame);
    }
    p.in_call = false;
    return gen_->advance(gs, p);
}

std::optional<RunnerStep> Model::expect_next(Goid goid) {
    GoroutineState &gs = state(goid);
    PanicRecord *p = gs.top_panic();
    if (!p || p->in_call) {
        return std::nullopt;
    }
    if (!p->pending) {
        RunnerStep s = gen_->advance(gs, *p);
        if (s.kind == RunnerStep::Kind::Recover) {
            return s; // p is gone; the resume point is in gs.last_resume
        }
        p->pending = s;
    }
    return p->pending;
}

UnwindPrediction Model::predict_unwind(Goid goid) const {
    UnwindPrediction out;
    const GoroutineState *orig = goroutine(goid);
    if (!orig || orig->panics.empty()) {
        return out;
    }
    GoroutineState gs = *orig;
    for (int guard = 0; guard < 100000; ++guard) {
        PanicRecord *p = gs.top_panic();
        if (!p) {
            break;
        }
        RunnerStep s;
        if (p->pending) {
            s = *p->pending;
            p->pending.reset();
        } else {
            p->in_call = false;
            s = gen_->advance(gs, *p);
        }
        if (s.kind == RunnerStep::Kind::Call) {
            out.calls.push_back(s.call);
            continue;
        }
        if (s.kind == RunnerStep::Kind::Recover) {
            out.resume = s.resume;
        } else if (gs.top_panic() && gs.top_panic()->goexit) {
            out.goexit_done = true;
        } else {
            out.fatal = true;
        }
        break;
    }
    return out;
}

RecoverVerdict Model::judge_recover(const RecoverCalled &call) const {
    static const GoroutineState empty;
    const GoroutineState *gs = goroutine(call.goid);
    return model::judge_recover(traits(), gs ? *gs : empty, call);
}

std::vector<PredictedCall> Model::pending_defers(Goid goid) const {
    std::vector<PredictedCall> out;
    const GoroutineState *gs = goroutine(goid);
    if (!gs) {
        return out;
    }
    for (const auto &d : gs->defers) {
        if (d.kind == DeferKind::RangefuncHead) {
            for (const auto &a : d.at_list) {
                out.push_back(PredictedCall{a.callee, d.frame, DeferKind::RangefuncAt, CallCause::Return});
            }
        } else if (d.kind != DeferKind::OpenFrame) {
            out.push_back(PredictedCall{d.callee, d.frame, d.kind, CallCause::Return});
        }
    }
    for (const auto &[frame, f] : gs->open) {
        for (int i = 7; i >= 0; --i) {
            if (f.bits & (1u << i)) {
                out.push_back(PredictedCall{f.slots[i], frame, DeferKind::OpenCoded, CallCause::Return});
            }
        }
    }
    // Innermost frame first, the order a return path would run them.
    std::stable_sort(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.frame > b.frame; });
    return out;
}

// deferproc / deferprocStack / deferrangefunc push a record; deferprocat pushes onto the head's
// list; an open-coded defer sets its bit and fills its slot.
std::optional<Divergence> Model::on(const DeferRegistered &o) {
    GoroutineState &gs = state(o.goid);
    if (o.kind != DeferKind::RangefuncAt) { // deferprocat's frame is the loop's, not the body's
        live_frame(gs, o.frame);
    }
    switch (o.kind) {
    case DeferKind::OpenCoded: {
        if (o.bit < 0 || o.bit > 7) {
            return diverge(gs, "open-coded defer bit", "bit 0..7", std::to_string(o.bit));
        }
        OpenFrame &f = gs.open[o.frame];
        f.frame = o.frame;
        f.bits |= static_cast<uint8_t>(1u << o.bit);
        f.slots[static_cast<size_t>(o.bit)] = o.callee;
        return std::nullopt;
    }
    case DeferKind::RangefuncAt: {
        for (auto &d : gs.defers) {
            if (d.kind == DeferKind::RangefuncHead && (o.frame == kUnknownDepth || d.frame == o.frame)) {
                DeferRecord r;
                r.kind = DeferKind::RangefuncAt;
                r.frame = kUnknownDepth; // d1.sp stays 0 until deferconvert
                r.callee = o.callee;
                d.at_list.insert(d.at_list.begin(), r);
                return std::nullopt;
            }
        }
        return diverge(gs, "deferprocat",
                       "a rangefunc head record (deferrangefunc) for frame " + std::to_string(o.frame),
                       "none on g._defer");
    }
    case DeferKind::OpenFrame: return diverge(gs, "defer registration", "a defer statement kind", "open-frame record");
    default: {
        DeferRecord r;
        r.kind = o.kind;
        r.frame = o.frame;
        r.callee = o.callee;
        gs.defers.insert(gs.defers.begin(), std::move(r));
        return std::nullopt;
    }
    }
}

// A normal return runs its frame's defers: open-coded exits (highest bit first) or deferreturn
// (linked records of this frame, newest first; rangefunc heads converted on the way).
std::optional<Divergence> Model::on_return_call(GoroutineState &gs, const DeferredCallStarted &o) {
    live_frame(gs, o.frame); // the returning frame is the innermost live one
    FrameDepth x = o.frame;
    if (x == kUnknownDepth) { // the innermost frame with anything pending
        if (!gs.defers.empty()) {
            x = gs.defers.front().frame;
        }
        for (const auto &[frame, f] : gs.open) {
            if (f.bits != 0 && frame > x) {
                x = frame;
            }
        }
    }
    std::optional<Callee> expected;
    DeferKind kind = DeferKind::OpenCoded;
    auto it = gs.open.find(x);
    if (it != gs.open.end() && it->second.bits != 0) {
        int i = it->second.top_bit();
        it->second.bits &= static_cast<uint8_t>(~(1u << i));
        expected = it->second.slots[static_cast<size_t>(i)];
        if (it->second.bits == 0) {
            gs.open.erase(it); // the frame is returning; ≤1.21 deferreturn also pops its kept open record
            std::erase_if(gs.defers,
                          [&](const DeferRecord &d) { return d.kind == DeferKind::OpenFrame && d.frame == x; });
        }
    } else {
        while (!gs.defers.empty() && gs.defers.front().frame == x &&
               gs.defers.front().kind == DeferKind::RangefuncHead) {
            deferconvert(gs);
        }
        if (!gs.defers.empty() && gs.defers.front().frame == x && gs.defers.front().kind != DeferKind::OpenFrame) {
            expected = gs.defers.front().callee;
            kind = gs.defers.front().kind;
            gs.defers.erase(gs.defers.begin());
        }
    }
    if (!expected) {
        return diverge(gs, "deferreturn / open-coded exit", "no deferred call pending in frame " + std::to_string(x),
                       observed_call(o));
    }
    if (!same_fn(expected->fn, o.fn)) {
        PredictedCall pc{*expected, x, kind, CallCause::Return};
        return diverge(gs, "defer order (LIFO per frame)", describe(pc), observed_call(o));
    }
    return std::nullopt;
}

std::optional<Divergence> Model::on(const DeferredCallStarted &o) {
    GoroutineState &gs = state(o.goid);
    if (o.cause == CallCause::Return) {
        return on_return_call(gs, o);
    }
    PanicRecord *p = gs.top_panic();
    if (!p) {
        return diverge(gs, "deferred call cause", "no panic or Goexit in progress", observed_call(o));
    }
    bool goexit = p->goexit;
    RunnerStep s = next_step(gs, *p);
    if (s.kind != RunnerStep::Kind::Call) {
        return diverge(gs, std::string("era ") + (traits().era == Era::A ? "A gopanic loop" : "B nextDefer"),
                       describe(s), observed_call(o));
    }
    p = gs.top_panic(); // advance may have reshuffled the chain (≤1.21 aborted panics stay linked)
    if (p) {
        p->in_call = true;
    }
    if (goexit != (o.cause == CallCause::Goexit)) {
        return diverge(gs, "deferred call cause", goexit ? "goexit" : "panic", to_string(o.cause));
    }
    if (!same_fn(s.call.callee.fn, o.fn) || !same_frame(s.call.frame, o.frame)) {
        return diverge(gs, std::string("era ") + (traits().era == Era::A ? "A gopanic loop" : "B nextDefer") + " order",
                       describe(s.call), observed_call(o));
    }
    return std::nullopt;
}

std::optional<Divergence> Model::on(const PanicStarted &o) {
    GoroutineState &gs = state(o.goid);
    live_frame(gs, o.frame); // gopanic's caller is the innermost live frame
    PanicRecord p;
    p.id = next_panic_++;
    p.value = o.value;
    p.goexit = o.goexit;
    p.frame = o.frame;
    gs.panics.insert(gs.panics.begin(), std::move(p));
    gen_->start(gs, gs.panics.front());
    // gopanic goes straight on to its first deferred call; predict it now.
    RunnerStep s = gen_->advance(gs, gs.panics.front());
    gs.panics.front().pending = s;
    return std::nullopt;
}

std::optional<Divergence> Model::on(const RecoverCalled &o) {
    GoroutineState &gs = state(o.goid);
    RecoverVerdict v = model::judge_recover(traits(), gs, o);
    bool recovered = o.recovered.value_or(v.recovered);
    if (recovered) {
        if (PanicRecord *p = gs.top_panic()) {
            p->recovered = true;
        }
    }
    if (o.recovered && *o.recovered != v.recovered) {
        return diverge(gs, v.rule, v.recovered ? "recovered" : std::string("nil (") + to_string(v.reason) + ")",
                       *o.recovered ? "recovered" : "nil");
    }
    return std::nullopt;
}

std::optional<Divergence> Model::on(const Resumed &o) {
    GoroutineState &gs = state(o.goid);
    std::string observed = "resume in frame " + std::to_string(o.frame) + (o.in_goexit ? " (Goexit loop)" : "");
    PanicRecord *p = gs.top_panic();
    if (!p) {
        return diverge(gs, "recovery", "no panic in progress", observed);
    }
    if (!p->recovered) {
        return diverge(gs, "recovery", "the newest panic is not recovered", observed);
    }
    RunnerStep s = next_step(gs, *p);
    if (s.kind != RunnerStep::Kind::Recover) {
        return diverge(gs, "recovery", describe(s), observed);
    }
    bool goexit_loop = s.resume.via == ResumeVia::GoexitLoop;
    if (goexit_loop != o.in_goexit || (!goexit_loop && !same_frame(s.resume.frame, o.frame))) {
        return diverge(gs, traits().era == Era::A ? "recovery (gopanic: d.sp/d.pc)" : "recovery (p.sp, startSP pops)",
                       describe(s), observed);
    }
    return std::nullopt;
}

std::optional<Divergence> Model::on(const GoroutineEnded &o) {
    GoroutineState &gs = state(o.goid);
    std::optional<Divergence> div;
    PanicRecord *p = gs.top_panic();
    switch (o.kind) {
    case EndKind::FatalPanic:
    case EndKind::GoexitDone: {
        bool want_goexit = o.kind == EndKind::GoexitDone;
        if (!p || p->goexit != want_goexit) {
            div = diverge(gs, "end of goroutine", want_goexit ? "no Goexit in progress" : "no panic in progress",
                          to_string(o.kind));
            break;
        }
        RunnerStep s = next_step(gs, *p);
        if (s.kind != RunnerStep::Kind::Exhausted) {
            div = diverge(gs, want_goexit ? "Goexit loop" : "gopanic loop", describe(s), to_string(o.kind));
            break;
        }
        if (!want_goexit && traits().panic_has_repanicked) {
            // preprintpanics (1.25+): an older panic whose value the next newer one re-raised.
            for (size_t i = 0; i + 1 < gs.panics.size(); ++i) {
                if (gs.panics[i + 1].value == gs.panics[i].value) {
                    gs.panics[i + 1].repanicked = true;
                }
            }
        }
        break;
    }
    case EndKind::Returned:
        if (!gs.panics.empty()) {
            div = diverge(gs, "end of goroutine", "a panic still in progress", to_string(o.kind));
        }
        break;
    case EndKind::ProgramExit: break; // os.Exit skips every pending defer; pending_defers() lists them
    }
    gs.ended = true;
    return div;
}

std::optional<Divergence> Model::on(const ChainSnapshot &o) {
    GoroutineState &gs = state(o.goid);
    std::optional<Divergence> div;
    if (!snapshot_matches(gs, o, gen_->has_open_records(), traits()) && o.compare) {
        div = diverge(gs, "chain snapshot", render(gs, o.open_frames.has_value()), render(o));
    }
    // Adopt the snapshot (resynchronise), keeping what the model knows beyond it (names, lists).
    adopt_defers(gs, o);
    adopt_panics(gs, o, next_panic_);
    if (o.open_frames) {
        adopt_open_frames(gs, *o.open_frames);
    }
    gs.desynchronised = false;
    return div;
}

} // namespace deftrace::model
