// signal_frames on this process's own frames: a real signal delivered on an alternate stack, and
// copies of its frame where they must (or must not) be taken for this thread's.
#include "process/signal_frames.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

namespace deftrace {
namespace {

// The restorer the kernel has for `sig` (struct kernel_sigaction: handler, flags, restorer, mask).
std::vector<std::pair<Addr, Addr>> restorer_of(int sig) {
    struct {
        uint64_t handler, flags, restorer, mask;
    } old{};
    if (syscall(SYS_rt_sigaction, sig, nullptr, &old, sizeof old.mask) != 0 || old.restorer == 0)
        return {};
    return {{Addr(old.restorer), Addr(old.restorer + 16)}};
}

struct Seen {
    std::vector<std::pair<Addr, Addr>> restorers;
    std::vector<InterruptedContext> found;
    const ucontext_t *uc = nullptr;
    std::vector<uint8_t> frame; // the restorer's word and the ucontext, as the kernel wrote them
};
Seen *g_seen = nullptr;

// The search starts a little below the frame, on the signal stack (a local's address would not
// do: sanitizers keep locals elsewhere), and ends with the ucontext. Saved registers may hold
// the restorer's address too (the test has just read it): only the first frame found counts.
void handler(int, siginfo_t *, void *uc) {
    const ProcessMemory mem(getpid());
    g_seen->uc = static_cast<const ucontext_t *>(uc);
    const uint64_t below = reinterpret_cast<uint64_t>(uc) - 8 - 64;
    g_seen->found = signal_frames(mem, Addr(), Addr(below), g_seen->restorers, 64 + 8 + sizeof(ucontext_t));
    const auto *start = static_cast<const uint8_t *>(uc) - 8;
    g_seen->frame.assign(start, start + 8 + sizeof(ucontext_t));
    // In the copies the tests make, nothing saved but rip and rsp (and uc_stack): no register,
    // vector register or stored word may look like a restorer's address.
    auto *copy = reinterpret_cast<ucontext_t *>(g_seen->frame.data() + 8);
    for (int r = 0; r < NGREG; ++r)
        if (r != REG_RIP && r != REG_RSP)
            copy->uc_mcontext.gregs[r] = 0;
    const size_t after_gregs = 8 + offsetof(ucontext_t, uc_mcontext) + sizeof(gregset_t);
    std::fill(g_seen->frame.begin() + static_cast<ptrdiff_t>(after_gregs), g_seen->frame.end(), 0);
}

class SignalFrames : public ::testing::Test {
protected:
    void SetUp() override {
        stack_.resize(64 * 1024);
        stack_t ss{};
        ss.ss_sp = stack_.data();
        ss.ss_size = stack_.size();
        ASSERT_EQ(sigaltstack(&ss, &old_stack_), 0);
        struct sigaction sa {};
        sa.sa_sigaction = handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        ASSERT_EQ(sigaction(SIGUSR2, &sa, &old_action_), 0);
        seen_.restorers = restorer_of(SIGUSR2);
        ASSERT_FALSE(seen_.restorers.empty()) << "glibc registers a restorer";
        g_seen = &seen_;
        raise(SIGUSR2);
    }
    void TearDown() override {
        sigaction(SIGUSR2, &old_action_, nullptr);
        sigaltstack(&old_stack_, nullptr);
        g_seen = nullptr;
    }
    std::vector<uint8_t> stack_;
    stack_t old_stack_{};
    struct sigaction old_action_ {};
    Seen seen_;
};

TEST_F(SignalFrames, FindsTheFrameTheKernelPushed) {
    ASSERT_FALSE(seen_.found.empty());
    const InterruptedContext &c = seen_.found[0];
    EXPECT_EQ(c.ucontext.value(), reinterpret_cast<uint64_t>(seen_.uc));
    EXPECT_EQ(c.pc.value(), static_cast<uint64_t>(seen_.uc->uc_mcontext.gregs[REG_RIP]));
    EXPECT_EQ(c.sp.value(), static_cast<uint64_t>(seen_.uc->uc_mcontext.gregs[REG_RSP]));
    // The interrupted code ran on this thread's own stack, not the signal stack.
    const auto *lo = stack_.data();
    EXPECT_FALSE(c.sp.value() >= reinterpret_cast<uint64_t>(lo) &&
                 c.sp.value() < reinterpret_cast<uint64_t>(lo + stack_.size()));
}

TEST_F(SignalFrames, AFrameOnAnotherThreadsSignalStackIsNotThisThreads) {
    ASSERT_FALSE(seen_.frame.empty());
    // The same frame copied into a second buffer, read by a thread whose stack pointer is there:
    // its uc_stack names the first buffer, so it is some other thread's frame.
    std::vector<uint8_t> other(16 * 1024);
    std::memcpy(other.data() + 4096, seen_.frame.data(), seen_.frame.size());
    const ProcessMemory mem(getpid());
    const Addr sp(reinterpret_cast<uint64_t>(other.data()));
    EXPECT_TRUE(signal_frames(mem, Addr(), sp, seen_.restorers, other.size() - 64).empty());
    // Made out for the second buffer, it is found.
    stack_t here{other.data(), 0, other.size()};
    std::memcpy(other.data() + 4096 + 8 + offsetof(ucontext_t, uc_stack), &here, sizeof here);
    const auto found = signal_frames(mem, Addr(), sp, seen_.restorers, other.size() - 64);
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].ucontext, sp + 4096 + 8);
}

TEST_F(SignalFrames, AThreadInTheRestorerHasItsContextAtItsStackPointer) {
    ASSERT_FALSE(seen_.frame.empty());
    std::vector<uint8_t> copy(seen_.frame.begin() + 8, seen_.frame.end()); // the word popped
    const ProcessMemory mem(getpid());
    const Addr sp(reinterpret_cast<uint64_t>(copy.data()));
    stack_t none{nullptr, SS_DISABLE, 0};
    std::memcpy(copy.data() + offsetof(ucontext_t, uc_stack), &none, sizeof none);
    const auto found = signal_frames(mem, seen_.restorers[0].first + 7, sp, seen_.restorers, copy.size() - 8);
    ASSERT_FALSE(found.empty());
    EXPECT_EQ(found[0].ucontext, sp);
    EXPECT_EQ(found[0].pc.value(), static_cast<uint64_t>(seen_.uc->uc_mcontext.gregs[REG_RIP]));
    // Anywhere else, nothing: the restorer's word is gone.
    EXPECT_TRUE(signal_frames(mem, Addr(0x1000), sp, seen_.restorers, copy.size() - 8).empty());
}

} // namespace
} // namespace deftrace
