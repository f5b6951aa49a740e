#include "process/signals.h"

#include <array>
#include <atomic>
#include <csignal>
#include <unistd.h>

namespace deftrace {

namespace {

constexpr int kMaxSignal = 64;

// Which signals deftrace inherited as ignored (the only disposition exec keeps).
std::array<bool, kMaxSignal + 1> g_inherited_ignored{};
bool g_saved = false;

std::atomic<pid_t> g_forward_to{0};

// The signals of a fault: deftrace's own when the kernel raised them or deftrace did (abort),
// the program's when another process sent them (kill -SEGV ...).
bool fault_signal(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE || sig == SIGABRT || sig == SIGTRAP ||
           sig == SIGSYS;
}

// The signals whose default action would end deftrace and that a user or another process can
// mean for the program. Not here: the stop signals (deftrace stops, as any process would, and
// the program's group-stop is reported apart), SIGCHLD, SIGCONT.
bool forwarded(int sig) {
    if (fault_signal(sig))
        return true;
    switch (sig) {
    case SIGHUP:
    case SIGINT:
    case SIGQUIT:
    case SIGPIPE:
    case SIGALRM:
    case SIGTERM:
    case SIGUSR1:
    case SIGUSR2:
    case SIGSTKFLT:
    case SIGVTALRM:
    case SIGPROF:
    case SIGIO:
    case SIGPWR:
    case SIGXCPU:
    case SIGXFSZ:
    case SIGWINCH:
    case SIGURG: return true;
    default: return sig >= SIGRTMIN && sig <= SIGRTMAX;
    }
}

struct Installed {
    std::array<struct sigaction, kMaxSignal + 1> old{};
    std::array<bool, kMaxSignal + 1> set{};
};
Installed g_installed;

void on_signal(int sig, siginfo_t *info, void *) {
    if (fault_signal(sig) && (info == nullptr || info->si_code > 0 || info->si_pid == getpid())) {
        // deftrace's own fault: as if it were not caught (a kernel fault runs again on return, and
        // the previous handler, a sanitizer's say, or the default action takes it).
        sigaction(sig, &g_installed.old[static_cast<size_t>(sig)], nullptr);
        if (info == nullptr || info->si_code <= 0)
            raise(sig);
        return;
    }
    if (info != nullptr) {
        if (info->si_code == SI_KERNEL) // from the terminal, to the whole process group
            return;
        if (info->si_code == SI_USER && info->si_pid == getpid()) // raised by our own write
            return;
    }
    const pid_t pid = g_forward_to.load();
    if (pid > 0)
        ::kill(pid, sig); // async-signal-safe; the program sees it at its next signal-delivery-stop
}

} // namespace

void save_inherited_signal_dispositions() {
    for (int sig = 1; sig <= kMaxSignal; ++sig) {
        struct sigaction sa {};
        if (sigaction(sig, nullptr, &sa) == 0)
            g_inherited_ignored[static_cast<size_t>(sig)] = sa.sa_handler == SIG_IGN;
    }
    g_saved = true;
}

void restore_inherited_signal_dispositions() {
    if (!g_saved)
        return;
    for (int sig = 1; sig <= kMaxSignal; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        struct sigaction sa {};
        sa.sa_handler = g_inherited_ignored[static_cast<size_t>(sig)] ? SIG_IGN : SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, nullptr);
    }
}

SignalForwarding::SignalForwarding(pid_t pid) {
    g_forward_to.store(pid);
    struct sigaction sa {};
    sa.sa_sigaction = on_signal;
    // SA_RESTART: deftrace's own system calls (waitpid, ptrace, writes) go on undisturbed; the
    // handler does the forwarding itself.
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig <= kMaxSignal; ++sig) {
        if (!forwarded(sig))
            continue;
        g_installed.set[static_cast<size_t>(sig)] =
            sigaction(sig, &sa, &g_installed.old[static_cast<size_t>(sig)]) == 0;
    }
}

SignalForwarding::~SignalForwarding() {
    for (int sig = 1; sig <= kMaxSignal; ++sig)
        if (g_installed.set[static_cast<size_t>(sig)]) {
            sigaction(sig, &g_installed.old[static_cast<size_t>(sig)], nullptr);
            g_installed.set[static_cast<size_t>(sig)] = false;
        }
    g_forward_to.store(0);
}

} // namespace deftrace
