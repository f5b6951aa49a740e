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
#include <sys/mman.h>
#include <unistd.h>

#include "binary/elf_file.h"
#include "binary/load_bias.h"

namespace deftrace::testing {
namespace {

const std::string kVictim = DEFTRACE_VICTIM;

// Address of `target` in the victim (a non-PIE test binary: link-time = run-time).
Addr target_address() {
    auto elf = ElfFile::open(kVictim);
    auto sym = elf.symbol("target");
    EXPECT_TRUE(sym.has_value());
    EXPECT_FALSE(elf.is_pie()) << "the victim must be linked -no-pie";
    return sym ? LoadBias().runtime(sym->value) : Addr();
}

// `target` has no jump inside: the whole function may carry a jump patch.
size_t target_size() {
    auto sym = ElfFile::open(kVictim).symbol("target");
    return sym ? sym->size : 0;
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

// The per-stop read cache, on this very process: one syscall per aligned block, the same bytes
// as an uncached read, nothing kept after the stop, nothing served across an unmapped page.
TEST(ProcessMemoryCache, ServesBlocksWithinAStopOnly) {
    const long page = sysconf(_SC_PAGESIZE);
    auto *mem =
        static_cast<uint8_t *>(mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(mem, MAP_FAILED);
    for (long i = 0; i < page; ++i)
        mem[i] = static_cast<uint8_t>(i * 7);
    ASSERT_EQ(munmap(mem + page, page), 0); // the next page is not mapped
    ProcessMemory pm(getpid());
    const Addr base(reinterpret_cast<uint64_t>(mem));
    auto expect_bytes = [&](uint64_t off, size_t len) {
        std::vector<uint8_t> got(len);
        ASSERT_TRUE(pm.read(base + off, got));
        EXPECT_EQ(0, std::memcmp(got.data(), mem + off, len)) << "offset " << off;
    };
    {
        StopCache stop(pm);
        const uint64_t before = pm.syscalls();
        expect_bytes(8, 8);
        expect_bytes(100, 40); // same block
        EXPECT_EQ(pm.syscalls() - before, 1u);
        expect_bytes(ProcessMemory::kBlock - 4, 8); // straddles two blocks: fetches the second
        EXPECT_EQ(pm.syscalls() - before, 2u);
        const Addr more[] = {base + 3 * ProcessMemory::kBlock, base + 5 * ProcessMemory::kBlock + 17};
        pm.prefetch(more); // both in one syscall
        EXPECT_EQ(pm.syscalls() - before, 3u);
        expect_bytes(3 * ProcessMemory::kBlock + 1, 200);
        expect_bytes(5 * ProcessMemory::kBlock, 256);
        EXPECT_EQ(pm.syscalls() - before, 3u);
        // Within the stop a block is a snapshot...
        mem[9] = 0xee;
        EXPECT_NE(pm.read_u8(base + 9), std::optional<uint8_t>(0xee));
        // ...and no read reaches into the unmapped page.
        uint8_t tail[16];
        EXPECT_FALSE(pm.read(base + page - 8, tail));
        const Addr beyond[] = {base + page - 1, base + page + 1};
        pm.prefetch(beyond);
        expect_bytes(page - 8, 8);
    }
    // After the stop: the current bytes.
    EXPECT_EQ(pm.read_u8(base + 9), std::optional<uint8_t>(0xee));
    munmap(mem, page);
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

// The same breakpoints carried by jump patches (a trampoline with the int3 and the relocated
// instructions, here `mov` and a RIP-relative `lock xadd`): every hit reported at the
// breakpoint's own address, from every thread, the program's result unchanged.
TEST(Process, JumpPatchedBreakpointHitsEveryCallFromEveryThread) {
    Addr target = target_address();
    for (const char *mode : {"calls", "threads"}) {
        SCOPED_TRACE(mode);
        auto t = Tracee::launch({kVictim, mode, std::string(mode) == "calls" ? "1000" : "8"});
        t.map_scratch(64 * 1024, scratch_hints());
        t.insert_breakpoint(target, target_size());
        EXPECT_EQ(t.breakpoints().jump_patched(), 1u);
        Counter c(target);
        ExitStatus st = t.run(c);
        EXPECT_EQ(st.code, 0);
        EXPECT_EQ(c.hits, std::string(mode) == "calls" ? 1000 : 8000);
        EXPECT_EQ(t.stats().jump_patched_hits, static_cast<uint64_t>(c.hits));
    }
    // Once the program runs, other threads could be inside the bytes a patch rewrites: int3 only.
    auto t = Tracee::launch({kVictim, "calls", "10"});
    t.map_scratch(64 * 1024, scratch_hints());
    Remover first;
    t.insert_breakpoint(target, target_size());
    EXPECT_EQ(t.run(first).code, 0);
    EXPECT_EQ(first.hits, 1) << "removed at its first hit: the trampoline's int3 becomes a nop";
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

TEST(Process, AFailingTracerRestoresJumpPatchesAndLeavesTheProgramRunning) {
    auto t = Tracee::launch({kVictim, "threads", "8"});
    t.map_scratch(64 * 1024, scratch_hints());
    t.insert_breakpoint(target_address(), target_size());
    ASSERT_EQ(t.breakpoints().jump_patched(), 1u);
    Failing f;
    EXPECT_THROW(t.run(f), Error);
    // Every thread stopped, the original code back, all let go: the threads finish their calls.
    ASSERT_TRUE(t.last_exit().has_value());
    EXPECT_FALSE(t.last_exit()->signaled) << t.last_exit()->describe();
    EXPECT_EQ(t.last_exit()->code, 0);
}

} // namespace
} // namespace deftrace::testing
