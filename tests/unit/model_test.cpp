// Scripted scenarios for the defer/panic/recover model (src/model), no process involved.

#include "model/model.h"

#include <gtest/gtest.h>

namespace deftrace::model::testing {

// Frame depths used by the scenarios: larger = deeper (newer) frame.
inline constexpr FrameDepth kMain = 100, kOuter = 200, kInner = 300, kDeferred = 400, kDeferred2 = 500;

struct Script {
    explicit Script(int minor) : m(*go_release(1, minor)) {}
    Model m;
    Goid g = 1;

    std::optional<Divergence> reg(DeferKind k, FrameDepth f, CodeAddr fn, int bit = -1) {
        return m.observe(DeferRegistered{g, k, f, Callee{fn, "fn" + std::to_string(fn), {}}, bit});
    }
    std::optional<Divergence> call(CodeAddr fn, CallCause c, FrameDepth f = kUnknownDepth) {
        return m.observe(DeferredCallStarted{g, fn, c, f});
    }
    std::optional<Divergence> panic(std::string v, FrameDepth f) {
        return m.observe(PanicStarted{g, std::move(v), false, f});
    }
    std::optional<Divergence> goexit(FrameDepth f) { return m.observe(PanicStarted{g, "", true, f}); }
    RecoverCalled rc(Invoker inv, FrameDepth caller) const {
        RecoverCalled r;
        r.goid = g;
        r.caller_frame = caller;
        r.invoker = inv;
        // What 1.26+ counts for each: the deferred function alone; it and the helper it calls;
        // no gopanic frame above.
        r.frames_to_gopanic = inv == Invoker::PanicRunner ? 1 : inv == Invoker::Ordinary ? 2 : -1;
        return r;
    }
    std::optional<Divergence> recover(RecoverCalled r, std::optional<bool> outcome) {
        r.recovered = outcome;
        return m.observe(r);
    }
    std::optional<Divergence> resume(FrameDepth f, bool goexit = false) { return m.observe(Resumed{g, f, 0, goexit}); }
    std::optional<Divergence> end(EndKind k) { return m.observe(GoroutineEnded{g, k}); }
    const GoroutineState &gs() const { return *m.goroutine(g); }
};

inline std::string show(const std::optional<Divergence> &d) {
    return d ? to_string(*d) : "none";
}

} // namespace deftrace::model::testing

namespace deftrace::model::testing {
namespace {

class ModelAllVersions : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Go, ModelAllVersions, ::testing::Range(first_go_release().minor, last_go_release().minor + 1),
                         [](const auto &param_info) { return "go1_" + std::to_string(param_info.param); });

// Every release of the registry gets the adapter of its row's era (the facts themselves are
// checked in go_releases_test.cpp).
TEST(ModelGeneration, EveryReleaseGetsTheAdapterOfItsEra) {
    for (const auto &r : go_releases()) {
        Model m(r);
        EXPECT_EQ(m.traits().minor, r.minor);
        EXPECT_EQ(m.traits().era, r.era);
        EXPECT_EQ(make_generation(r)->has_open_records(), r.era == Era::A) << r.name();
    }
}

// Seed 1: defers of one frame run last-in first-out on return.
TEST_P(ModelAllVersions, DeferOrderIsLifoOnReturn) {
    Script s(GetParam());
    for (CodeAddr fn : {0xa1, 0xa2, 0xa3}) {
        ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, fn));
    }
    EXPECT_FALSE(s.call(0xa3, CallCause::Return, kOuter));
    EXPECT_FALSE(s.call(0xa2, CallCause::Return, kOuter));
    EXPECT_FALSE(s.call(0xa1, CallCause::Return, kOuter));
    EXPECT_EQ(s.m.divergence_count(), 0u);
    EXPECT_TRUE(s.gs().defers.empty());
    EXPECT_EQ(s.m.observation_count(), 6u);
}

