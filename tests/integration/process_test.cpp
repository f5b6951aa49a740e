// The ptrace layer on a native program: breakpoints that stay inserted and cost one stop,
// threads, exit statuses and signals exactly as untraced.
#include "process/tracee.h"

#include <csignal>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <gtest/gtest.h>
#include <libelf.h>
#include <unistd.h>

#include "binary/elf_file.h"

namespace deftrace::testing {
namespace {

const std::string kVictim = DEFTRACE_VICTIM;

// Address of `target` in the victim (a non-PIE test binary: link-time = run-time).
Addr target_address() {
    auto elf = ElfFile::open(kVictim);
    auto sym = elf.symbol("target");
    EXPECT_TRUE(sym.has_value());
    EXPECT_FALSE(elf.is_pie()) << "the victim must be linked -no-pie";
    return sym ? sym->value : Addr();
}

class Counter : public StopHandler {
public:
    explicit Counter(Addr at) : at_(at) {}
    void on_breakpoint(ThreadStop &stop, Addr addr) override {
        EXPECT_EQ(addr, at_);
        EXPECT_EQ(stop.regs.pc(), at_);
        ++hits;
    }
    void on_exiting(ThreadStop &, int status) override { exit_status = status; }
    int hits = 0;
    int exit_status = -1;

private:
    Addr at_;
};

std::vector<Addr> scratch_hints() {
    return {Addr(0x300000), Addr(0x10000000)};
}

TEST(Process, BreakpointHitsEveryCallWithoutChangingTheProgram) {
    Addr target = target_address();
    auto t = Tracee::launch({kVictim, "calls", "1000"});
    t.map_scratch(64 * 1024, scratch_hints());
    t.insert_breakpoint(target);
    Counter c(target);
    ExitStatus st = t.run(c);
    EXPECT_FALSE(st.signaled);
    EXPECT_EQ(st.code, 0);
    EXPECT_EQ(c.hits, 1000);
    EXPECT_EQ(t.stats().breakpoint_hits, 1000u);
    EXPECT_EQ(c.exit_status, 0);
}

TEST(Process, ThreadsAllHitTheSameBreakpoint) {
    Addr target = target_address();
    auto t = Tracee::launch({kVictim, "threads", "8"});
    t.map_scratch(64 * 1024, scratch_hints());
    t.insert_breakpoint(target);
    Counter c(target);
    ExitStatus st = t.run(c);
    EXPECT_EQ(st.code, 0);
    EXPECT_EQ(c.hits, 8000);
    EXPECT_GE(t.stats().threads, 9u);
}

class Remover : public StopHandler {
public:
    void on_breakpoint(ThreadStop &stop, Addr addr) override {
        ++hits;
        stop.tracee.remove_breakpoint(addr); // a temporary breakpoint: first hit only
    }
    int hits = 0;
};

TEST(Process, TemporaryBreakpointFiresOnce) {
    auto t = Tracee::launch({kVictim, "calls", "50"});
    t.map_scratch(64 * 1024, scratch_hints());
    t.insert_breakpoint(target_address());
    Remover r;
    ExitStatus st = t.run(r);
    EXPECT_EQ(st.code, 0);
    EXPECT_EQ(r.hits, 1);
}

class Nothing : public StopHandler {
public:
    void on_breakpoint(ThreadStop &, Addr) override {}
};

TEST(Process, ExitStatusIsTheProgramsOwn) {
    for (int code : {0, 1, 3, 42, 255}) {
        auto t = Tracee::launch({kVictim, "exit", std::to_string(code)});
        Nothing n;
        ExitStatus st = t.run(n);
        EXPECT_FALSE(st.signaled);
        EXPECT_EQ(st.code, code);
    }
}

TEST(Process, DeathBySignalIsReported) {
    for (int sig : {SIGSEGV, SIGABRT, SIGTERM, SIGKILL, SIGPIPE}) {
        auto t = Tracee::launch({kVictim, "signal", std::to_string(sig)});
        Nothing n;
        ExitStatus st = t.run(n);
        EXPECT_TRUE(st.signaled) << sig;
        EXPECT_EQ(st.signal, sig);
    }
}

TEST(Process, MissingProgramIsNotFound) {
    try {
        auto t = Tracee::launch({"/nonexistent/program"});
        FAIL() << "launched a missing program";
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    }
}

class Failing : public StopHandler {
public:
    void on_breakpoint(ThreadStop &, Addr) override { throw Error(ErrorKind::Process, "injected failure"); }
};

TEST(Process, AFailingTracerLeavesTheProgramRunningUntraced) {
    Addr target = target_address();
    auto t = Tracee::launch({kVictim, "calls", "100"});
    t.map_scratch(64 * 1024, scratch_hints());
    t.insert_breakpoint(target);
    Failing f;
    EXPECT_THROW(t.run(f), Error);
    // The program was detached with its breakpoint removed and ran to its normal end.
    ASSERT_TRUE(t.last_exit().has_value());
    EXPECT_FALSE(t.last_exit()->signaled);
    EXPECT_EQ(t.last_exit()->code, 0);
}

} // namespace
} // namespace deftrace::testing
