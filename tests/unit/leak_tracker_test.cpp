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
    t.acquired(kRead, 0x100, 1, {}, {}, 1);
    t.acquired(kRead, 0x100, 7, {}, {}, 2);
    EXPECT_EQ(holders(t), (std::vector<uint64_t>{1, 7}));
    EXPECT_TRUE(t.released(kRead, 0x100, 7)); // its own, not the oldest
    EXPECT_EQ(holders(t), (std::vector<uint64_t>{1}));
    EXPECT_TRUE(t.released(kRead, 0x100, 1));
    EXPECT_FALSE(t.released(kRead, 0x100, 1));
    EXPECT_TRUE(t.open().empty());
}

TEST(LeakTracker, AReleaseByAnotherGoroutineEndsTheOldestHold) {
    LeakTracker t;
    t.acquired("sync.Mutex", 0x100, 1, {}, {}, 1);
    t.acquired("sync.Mutex", 0x100, 2, {}, {}, 2); // waiting in Lock
    EXPECT_TRUE(t.released("sync.Mutex", 0x100, 9));
    EXPECT_EQ(holders(t), (std::vector<uint64_t>{2}));
}

TEST(LeakTracker, TheSameAcquisitionSeenTwiceIsOneAndResourcesDoNotShareHandles) {
    LeakTracker t;
    t.acquired("database/sql transaction", 0x100, 1, {}, {}, 1);
    t.acquired("database/sql transaction", 0x100, 1, {}, {}, 2); // BeginTx reached through Begin
    t.acquired(kRead, 0x100, 1, {}, {}, 3);
    EXPECT_EQ(t.open().size(), 2u);
    EXPECT_TRUE(t.released("database/sql transaction", 0x100, 1));
    ASSERT_EQ(t.open().size(), 1u);
    EXPECT_EQ(t.open().front().resource, kRead);
}

TEST(LeakTracker, ARecoveryAbandonsWhatTheUnwoundFramesAcquired) {
    LeakTracker t;
    // Depths grow toward the innermost frame: main (100) -> guard (200) -> withdraw (300).
    t.acquired("sync.Mutex", 0x100, 1, {{300, "main.withdraw"}, {200, "main.guard"}, {100, "main.main"}}, {}, 1);
    t.acquired("sync.Mutex", 0x200, 1, {{100, "main.main"}}, {}, 2);
    t.acquired("sync.Mutex", 0x300, 2, {{300, "main.withdraw"}, {200, "main.guard"}}, {}, 3);
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

} // namespace
} // namespace deftrace