TEST_P(ModelAllVersions, OpenCodedBitsRunHighestFirstOnReturn) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kOuter, 0xb0, 0));
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kOuter, 0xb1, 1));
    auto d = s.call(0xb0, CallCause::Return, kOuter); // wrong: bit 1 runs first
    ASSERT_TRUE(d);
    EXPECT_EQ(d->observed.find("0xb0") != std::string::npos, true) << show(d);
    EXPECT_NE(d->expected.find("fn177"), std::string::npos) << show(d); // 0xb1 == 177
}

// Seed 2: a panic runs the defers of every frame, innermost first, up to the recover; execution
// resumes in the frame that registered the recovering defer.
TEST_P(ModelAllVersions, PanicRunsAllFramesUpToRecover) {
    const int minor = GetParam();
    Script s(minor);
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x10));         // outer: defer func(){ recover() }()
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kInner, 0x20, 0)); // inner: two open-coded defers
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kInner, 0x21, 1));
    ASSERT_FALSE(s.panic("boom", kInner));

    UnwindPrediction u = s.m.predict_unwind(s.g);
    ASSERT_EQ(u.calls.size(), 3u);
    EXPECT_EQ(u.calls[0].callee.fn, 0x21u);
    EXPECT_EQ(u.calls[1].callee.fn, 0x20u);
    EXPECT_EQ(u.calls[2].callee.fn, 0x10u);
    EXPECT_EQ(u.calls[2].frame, kOuter);
    EXPECT_TRUE(u.fatal);

    EXPECT_FALSE(s.call(0x21, CallCause::Panic, kInner));
    EXPECT_FALSE(s.call(0x20, CallCause::Panic, kInner));
    EXPECT_FALSE(s.call(0x10, CallCause::Panic, kOuter));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    EXPECT_TRUE(s.gs().top_panic()->recovered);
    EXPECT_FALSE(s.resume(kOuter)) << show(s.m.divergences().empty() ? std::nullopt
                                                                     : std::optional(s.m.divergences().back()));
    ASSERT_TRUE(s.gs().last_resume);
    EXPECT_EQ(s.gs().last_resume->frame, kOuter);
    // ≤1.24 a linked defer resumes after CALL deferproc (AX=1); 1.25+ always at entry+deferreturn.
    EXPECT_EQ(s.gs().last_resume->via, minor <= 24 ? ResumeVia::AfterDeferproc : ResumeVia::Deferreturn);
    EXPECT_TRUE(s.gs().panics.empty());
    EXPECT_TRUE(s.gs().defers.empty());
    EXPECT_FALSE(s.end(EndKind::Returned));
    EXPECT_EQ(s.m.divergence_count(), 0u);
}

TEST_P(ModelAllVersions, RecoverInOpenCodedFrameResumesAtDeferreturnAndRunsTheRest) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kOuter, 0x30, 0));
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kOuter, 0x31, 1)); // this one recovers
    ASSERT_FALSE(s.panic("x", kOuter));
    EXPECT_FALSE(s.call(0x31, CallCause::Panic, kOuter));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    EXPECT_FALSE(s.resume(kOuter));
    EXPECT_EQ(s.gs().last_resume->via, ResumeVia::Deferreturn);
    // The remaining bit runs from deferreturn, as a normal return.
    EXPECT_FALSE(s.call(0x30, CallCause::Return, kOuter));
    EXPECT_FALSE(s.end(EndKind::Returned));
    EXPECT_EQ(s.m.divergence_count(), 0u);
    EXPECT_TRUE(s.gs().defers.empty());
}

