// Measures, in one run on this machine:
//   bare   a tracee executing int3 in a loop; the tracer only waits and continues (the cheapest
//          possible ptrace stop/continue round trip)
//   hit    a tracee calling a function with a deftrace breakpoint on it: the same stop plus
//          deftrace's work per hit (registers in and out, stub execution, handler dispatch),
//          with the breakpoint as an int3 and as a jump patch (registers in only)
// and prints both per-stop costs and their ratio. Usage: ptrace_cost VICTIM [N] [ROUNDS] [SYMBOL]
// VICTIM is tests/fixtures/victim.c (SYMBOL target) or bench/go_victim (main.target.abi0): the
// same stops in a Go process, with its threads and signals.
#include "binary/elf_file.h"
#include "binary/load_bias.h"
#include "process/tracee.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace deftrace;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

double run_untraced(const std::string &victim, const char *mode, long n) {
    auto t0 = Clock::now();
    pid_t pid = fork();
    if (pid == 0) {
        // Without a tracer int3 would kill it; "calls" mode runs the plain loop.
        execl(victim.c_str(), victim.c_str(), mode, std::to_string(n).c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return seconds_since(t0);
}

double run_bare(const std::string &victim, long n) {
    auto t0 = Clock::now();
    pid_t pid = fork();
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
        execl(victim.c_str(), victim.c_str(), "traps", std::to_string(n).c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0); // exec stop
    // Every thread (a Go program runs its goroutines on several), each int3 continued at once.
    ptrace(PTRACE_SETOPTIONS, pid, nullptr, reinterpret_cast<void *>(PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL));
    ptrace(PTRACE_CONT, pid, nullptr, nullptr);
    long stops = 0;
    for (;;) {
        const pid_t t = waitpid(-1, &st, __WALL);
        if (t < 0)
            break; // no thread left
        if (!WIFSTOPPED(st))
            continue;
        long deliver = 0;
        if (WSTOPSIG(st) == SIGTRAP && (st >> 16) == 0)
            ++stops; // rip is already past the int3
        else if ((st >> 16) == 0 && WSTOPSIG(st) != SIGSTOP)
            deliver = WSTOPSIG(st); // the program's own signal (a Go program's SIGURG)
        ptrace(PTRACE_CONT, t, nullptr, reinterpret_cast<void *>(deliver));
    }
    if (stops != n)
        std::fprintf(stderr, "bare: expected %ld stops, saw %ld\n", n, stops);
    return seconds_since(t0);
}

class Empty : public StopHandler {
public:
    void on_breakpoint(ThreadStop &, Addr) override { ++hits; }
    long hits = 0;
};

// `patched`: the breakpoint carried by a jump patch (the function has no inner jump targets), so
// a hit reads the registers and writes none; otherwise an int3, whose hit also writes them.
double run_deftrace(const std::string &victim, const std::string &symbol, long n, bool patched) {
    auto sym = ElfFile::open(victim).symbol(symbol);
    if (!sym) {
        std::fprintf(stderr, "ptrace_cost: no symbol %s in %s\n", symbol.c_str(), victim.c_str());
        std::exit(1);
    }
    const Addr target = LoadBias().runtime(sym->value); // the victim is not PIE
    auto t0 = Clock::now();
    auto t = Tracee::launch({victim, "calls", std::to_string(n)});
    t.map_scratch(64 * 1024, {Addr(0x300000), Addr(0x10000000), Addr(0x20000000)});
    if (patched)
        t.insert_breakpoint(target, sym->size);
    else
        t.insert_breakpoint(target);
    if (patched && t.breakpoints().jump_patched() != 1)
        std::fprintf(stderr, "deftrace: %s could not be jump-patched\n", symbol.c_str());
    Empty h;
    t.run(h);
    if (h.hits != n)
        std::fprintf(stderr, "deftrace: expected %ld hits, saw %ld\n", n, h.hits);
    return seconds_since(t0);
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: ptrace_cost VICTIM [N] [ROUNDS] [SYMBOL]\n");
        return 64;
    }
    const std::string victim = argv[1];
    const long n = argc > 2 ? std::stol(argv[2]) : 200000;
    const int rounds = argc > 3 ? std::stoi(argv[3]) : 5;
    const std::string symbol = argc > 4 ? argv[4] : "target";
    std::vector<double> base, bare, hit, jump;
    for (int r = 0; r < rounds; ++r) {
        base.push_back(run_untraced(victim, "calls", n));
        bare.push_back(run_bare(victim, n));
        hit.push_back(run_deftrace(victim, symbol, n, false));
        jump.push_back(run_deftrace(victim, symbol, n, true));
    }
    auto best = [](std::vector<double> v) { return *std::min_element(v.begin(), v.end()); };
    const double b = best(base), per_bare = (best(bare) - b) / n, per_hit = (best(hit) - b) / n,
                 per_jump = (best(jump) - b) / n;
    std::printf("stops per run            %ld (best of %d rounds)\n", n, rounds);
    std::printf("bare ptrace stop/cont    %.2f us\n", per_bare * 1e6);
    std::printf("deftrace breakpoint hit  %.2f us   int3 (registers read and written)\n", per_hit * 1e6);
    std::printf("  jump-patched           %.2f us   (registers read only)\n", per_jump * 1e6);
    std::printf("ratio hit/bare           %.2f   int3\n", per_hit / per_bare);
    std::printf("ratio hit/bare           %.2f   jump-patched\n", per_jump / per_bare);
    return 0;
}
