// The leak bookkeeping alone: holders of one handle, releases, and what a recovery abandons.
#include "leaks/leak_tracker.h"

#include <gtest/gtest.h>

namespace deftrace {
namespace {

const std::string kRead = "sync.RWMutex read lock";

std::vector<uint64_t> holders(const LeakTracker &t) {
    std::vector<uint64_t> out;
    for (const auto &l : t.open())
        out.push_back(l.goid);
    return out;
}

TEST(LeakTracker, EachGoroutineHoldsAReadLockOfItsOwn) {
    LeakTracker t;
    t.acquired(kRead, 0x100, 1, {}, {}, 1, 0);
    t.acquired(kRead, 0x100, 7, {}, {}, 2, 0);
    EXPECT_EQ(holders(t), (std::vector<uint64_t>{1, 7}));
    EXPECT_TRUE(t.released(kRead, 0x100, 7)); // its own, not the oldest
    EXPECT_EQ(holders(t), (std::vector<uint64_t>{1}));
    EXPECT_TRUE(t.released(kRead, 0x100, 1));
    EXPECT_FALSE(t.released(kRead, 0x100, 1));
    EXPECT_TRUE(t.open().empty());
}

TEST(LeakTracker, AReleaseByAnotherGoroutineEndsTheOldestHold) {
    LeakTracker t;
    t.acquired("sync.Mutex", 0x100, 1, {}, {}, 1, 0);
    t.acquired("sync.Mutex", 0x100, 2, {}, {}, 2, 0); // waiting in Lock
    EXPECT_TRUE(t.released("sync.Mutex", 0x100, 9));
    EXPECT_EQ(holders(t), (std::vector<uint64_t>{2}));
}

TEST(LeakTracker, TheSameAcquisitionSeenTwiceIsOneAndResourcesDoNotShareHandles) {
    LeakTracker t;
    t.acquired("database/sql transaction", 0x100, 1, {}, {}, 1, 0);
    t.acquired("database/sql transaction", 0x100, 1, {}, {}, 2, 0); // BeginTx reached through Begin
    t.acquired(kRead, 0x100, 1, {}, {}, 3, 0);
    EXPECT_EQ(t.open().size(), 2u);
    EXPECT_TRUE(t.released("database/sql transaction", 0x100, 1));
    ASSERT_EQ(t.open().size(), 1u);
    EXPECT_EQ(t.open().front().resource, kRead);
}

TEST(LeakTracker, ARecoveryAbandonsWhatTheUnwoundFramesAcquired) {
    LeakTracker t;
    // Depths grow toward the innermost frame: main (100) -> guard (200) -> withdraw (300).
    t.acquired("sync.Mutex", 0x100, 1, {{300, "main.withdraw"}, {200, "main.guard"}, {100, "main.main"}}, {}, 1, 0);
    t.acquired("sync.Mutex", 0x200, 1, {{100, "main.main"}}, {}, 2, 0);
    t.acquired("sync.Mutex", 0x300, 2, {{300, "main.withdraw"}, {200, "main.guard"}}, {}, 3, 0);
    PanicSummary p{"boom", "string", {}, {{310, "runtime.gopanic"}, {300, "main.withdraw"}, {200, "main.guard"}}};
    t.recovered(1, 200, p, "main.guard");
    const auto open = t.open();
    ASSERT_EQ(open.size(), 3u);
    ASSERT_TRUE(open[0].abandoned_by);
    EXPECT_EQ(open[0].abandoned_by->value, "boom");
    EXPECT_EQ(open[0].recovered_in, "main.guard");
    EXPECT_FALSE(open[1].abandoned_by) << "acquired by the frame that resumes";
    EXPECT_FALSE(open[2].abandoned_by) << "another goroutine's";
}

TEST(LeakTracker, EachResourceCrossesTheAgeOnceOldestFirst) {
    LeakTracker t;
    t.acquired("database/sql transaction", 0x100, 1, {}, {}, 1, 1'000'000);
    t.acquired("database/sql transaction", 0x200, 2, {}, {}, 2, 5'000'000);
    t.acquired("os.File", 0x300, 3, {}, {}, 3, 2'000'000);
    EXPECT_TRUE(t.newly_older_than(3'000'000, 10'000'000).empty());
    auto first = t.newly_older_than(12'500'000, 10'000'000);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].handle, 0x100u);
    EXPECT_EQ(first[1].handle, 0x300u) << "oldest acquisition first, by sequence";
    EXPECT_TRUE(t.newly_older_than(13'000'000, 10'000'000).empty()) << "each reported once";
    EXPECT_TRUE(t.released("database/sql transaction", 0x200, 2));
    EXPECT_TRUE(t.newly_older_than(60'000'000, 10'000'000).empty()) << "released before its time";
    EXPECT_EQ(t.open().size(), 2u) << "reporting an age does not close anything";
}

TEST(LeakTracker, ALiveReportSaysOpenWithHandleAndAgeAnExitReportNothingRunSpecific) {
    LeakTracker t;
    t.acquired("os.File", 0xc000123, 4, {}, {}, 1, 1'000'000);
    const auto l = t.open().at(0);
    const auto at_exit = LeakTracker::to_json(l);
    EXPECT_EQ(at_exit["state"], "open_at_exit");
    EXPECT_FALSE(at_exit.contains("handle"));
    EXPECT_FALSE(at_exit.contains("open_for_s"));
    const auto live = LeakTracker::to_json(l, 3'500'000);
    EXPECT_EQ(live["state"], "open");
    EXPECT_EQ(live["handle"], "0xc000123");
    EXPECT_DOUBLE_EQ(live["open_for_s"].get<double>(), 2.5);
}

} // namespace
} // namespace deftrace