// Seeds 3-5 in the model: the recover() verdicts are checked against observed outcomes.
TEST_P(ModelAllVersions, RecoverInNestedFunctionReturnsNilAndPanicContinues) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::Heap, kMain, 0x10));
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.panic("p", kOuter));
    EXPECT_FALSE(s.call(0x20, CallCause::Panic, kOuter));
    RecoverCalled nested = s.rc(Invoker::Ordinary, kDeferred2); // defer func(){ helper() }(), helper recovers
    EXPECT_EQ(s.m.judge_recover(nested).reason, RecoverReason::NotDirect);
    EXPECT_FALSE(s.recover(nested, false));
    EXPECT_FALSE(s.gs().top_panic()->recovered);
    EXPECT_FALSE(s.call(0x10, CallCause::Panic, kMain));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    EXPECT_FALSE(s.resume(kMain));
    EXPECT_EQ(s.m.divergence_count(), 0u);
}

TEST_P(ModelAllVersions, WrongRecoverOutcomeIsOneDivergence) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.panic("p", kOuter));
    ASSERT_FALSE(s.call(0x20, CallCause::Panic, kOuter));
    auto d = s.recover(s.rc(Invoker::Ordinary, kDeferred2), true); // runtime says recovered, model says no
    ASSERT_TRUE(d);
    EXPECT_NE(d->expected.find("not called directly by a deferred function"), std::string::npos) << show(d);
    EXPECT_EQ(s.m.divergence_count(), 1u);
}

TEST_P(ModelAllVersions, NoPanicAlreadyRecoveredAndGoexitReasons) {
    Script s(GetParam());
    EXPECT_EQ(s.m.judge_recover(s.rc(Invoker::PanicRunner, kOuter)).reason, RecoverReason::NoPanic);
    EXPECT_FALSE(s.recover(s.rc(Invoker::Ordinary, kOuter), false));

    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.panic("p", kOuter));
    ASSERT_FALSE(s.call(0x20, CallCause::Panic, kOuter));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    RecoverVerdict again = s.m.judge_recover(s.rc(Invoker::PanicRunner, kDeferred));
    EXPECT_FALSE(again.recovered);
    EXPECT_EQ(again.reason, RecoverReason::AlreadyRecovered);
    EXPECT_STREQ(to_string(again.reason), "already recovered");
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), false));
    EXPECT_FALSE(s.resume(kOuter));
    EXPECT_EQ(s.m.divergence_count(), 0u);
}

// Goexit runs every pending defer; recover() there returns nil with reason "goexit".
TEST_P(ModelAllVersions, GoexitRunsPendingDefersAndCannotBeRecovered) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kMain, 0x10, 0));
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.goexit(kOuter));
    UnwindPrediction u = s.m.predict_unwind(s.g);
    ASSERT_EQ(u.calls.size(), 2u);
    EXPECT_EQ(u.calls[0].cause, CallCause::Goexit);
    EXPECT_TRUE(u.goexit_done);
    EXPECT_FALSE(s.call(0x20, CallCause::Goexit, kOuter));
    RecoverVerdict v = s.m.judge_recover(s.rc(Invoker::GoexitRunner, kDeferred));
    EXPECT_EQ(v.reason, RecoverReason::Goexit);
    EXPECT_FALSE(s.recover(s.rc(Invoker::GoexitRunner, kDeferred), false));
    EXPECT_FALSE(s.call(0x10, CallCause::Goexit, kMain));
    EXPECT_FALSE(s.end(EndKind::GoexitDone));
    EXPECT_EQ(s.m.divergence_count(), 0u);
    // A cause the tracer got wrong is reported.
    Script t(GetParam());
    ASSERT_FALSE(t.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(t.goexit(kOuter));
    EXPECT_TRUE(t.call(0x20, CallCause::Panic, kOuter));
}

