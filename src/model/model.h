// The defer/panic/recover model of one traced process: per goroutine state, driven by the tracer's
// observations, checked against the selected runtime generation's predictions.
//
// Usage: Model m(*go_release(1, 22)); for each stop: if (auto d = m.observe(obs)) report(*d);
// Predictions (expect_next, predict_unwind, judge_recover, pending_defers) can be asked at any time.
#pragma once

#include "model/divergence.h"
#include "model/goroutine_state.h"
#include "model/observation.h"
#include "model/recover_rule.h"
#include "model/runtime_generation.h"

#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace deftrace::model {

// What an unrecovered unwinding from the current state would do: the deferred calls in order
// (assuming none of them recovers or panics) and how it ends.
struct UnwindPrediction {
    std::vector<PredictedCall> calls;
    std::optional<ResumePoint> resume; // set if the newest panic is already recovered
    bool fatal = false;                // fatalpanic (a panic ran out of defers)
    bool goexit_done = false;          // goexit1 (a Goexit ran out of defers)
};

class Model {
public:
    // `sees_every_defer`: every registration and every return-path deferred call is observed
    // (the whole program probed). Otherwise what the model knows of pending defers comes from
    // chain snapshots, and frames may return, running their deferred calls, unobserved.
    explicit Model(const GoRelease &traits, bool sees_every_defer = true);

    // Checks one observation against the prediction and advances the model. Returns the divergence
    // it produced, if any. While a goroutine is desynchronised (after a divergence) its observations
    // are applied leniently and not checked, until a ChainSnapshot resynchronises it.
    std::optional<Divergence> observe(const Observation &o);
    // Drops the state of a goroutine that has ended (goexit1): goroutine ids are never reused
    // (runtime.newproc1 takes them from a global counter), so nothing will refer to it again.
    void forget(Goid goid) { goroutines_.erase(goid); }
    // A goroutine whose state the model cannot know (deftrace attached while it was panicking, or
    // its stack could not be walked whole): its observations are applied leniently, as after a
    // divergence but without one, until a ChainSnapshot (its next panic, Goexit or end) gives
    // the model its state.
    void state_unknown(Goid goid) { state(goid).desynchronised = true; }

    // The next deferred call (or recovery / end) the newest panic's runner will make. Computes and
    // remembers it; nullopt if no panic is in progress or its current deferred call has not returned.
    std::optional<RunnerStep> expect_next(Goid goid);
    // Simulates the rest of the newest panic/Goexit on a copy, assuming no further recover/panic.
    [[nodiscard]] UnwindPrediction predict_unwind(Goid goid) const;
    [[nodiscard]] RecoverVerdict judge_recover(const RecoverCalled &call) const;
    // Deferred calls still registered (linked records newest first, then open-coded bits).
    [[nodiscard]] std::vector<PredictedCall> pending_defers(Goid goid) const;

    [[nodiscard]] const GoroutineState *goroutine(Goid goid) const;
    [[nodiscard]] const GoRelease &traits() const { return gen_->traits(); }
    [[nodiscard]] uint64_t observation_count() const { return observations_; }
    [[nodiscard]] uint64_t divergence_count() const { return divergences_.size(); }
    [[nodiscard]] const std::vector<Divergence> &divergences() const { return divergences_; }

private:
    GoroutineState &state(Goid goid);
    std::optional<Divergence> diverge(GoroutineState &gs, std::string rule, std::string expected, std::string observed);

    std::optional<Divergence> on(const DeferRegistered &o);
    std::optional<Divergence> on(const DeferredCallStarted &o);
    std::optional<Divergence> on(const PanicStarted &o);
    std::optional<Divergence> on(const RecoverCalled &o);
    std::optional<Divergence> on(const Resumed &o);
    std::optional<Divergence> on(const ChainSnapshot &o);
    std::optional<Divergence> on(const GoroutineEnded &o);

    std::optional<Divergence> on_return_call(GoroutineState &gs, const DeferredCallStarted &o);
    void live_frame(GoroutineState &gs, FrameDepth frame);
    RunnerStep next_step(GoroutineState &gs, PanicRecord &p);

    std::unique_ptr<RuntimeGeneration> gen_;
    std::map<Goid, GoroutineState> goroutines_;
    std::vector<Divergence> divergences_;
    uint64_t observations_ = 0;
    PanicId next_panic_ = 1;
    bool sees_every_defer_ = true;
};

std::string describe(const PredictedCall &c);
std::string describe(const RunnerStep &s);

} // namespace deftrace::model
