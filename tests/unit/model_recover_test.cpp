// gorecover's matching rule per generation (src/model/recover_rule.h), on hand-built states.
#include "model/recover_rule.h"

#include <gtest/gtest.h>

namespace deftrace::model {
namespace {

GoroutineState panicking() {
    GoroutineState gs;
    gs.goid = 1;
    PanicRecord p;
    p.id = 1;
    p.value = "v";
    p.frame = 200;
    p.in_call = true;
    gs.panics.push_back(p);
    return gs;
}

RecoverVerdict judge(int minor, const RecoverCalled &c) {
    return judge_recover(*go_release(1, minor), panicking(), c);
}

RecoverCalled direct() {
    RecoverCalled c;
    c.goid = 1;
    c.invoker = Invoker::PanicRunner;
    c.frames_to_gopanic = 1;
    return c;
}

class ModelRecoverRule : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Go, ModelRecoverRule, ::testing::Range(first_go_release().minor, last_go_release().minor + 1),
                         [](const auto &param_info) { return "go1_" + std::to_string(param_info.param); });

TEST_P(ModelRecoverRule, DirectlyDeferredFunctionRecovers) {
    RecoverVerdict v = judge(GetParam(), direct());
    EXPECT_TRUE(v.recovered);
    EXPECT_EQ(v.reason, RecoverReason::Recovered);
    EXPECT_EQ(v.panic, 1u);
}

TEST_P(ModelRecoverRule, WrappersAreTransparent) {
    RecoverCalled c = direct();
    c.wrapper_frames = 2; // method value wrapper + deferwrap (issue 73917/73920 shapes, one real frame)
    EXPECT_TRUE(judge(GetParam(), c).recovered);
}

TEST_P(ModelRecoverRule, NestedHelperDoesNotRecover) {
    RecoverCalled c = direct();
    c.invoker = Invoker::Ordinary; // defer func(){ func(){ recover() }() }()
    c.frames_to_gopanic = 2;
    RecoverVerdict v = judge(GetParam(), c);
    EXPECT_FALSE(v.recovered);
    EXPECT_STREQ(to_string(v.reason), "not called directly by a deferred function");
}

TEST_P(ModelRecoverRule, DeferRecoverDirectlyReturnsNil) {
    RecoverCalled c = direct();
    c.deferred_recover = true;                  // defer recover(), run by the panic itself
    c.registrar_invoker = Invoker::PanicRunner; // even when the registering frame was itself deferred
    c.frames_to_gopanic = 0;                    // the deferwrap, a wrapper, then gopanic
    EXPECT_EQ(judge(GetParam(), c).reason, RecoverReason::NotDirect);
}

// `defer recover()` inside a deferred function, run when that function returns: by its inline
// open-coded exit (test/recover.go test4, recover1.go test5) or by runtime.deferreturn after a
// nested panic was recovered (recover1.go test6). The wrapper passes the deferred function's FP,
// which equals p.argp up to 1.25; 1.26+ skips the deferwrap and runtime.deferreturn (both
// wrappers) and finds the one deferred function: every release recovers ("should squelch").
TEST_P(ModelRecoverRule, DeferRecoverRunWhenTheDeferredFunctionReturns) {
    RecoverCalled c = direct();
    c.deferred_recover = true;
    c.invoker = Invoker::Deferreturn;
    c.registrar_invoker = Invoker::PanicRunner;
    c.frames_to_gopanic = 1;
    EXPECT_TRUE(judge(GetParam(), c).recovered);
}

// Issue 73916: `defer F(1)` with F calling an inlined helper that calls recover(): ≤1.25 sees F's
// physical FP and recovers; 1.26+ counts the inlined frame and does not.
TEST_P(ModelRecoverRule, RecoverInInlinedHelper) {
    RecoverCalled c = direct();
    c.inlined_frames = 1;
    c.frames_to_gopanic = 2;
    EXPECT_EQ(judge(GetParam(), c).recovered, GetParam() <= 25);
}

TEST_P(ModelRecoverRule, DeferreturnRunDefersDoNotRecoverTheOuterPanic) {
    RecoverCalled c = direct();
    c.invoker = Invoker::Deferreturn;
    c.frames_to_gopanic = -1;
    EXPECT_FALSE(judge(GetParam(), c).recovered);
}

TEST_P(ModelRecoverRule, GoexitAndAlreadyRecoveredAndNoPanic) {
    const auto t = *go_release(1, GetParam());
    GoroutineState gs = panicking();
    gs.panics.front().goexit = true;
    EXPECT_EQ(judge_recover(t, gs, direct()).reason, RecoverReason::Goexit);
    gs.panics.front().goexit = false;
    gs.panics.front().recovered = true;
    EXPECT_EQ(judge_recover(t, gs, direct()).reason, RecoverReason::AlreadyRecovered);
    GoroutineState none;
    RecoverVerdict v = judge_recover(t, none, direct());
    EXPECT_EQ(v.reason, RecoverReason::NoPanic);
    EXPECT_STREQ(to_string(v.reason), "no panic");
    EXPECT_STREQ(to_string(RecoverReason::Goexit), "goexit");
}

// Only the newest panic is considered: a recovered newer panic hides an older unrecovered one.
TEST_P(ModelRecoverRule, OnlyNewestPanicIsConsidered) {
    GoroutineState gs = panicking();
    PanicRecord newer;
    newer.id = 2;
    newer.recovered = true;
    gs.panics.insert(gs.panics.begin(), newer);
    RecoverVerdict v = judge_recover(*go_release(1, GetParam()), gs, direct());
    EXPECT_EQ(v.reason, RecoverReason::AlreadyRecovered);
    EXPECT_EQ(v.panic, 2u);
}

} // namespace
} // namespace deftrace::model