// Go issue 43921's shape: a frame with a linked defer panics; that deferred call panics again and
// recovers its own panic through its own defer; the first panic then goes on to main's recover.
TEST_P(ModelAllVersions, Issue43921NestedPanicRecoveredInsideDeferredCall) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kMain, 0x10, 0)); // main: defer func(){ recover() }()
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));        // f: defer d1 (not open-coded)
    ASSERT_FALSE(s.panic("first", kOuter));
    ASSERT_FALSE(s.call(0x20, CallCause::Panic, kOuter));  // d1 runs at depth kDeferred
    ASSERT_FALSE(s.reg(DeferKind::Heap, kDeferred, 0x30)); // d1: defer func(){ recover() }()
    ASSERT_FALSE(s.panic("second", kDeferred));
    ASSERT_EQ(s.gs().panics.size(), 2u);
    auto next = s.m.predict_unwind(s.g);
    ASSERT_FALSE(next.calls.empty());
    EXPECT_EQ(next.calls[0].callee.fn, 0x30u);
    EXPECT_FALSE(s.call(0x30, CallCause::Panic, kDeferred));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred2), true));
    EXPECT_FALSE(s.resume(kDeferred)); // back in d1, which returns normally to the first gopanic
    ASSERT_EQ(s.gs().panics.size(), 1u);
    EXPECT_EQ(s.gs().panics.front().value, "first");
    EXPECT_FALSE(s.gs().panics.front().recovered);
    EXPECT_FALSE(s.gs().panics.front().aborted);
    if (go_release(1, GetParam())->purge_only_when_done) {
        // The bug itself (Go 1.14, 1.15; fixed in 1.16): the recovery purged main's open-coded
        // record, so the first panic runs out of defers and the program dies with main's deferred
        // call never run (testdata/runtime_issues shows it on a real 1.15 build).
        EXPECT_TRUE(s.m.predict_unwind(s.g).calls.empty());
        EXPECT_EQ(s.m.divergence_count(), 0u);
        return;
    }
    EXPECT_FALSE(s.call(0x10, CallCause::Panic, kMain));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    EXPECT_FALSE(s.resume(kMain));
    EXPECT_TRUE(s.gs().panics.empty());
    EXPECT_EQ(s.m.divergence_count(), 0u);
}

// A deferred call of panic 1 panics (panic 2) without recovering it there; panic 2 runs the rest
// and is recovered in main. Recovering the new panic also ends the old one: ≤1.21 because the old
// one was marked aborted, 1.22+ because its gopanic frame lies below the recovering frame.
TEST_P(ModelAllVersions, RecoveringNewerPanicEndsTheAbortedOlderOne) {
    const int minor = GetParam();
    Script s(minor);
    ASSERT_FALSE(s.reg(DeferKind::Heap, kMain, 0x10));
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x21));
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.panic("p1", kOuter));
    ASSERT_FALSE(s.call(0x20, CallCause::Panic, kOuter));
    ASSERT_FALSE(s.panic("p2", kDeferred));
    // p2 continues with what p1 left: 0x21 in the same frame, then main.
    EXPECT_FALSE(s.call(0x21, CallCause::Panic, kOuter));
    const PanicRecord &old = s.gs().panics.back();
    EXPECT_EQ(old.aborted, minor <= 21) << "only ≤1.21 has _panic.aborted";
    EXPECT_FALSE(s.call(0x10, CallCause::Panic, kMain));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    EXPECT_FALSE(s.resume(kMain));
    EXPECT_TRUE(s.gs().panics.empty());
    EXPECT_EQ(s.m.divergence_count(), 0u);
}

// Repanic after recover: the deferred call recovers and re-panics the same value; nothing else
// recovers. 1.25+ preprintpanics marks the first panic repanicked.
TEST_P(ModelAllVersions, RepanicAfterRecoverIsFatal) {
    const int minor = GetParam();
    Script s(minor);
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.panic("boom", kOuter));
    ASSERT_FALSE(s.call(0x20, CallCause::Panic, kOuter));
    ASSERT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    ASSERT_FALSE(s.panic("boom", kDeferred));
    EXPECT_TRUE(s.m.predict_unwind(s.g).fatal);
    EXPECT_TRUE(s.m.predict_unwind(s.g).calls.empty());
    EXPECT_FALSE(s.end(EndKind::FatalPanic));
    ASSERT_EQ(s.gs().panics.size(), 2u);
    EXPECT_TRUE(s.gs().panics.back().recovered);
    EXPECT_EQ(s.gs().panics.back().repanicked, minor >= 25);
    EXPECT_EQ(s.m.divergence_count(), 0u);
}

// A panic raised in a Goexit-run defer and recovered further out does not cancel the Goexit:
// execution returns into Goexit's loop, which then finishes.
TEST_P(ModelAllVersions, PanicDuringGoexitRecoveredReturnsIntoGoexit) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::Heap, kMain, 0x10));  // recovers
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20)); // panics
    ASSERT_FALSE(s.goexit(kOuter));
    ASSERT_FALSE(s.call(0x20, CallCause::Goexit, kOuter));
    ASSERT_FALSE(s.panic("in goexit", kDeferred));
    EXPECT_FALSE(s.call(0x10, CallCause::Panic, kMain));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    EXPECT_FALSE(s.resume(kOuter, /*goexit=*/true));
    ASSERT_EQ(s.gs().panics.size(), 1u);
    EXPECT_TRUE(s.gs().panics.front().goexit);
    EXPECT_FALSE(s.end(EndKind::GoexitDone));
    EXPECT_EQ(s.m.divergence_count(), 0u);
}

TEST_P(ModelAllVersions, UnrecoveredPanicListsPendingDefersAndEndsFatal) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.panic("p", kOuter));
    EXPECT_TRUE(s.end(EndKind::FatalPanic)) << "0x20 should have run first";
    EXPECT_EQ(s.m.divergence_count(), 1u);
}

// An injected mismatch yields exactly one divergence; later observations do not cascade, and a
// chain snapshot resynchronises the goroutine so checking resumes.
TEST_P(ModelAllVersions, InjectedMismatchGivesExactlyOneDivergenceThenResyncs) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::Heap, kMain, 0x10));
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.panic("p", kOuter));
    auto d = s.call(0x99, CallCause::Panic, kOuter); // the tracer saw something else
    ASSERT_TRUE(d);
    EXPECT_EQ(d->goid, s.g);
    EXPECT_EQ(d->observation, 4u);
    EXPECT_FALSE(s.call(0x98, CallCause::Panic, kMain));
    EXPECT_FALSE(s.resume(kMain));
    EXPECT_FALSE(s.end(EndKind::Returned));
    EXPECT_EQ(s.m.divergence_count(), 1u);
    EXPECT_EQ(s.m.observation_count(), 7u);

    // Resynchronise from memory: one heap record in main, no panic.
    ChainSnapshot snap;
    snap.goid = s.g;
    snap.defers.push_back(SnapshotDefer{DeferKind::Heap, kMain, 0x10, false, {}});
    EXPECT_FALSE(s.m.observe(snap));
    EXPECT_FALSE(s.gs().desynchronised);
    EXPECT_FALSE(s.call(0x10, CallCause::Return, kMain));
    EXPECT_TRUE(s.call(0x10, CallCause::Return, kMain)) << "checking resumed after the snapshot";
    EXPECT_EQ(s.m.divergence_count(), 2u);
}

TEST_P(ModelAllVersions, SnapshotMatchingTheModelIsNoDivergence) {
    const int minor = GetParam();
    Script s(minor);
    ASSERT_FALSE(s.reg(DeferKind::Heap, kMain, 0x10));
    ASSERT_FALSE(s.reg(DeferKind::Stack, kOuter, 0x20));
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x21));
    ASSERT_FALSE(s.panic("p", kOuter));
    ASSERT_FALSE(s.call(0x21, CallCause::Panic, kOuter));
    ChainSnapshot snap;
    snap.goid = s.g;
    if (minor <= 21) { // the running record stays linked, started, until the call returns
        snap.defers.push_back(SnapshotDefer{DeferKind::Heap, kOuter, 0x21, true, {}});
    }
    snap.defers.push_back(SnapshotDefer{DeferKind::Stack, kOuter, 0x20, false, {}});
    snap.defers.push_back(SnapshotDefer{DeferKind::Heap, kMain, 0x10, false, {}});
    SnapshotPanic p;
    p.current_frame = minor >= 22 ? kOuter : kUnknownDepth;
    snap.panics.push_back(p);
    EXPECT_FALSE(s.m.observe(snap)) << show(s.m.divergences().empty() ? std::nullopt
                                                                      : std::optional(s.m.divergences().back()));
    // The same snapshot with the panic already recovered disagrees.
    snap.panics[0].recovered = true;
    EXPECT_TRUE(s.m.observe(snap));
}

// ≤1.21 only: during a panic an open-coded frame is represented by an open record, added by
// addOneOpenDeferFrame and marked started while it runs.
TEST(ModelEraA, OpenFrameRecordAppearsDuringPanic) {
    Script s(21);
    ASSERT_FALSE(s.reg(DeferKind::Heap, kMain, 0x10));
    ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kInner, 0x20, 0));
    ASSERT_FALSE(s.panic("p", kInner));
    ASSERT_EQ(s.gs().defers.size(), 2u);
    EXPECT_EQ(s.gs().defers[0].kind, DeferKind::OpenFrame);
    EXPECT_TRUE(s.gs().defers[0].started);
    EXPECT_EQ(s.gs().defers[0].frame, kInner);
    Script b(22);
    ASSERT_FALSE(b.reg(DeferKind::Heap, kMain, 0x10));
    ASSERT_FALSE(b.reg(DeferKind::OpenCoded, kInner, 0x20, 0));
    ASSERT_FALSE(b.panic("p", kInner));
    EXPECT_EQ(b.gs().defers.size(), 1u) << "1.22+ never makes records for open-coded defers";
}

// Range-over-func (1.22+): deferprocat records hang off the rangefunc head until deferconvert
// splices them into g._defer in the head's place.
TEST(ModelEraB, RangefuncDefersRunNewestFirstInTheHeadsPlace) {
    for (int minor : {22, 23, 24, 25, 26, 27}) {
        Script s(minor);
        ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x01)); // before the loop
        ASSERT_FALSE(s.reg(DeferKind::RangefuncHead, kOuter, 0));
        ASSERT_FALSE(s.reg(DeferKind::RangefuncAt, kOuter, 0x41));
        ASSERT_FALSE(s.reg(DeferKind::RangefuncAt, kOuter, 0x42));
        ASSERT_FALSE(s.panic("p", kInner));
        UnwindPrediction u = s.m.predict_unwind(s.g);
        ASSERT_EQ(u.calls.size(), 3u) << minor;
        EXPECT_EQ(u.calls[0].callee.fn, 0x42u);
        EXPECT_EQ(u.calls[1].callee.fn, 0x41u);
        EXPECT_EQ(u.calls[2].callee.fn, 0x01u);
        EXPECT_FALSE(s.call(0x42, CallCause::Panic, kOuter));
        EXPECT_EQ(s.m.divergence_count(), 0u);
    }
}

// Era B: recovery pops only panics started below the recovering frame (startSP < sp).
TEST(ModelEraB, RecoveryKeepsOlderPanicWhoseGopanicIsAboveTheRecoveringFrame) {
    Script s(22);
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.panic("p1", kOuter));
    ASSERT_FALSE(s.call(0x20, CallCause::Panic, kOuter));
    ASSERT_FALSE(s.reg(DeferKind::Heap, kDeferred2, 0x50)); // in a function called by the deferred call
    ASSERT_FALSE(s.panic("p2", kDeferred2));
    ASSERT_FALSE(s.call(0x50, CallCause::Panic, kDeferred2));
    ASSERT_FALSE(s.recover(s.rc(Invoker::PanicRunner, 600), true));
    EXPECT_TRUE(s.resume(kOuter)) << "must resume in the frame at kDeferred2, not kOuter";
}

// goexit1: the tracer tells the model a goroutine ended; its state is dropped (ids are not reused).
TEST_P(ModelAllVersions, ForgetDropsAnEndedGoroutine) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.call(0x20, CallCause::Return, kOuter));
    ASSERT_FALSE(s.end(EndKind::Returned));
    ASSERT_NE(s.m.goroutine(s.g), nullptr);
    s.m.forget(s.g);
    EXPECT_EQ(s.m.goroutine(s.g), nullptr);
    EXPECT_EQ(s.m.observation_count(), 3u);
}

// --panics-only: no registration is observed; the chains read at gopanic are adopted without
// comparison, and the panic's course is then checked as usual.
TEST_P(ModelAllVersions, AdoptOnlySnapshotSynchronisesWithoutDivergence) {
    Script s(GetParam());
    ChainSnapshot snap;
    snap.goid = s.g;
    snap.defers.push_back(SnapshotDefer{DeferKind::Heap, kOuter, 0x20, false, {}});
    snap.defers.push_back(SnapshotDefer{DeferKind::Stack, kMain, 0x10, false, {}});
    snap.compare = false;
    EXPECT_FALSE(s.m.observe(snap));
    ASSERT_FALSE(s.panic("p", kInner));
    EXPECT_FALSE(s.call(0x20, CallCause::Panic, kOuter));
    EXPECT_FALSE(s.call(0x10, CallCause::Panic, kMain));
    EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
    EXPECT_FALSE(s.resume(kMain));
    EXPECT_EQ(s.m.divergence_count(), 0u);
    // The same memory, compared with a model that saw nothing: a divergence.
    Script t(GetParam());
    snap.compare = true;
    EXPECT_TRUE(t.m.observe(snap));
}

// A frame returns only after deferreturn / its exits ran every deferred call it had: a record of a
// deeper frame still pending when a shallower frame executes means a call was not observed.
TEST_P(ModelAllVersions, FrameReturnedWithPendingDeferIsOneDivergence) {
    Script s(GetParam());
    ASSERT_FALSE(s.reg(DeferKind::Heap, kOuter, 0x20));
    ASSERT_FALSE(s.reg(DeferKind::Stack, kInner, 0x30)); // its call at kInner's return is missed
    auto d = s.reg(DeferKind::Heap, kOuter, 0x21);
    ASSERT_TRUE(d);
    EXPECT_NE(d->observed.find("stack@300"), std::string::npos) << show(d);
    ASSERT_EQ(s.gs().defers.size(), 2u);
    EXPECT_EQ(s.gs().defers.back().callee.fn, 0x20u);
    // Open-coded bits left in a deeper frame likewise.
    Script t(GetParam());
    ASSERT_FALSE(t.reg(DeferKind::OpenCoded, kInner, 0x30, 0));
    EXPECT_TRUE(t.panic("p", kOuter));
    EXPECT_TRUE(t.gs().open.find(kInner) == t.gs().open.end());
}

// Range-over-func defers (1.22+): the deferprocat list hanging off the head record is compared
// with memory, and adopted from it when the registrations were not observed.
TEST(ModelEraB, RangefuncListIsComparedAndAdopted) {
    for (int minor : {22, 25, 27}) {
        Script s(minor);
        ASSERT_FALSE(s.reg(DeferKind::RangefuncHead, kOuter, 0));
        ASSERT_FALSE(s.reg(DeferKind::RangefuncAt, kOuter, 0x41));
        ASSERT_FALSE(s.reg(DeferKind::RangefuncAt, kOuter, 0x42));
        ChainSnapshot snap;
        snap.goid = s.g;
        snap.defers.push_back(SnapshotDefer{DeferKind::RangefuncHead, kOuter, 0, false, {0x42, 0x41}});
        EXPECT_FALSE(s.m.observe(snap)) << minor;
        snap.defers[0].at_list = {0x42};
        EXPECT_TRUE(s.m.observe(snap)) << minor << ": one deferprocat record missing from memory";

        Script t(minor);
        snap.defers[0].at_list = {0x42, 0x41};
        snap.compare = false;
        ASSERT_FALSE(t.m.observe(snap));
        ASSERT_FALSE(t.panic("p", kInner));
        UnwindPrediction u = t.m.predict_unwind(t.g);
        ASSERT_EQ(u.calls.size(), 2u) << minor;
        EXPECT_EQ(u.calls[0].callee.fn, 0x42u);
        EXPECT_EQ(u.calls[1].callee.fn, 0x41u);
    }
}

// ≤1.21 (runtime_issues' deferredBuiltinPanics): a deferred call of panic P0 (func1, at kDeferred)
// ends with `defer panic(A)`; A is recovered by func1's own catch, and deferreturn runs func1's last
// open-coded defer through the open record, which stays linked while that call runs
// (runOpenDeferFrame). A snapshot then shows the record the model already dropped; once func1 has
// returned to P0's runner it is gone, and nothing is left of it in the model either.
TEST(ModelEraA, OpenRecordKeptByDeferreturnIsGoneWhenTheRunnerResumes) {
    for (int minor : {19, 21}) {
        Script s(minor);
        ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kMain, 0x10, 0)); // catch("top")
        ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kMain, 0x11, 1)); // func1
        ASSERT_FALSE(s.panic("original", kOuter));
        ASSERT_FALSE(s.call(0x11, CallCause::Panic, kMain));
        ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kDeferred, 0x40, 0)); // func1.1
        ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kDeferred, 0x41, 1)); // catch("level 2")
        ASSERT_FALSE(s.reg(DeferKind::OpenCoded, kDeferred, 0x42, 2)); // panic("A")
        ASSERT_FALSE(s.call(0x42, CallCause::Return, kDeferred));
        ASSERT_FALSE(s.panic("A", kDeferred));
        ASSERT_FALSE(s.call(0x41, CallCause::Panic, kDeferred));
        ASSERT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred2), true));
        ASSERT_FALSE(s.resume(kDeferred));
        ASSERT_FALSE(s.call(0x40, CallCause::Return, kDeferred)); // deferreturn -> runOpenDeferFrame
        // Inside func1.1: memory still links func1's open record.
        ChainSnapshot snap;
        snap.goid = s.g;
        snap.defers.push_back(SnapshotDefer{DeferKind::OpenFrame, kDeferred, 0, true, {}});
        snap.defers.push_back(SnapshotDefer{DeferKind::OpenFrame, kMain, 0, true, {}});
        snap.panics.push_back(SnapshotPanic{});
        snap.open_frames = std::vector<SnapshotOpenFrame>{{kDeferred, 0, {}}, {kMain, 0x01, {0x10}}};
        EXPECT_FALSE(s.m.observe(snap)) << minor;
        // func1.1 and func1 return; P0 goes on with catch("top"), which recovers.
        EXPECT_FALSE(s.call(0x10, CallCause::Panic, kMain)) << minor;
        EXPECT_FALSE(s.recover(s.rc(Invoker::PanicRunner, kDeferred), true));
        EXPECT_FALSE(s.resume(kMain)) << minor;
        ChainSnapshot after;
        after.goid = s.g;
        after.open_frames = std::vector<SnapshotOpenFrame>{};
        EXPECT_FALSE(s.m.observe(after)) << minor << ": no stale open record";
        EXPECT_EQ(s.m.divergence_count(), 0u)
            << show(s.m.divergences().empty() ? std::nullopt : std::optional(s.m.divergences()[0]));
    }
}

} // namespace
} // namespace deftrace::model::testing
