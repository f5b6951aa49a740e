#include "process/tracee.h"

#include "binary/error.h"
#include "binary/unique_fd.h"
#include "process/signal_frames.h"
#include "process/signals.h"

#include "arch/guarded_trap.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <elf.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace deftrace {

namespace {

// Holds a signal blocked in this thread while alive.
class BlockedSignal {
public:
    explicit BlockedSignal(int sig) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        pthread_sigmask(SIG_BLOCK, &set, &old_);
    }
    ~BlockedSignal() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    BlockedSignal(const BlockedSignal &) = delete;
    BlockedSignal &operator=(const BlockedSignal &) = delete;

private:
    sigset_t old_{};
};

[[noreturn]] void ptrace_failed(const char *what, pid_t tid) {
    throw Error(ErrorKind::Process,
                std::string(what) + " on thread " + std::to_string(tid) + ": " + std::strerror(errno));
}

void cont(pid_t tid, int sig) {
    // ESRCH: the thread died meanwhile (e.g. exit_group raced us); its exit is reported later.
    if (ptrace(PTRACE_CONT, tid, nullptr, reinterpret_cast<void *>(static_cast<intptr_t>(sig))) != 0 && errno != ESRCH)
        ptrace_failed("PTRACE_CONT", tid);
}

} // namespace

Registers get_registers(pid_t tid) {
    Registers r;
    if (ptrace(PTRACE_GETREGS, tid, nullptr, &r.raw) != 0)
        ptrace_failed("PTRACE_GETREGS", tid);
    return r;
}

// nullopt when the thread is gone: a thread stopped a moment ago can be killed before we read it
// (another thread called exit_group); its exit is reported by waitpid later.
std::optional<Registers> registers_of(pid_t tid) {
    Registers r;
    if (ptrace(PTRACE_GETREGS, tid, nullptr, &r.raw) == 0)
        return r;
    if (errno == ESRCH)
        return std::nullopt;
    ptrace_failed("PTRACE_GETREGS", tid);
}

void set_registers(pid_t tid, const Registers &regs) {
    // ESRCH: the thread died meanwhile, as in registers_of.
    if (ptrace(PTRACE_SETREGS, tid, nullptr, &regs.raw) != 0 && errno != ESRCH)
        ptrace_failed("PTRACE_SETREGS", tid);
}

Tracee::Tracee(pid_t pid, bool attached) : pid_(pid), memory_(pid), attached_(attached) {
    threads_.insert(pid);
}

Tracee::Tracee(Tracee &&o) noexcept
    : pid_(std::exchange(o.pid_, -1)), memory_(std::move(o.memory_)), breakpoints_(std::move(o.breakpoints_)),
      threads_(std::move(o.threads_)), last_hit_(std::move(o.last_hit_)), pending_(std::move(o.pending_)),
      exit_(o.exit_), exit_reported_(o.exit_reported_), started_(o.started_), attached_(o.attached_),
      attach_pcs_(std::move(o.attach_pcs_)), attach_threads_(std::move(o.attach_threads_)),
      restorers_(std::move(o.restorers_)), deferred_signals_(std::move(o.deferred_signals_)),
      between_stops_(std::move(o.between_stops_)), tick_ns_(o.tick_ns_), stats_(o.stats_), policy_(o.policy_),
      children_(std::move(o.children_)), unclaimed_(std::move(o.unclaimed_)), parent_pid_(o.parent_pid_),
      handler_(o.handler_), shares_memory_(o.shares_memory_), guard_signal_(o.guard_signal_), log_(o.log_),
      region_(std::move(o.region_)), ring_(std::move(o.ring_)), ring_at_(o.ring_at_),
      last_mark_(std::move(o.last_mark_)), scratch_(o.scratch_), scratch_size_(o.scratch_size_) {}

Tracee::~Tracee() {
    // A process deftrace attached to is someone else's, and a child process its parent's:
    // whatever went wrong, let it go on as it was (breakpoints removed, every thread detached).
    if (pid_ > 0 && (attached_ || parent_pid_ != 0) && !exit_) {
        try {
            detach_all(std::nullopt);
        } catch (...) {
        }
        return;
    }
    // Never leave a stopped tracee behind: if run() did not see the end, kill it (EXITKILL would
    // do the same when deftrace exits; this covers errors before run()).
    if (pid_ > 0 && !exit_) {
        ::kill(pid_, SIGKILL);
        int st;
        while (waitpid(pid_, &st, __WALL) < 0 && errno == EINTR) {
        }
    }
}

Tracee Tracee::launch(const std::vector<std::string> &argv) {
    if (argv.empty())
        throw Error(ErrorKind::Usage, "no program to run");
    // exec's error, if any, comes back through this pipe (close-on-exec: a successful exec
    // closes the child's end). Owned, so that no failure below leaks either end.
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        throw Error(ErrorKind::Process, std::string("pipe: ") + std::strerror(errno));
    UniqueFd exec_errors(pipefd[0]), exec_errors_child(pipefd[1]);
    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);

    pid_t pid = fork();
    if (pid < 0)
        throw Error(ErrorKind::Process, std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        // Wait, stopped, until the parent has seized us; then become the program.
        restore_inherited_signal_dispositions();
        raise(SIGSTOP);
        execvp(args[0], args.data());
        int e = errno;
        (void)!write(exec_errors_child.get(), &e, sizeof e);
        _exit(127);
    }
    exec_errors_child.reset(); // the child's end: EOF here once exec succeeds
    auto fail = [&](const std::string &what) {
        int e = errno;
        ::kill(pid, SIGKILL);
        int ignored;
        waitpid(pid, &ignored, __WALL);
        throw Error(ErrorKind::Process, what + ": " + std::strerror(e));
    };
    int st = 0;
    if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st))
        fail("the child did not stop before exec");
    // PTRACE_SEIZE (not TRACEME): group-stops stay group-stops (Ctrl-Z works) and running
    // threads can be interrupted for a clean detach.
    long opts =
        PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;
    if (ptrace(PTRACE_SEIZE, pid, nullptr, reinterpret_cast<void *>(opts)) != 0)
        fail("PTRACE_SEIZE");
    ::kill(pid, SIGCONT);
    for (;;) {
        if (waitpid(pid, &st, __WALL) != pid)
            fail("waitpid");
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            int child_errno = 0;
            ssize_t n = read(exec_errors.get(), &child_errno, sizeof child_errno);
            if (n == sizeof child_errno) {
                ErrorKind k = child_errno == ENOENT                             ? ErrorKind::NotFound
                              : (child_errno == EACCES || child_errno == EPERM) ? ErrorKind::Permission
                                                                                : ErrorKind::Process;
                throw Error(k, "cannot run " + argv[0] + ": " + std::strerror(child_errno));
            }
            throw Error(ErrorKind::Process, "the program ended before it started");
        }
        if (!WIFSTOPPED(st))
            continue;
        if (WSTOPSIG(st) == SIGTRAP && (st >> 16) == PTRACE_EVENT_EXEC)
            break; // the program's first instruction
        // The SIGSTOP group-stop and the SIGCONT that ends it: pass through.
        int deliver = (st >> 16) == 0 && WSTOPSIG(st) != SIGSTOP ? WSTOPSIG(st) : 0;
        if (ptrace(PTRACE_CONT, pid, nullptr, reinterpret_cast<void *>(static_cast<intptr_t>(deliver))) != 0)
            fail("PTRACE_CONT");
    }
    return Tracee(pid);
}

namespace {

std::vector<pid_t> tasks_of(pid_t pid) {
    std::vector<pid_t> tids;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec))
        if (const pid_t t = static_cast<pid_t>(std::strtol(e.path().filename().c_str(), nullptr, 10)); t > 0)
            tids.push_back(t);
    return tids;
}

// The tracer of thread `tid` (/proc/TID/status, TracerPid): 0 when none, -1 when it is gone.
pid_t tracer_of(pid_t tid) {
    std::ifstream status("/proc/" + std::to_string(tid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("TracerPid:"))
            return static_cast<pid_t>(std::stol(line.substr(10)));
    return -1;
}

// Gone, or a zombie: exited, only its status left to collect.
bool process_ended(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return true;
    const size_t paren = line.rfind(')');
    return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z' || line[paren + 2] == 'X';
}

std::string command_of(pid_t pid) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    return name.empty() ? "?" : name;
}

std::string ptrace_scope() {
    std::ifstream in("/proc/sys/kernel/yama/ptrace_scope");
    std::string v;
    return in >> v ? v : "";
}

} // namespace

Tracee Tracee::attach(pid_t pid) {
    const std::string who = "process " + std::to_string(pid);
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH))
        throw Error(ErrorKind::NotFound, "no such process: " + std::to_string(pid));
    // No PTRACE_O_EXITKILL: the program is not ours, it must outlive deftrace. TRACESYSGOOD: a
    // thread left in a system call stop (inject_syscall) by a deftrace that died is sent
    // SIGTRAP by the kernel unless the stop's status is SIGTRAP | 0x80, which is no signal.
    const long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_TRACESYSGOOD;
    if (ptrace(PTRACE_SEIZE, pid, nullptr, reinterpret_cast<void *>(opts)) != 0) {
        const int e = errno;
        if (e == ESRCH || process_ended(pid))
            throw Error(ErrorKind::NotFound, "no such process: " + std::to_string(pid));
        if (const pid_t tracer = tracer_of(pid); tracer > 0)
            throw Error(ErrorKind::Permission, "cannot attach to " + who + ": traced by process " +
                                                   std::to_string(tracer) + " (" + command_of(tracer) + ")");
        if (e == EPERM || e == EACCES) {
            const std::string scope = ptrace_scope();
            throw Error(ErrorKind::Permission,
                        "cannot attach to " + who + ": " + std::strerror(e) +
                            " (another user's, or forbidden by /proc/sys/kernel/yama/ptrace_scope" +
                            (scope.empty() ? "" : " = " + scope) + ")");
        }
        throw Error(ErrorKind::Process, "cannot attach to " + who + ": " + std::strerror(e));
    }
    // From here on the destructor detaches whatever has been seized.
    Tracee t(pid, true);
    t.threads_.clear();
    std::unordered_set<pid_t> seen;
    auto interrupt = [&](pid_t tid) {
        // A thread created since by a seized one is ours already (clone tracing): EPERM. A thread
        // another tracer holds would be left out, and trap on the breakpoints: all or none.
        if (tid != pid && ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void *>(opts)) != 0) {
            const int e = errno;
            const pid_t tracer = tracer_of(tid);
            if (e == ESRCH || tracer < 0)
                return; // gone meanwhile
            if (tracer != getpid())
                throw Error(ErrorKind::Permission,
                            "cannot attach to thread " + std::to_string(tid) + " of " + who + ": " +
                                (tracer > 0
                                     ? "traced by process " + std::to_string(tracer) + " (" + command_of(tracer) + ")"
                                     : std::string(std::strerror(e))) +
                                "; nothing was changed");
        }
        if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0)
            return;
        t.threads_.insert(tid); // the destructor's to let go, should a later thread fail
    };
    // Go starts threads at any time: list again until a pass finds none that is new. Each pass
    // interrupts every new thread before waiting for any: they stop together, and the process
    // is stopped for the longest of their delays rather than their sum (a loaded machine takes
    // milliseconds to schedule each).
    for (bool more = true; more;) {
        more = false;
        std::vector<pid_t> interrupted;
        for (pid_t tid : tasks_of(pid))
            if (seen.insert(tid).second) {
                more = true;
                interrupt(tid);
                if (t.threads_.contains(tid))
                    interrupted.push_back(tid);
            }
        for (pid_t tid : interrupted)
            if (!t.wait_attached(tid))
                t.threads_.erase(tid);
    }
    if (!t.threads_.contains(pid) || process_ended(pid))
        throw Error(ErrorKind::NotFound, "no such process: " + std::to_string(pid) + " (it ended)");
    t.stats_.threads = t.threads_.size();
    for (pid_t tid : t.threads_)
        if (auto regs = registers_of(tid))
            t.attach_threads_[tid] = regs->pc();
    return t;
}

void Tracee::detach() {
    detach_all(std::nullopt);
    ExitStatus detached;
    detached.detached = true;
    exit_ = detached;
}

size_t Tracee::undo(const CodeLog &log) {
    size_t n = 0;
    for (const CodeLog::Change &c : log.pending()) {
        std::vector<uint8_t> now(c.written.size());
        if (memory_.read(c.at, now) && now == c.written) {
            memory_.write(c.at, c.original);
            ++n;
        }
    }
    if (log.region_size() != 0) {
        scratch_ = log.region();
        scratch_size_ = log.region_size();
    }
    if (log.ring_size() != 0)
        ring_at_ = log.ring();
    return n;
}

bool Tracee::wait_attached(pid_t tid) {
    for (;;) {
        int st = 0;
        if (waitpid(tid, &st, __WALL) != tid) {
            if (errno == EINTR)
                continue;
            return false;
        }
        const WaitStop stop = decode_wait_status(st);
        switch (stop.kind) {
        case WaitStop::Kind::Ended: return false;
        case WaitStop::Kind::EventStop:
        case WaitStop::Kind::GroupStop: return true;
        case WaitStop::Kind::Trap:
        case WaitStop::Kind::Signal:
            // A signal that arrived before the interrupt: delivered when the thread is let go
            // (run(), a detach). Delivered now, the thread would stop in its handler, which may
            // return into code deftrace is about to patch.
            deferred_signals_[tid].push_back(stop.signal);
            cont(tid, 0);
            break;
        default: cont(tid, 0); break; // a clone (the new thread is listed later), an exit
        }
    }
}

bool Tracee::stopped_inside(Addr addr, size_t patchable) const {
    auto inside = [&](Addr pc) { return pc > addr && pc < addr + patchable; };
    return std::any_of(attach_pcs_.begin(), attach_pcs_.end(), inside) ||
           std::any_of(attach_threads_.begin(), attach_threads_.end(), [&](const auto &t) { return inside(t.second); });
}

// The probe region and the record ring are memfds of the process's own (a descriptor of
// deftrace's would not be the process's to map), created, mapped and closed by system calls run
// in its leader; deftrace opens each again through /proc/PID/fd to map it too. The process keeps
// the mapping, no descriptor.
Tracee::SharedFile Tracee::create_shared_file(std::string_view name, size_t size) {
    // memfd_create's name, just below the leader's stack pointer (no Go code keeps anything
    // there), put back after.
    const Addr name_at = get_registers(pid_).sp() - 256;
    std::vector<uint8_t> saved(name.size() + 1), name_bytes(name.size() + 1, 0);
    std::memcpy(name_bytes.data(), name.data(), name.size());
    if (!memory_.read(name_at, saved))
        throw Error(ErrorKind::Process, "cannot read the leader's stack at " + name_at.hex());
    memory_.write(name_at, name_bytes);
    const int64_t fd = inject_syscall(SYS_memfd_create, {name_at.value(), MFD_CLOEXEC});
    memory_.write(name_at, saved);
    if (fd < 0)
        throw Error(ErrorKind::Process,
                    std::string("memfd_create in the process: ") + std::strerror(static_cast<int>(-fd)));
    const std::string path = "/proc/" + std::to_string(pid_) + "/fd/" + std::to_string(fd);
    UniqueFd ours(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!ours.valid() || ftruncate(ours.get(), static_cast<off_t>(size)) != 0) {
        const int e = errno;
        inject_syscall(SYS_close, {static_cast<uint64_t>(fd)});
        throw Error(ErrorKind::Process, "cannot open " + path + ": " + std::strerror(e));
    }
    return {fd, std::move(ours)};
}

// Maps the process's `file` at the first of `hints` free (MAP_FIXED_NOREPLACE); null if none.
Addr Tracee::map_shared_file(const SharedFile &file, size_t size, int prot, const std::vector<Addr> &hints,
                             std::string &last_error) {
    for (Addr hint : hints) {
        const int64_t ret =
            inject_syscall(SYS_mmap, {hint.value(), size, static_cast<uint64_t>(prot), MAP_SHARED | MAP_FIXED_NOREPLACE,
                                      static_cast<uint64_t>(file.theirs), 0});
        if (ret < 0 && ret > -4096) {
            last_error = std::strerror(static_cast<int>(-ret));
            continue;
        }
        const Addr got(static_cast<uint64_t>(ret));
        if (got != hint) { // an old kernel's plain hint: not where the code can reach
            inject_syscall(SYS_munmap, {got.value(), size});
            continue;
        }
        return got;
    }
    return Addr();
}

Addr Tracee::map_probe_region(const std::vector<Addr> &hints) {
    SharedFile file = create_shared_file(ProbeRegion::kName, ProbeRegion::kSize);
    auto close_theirs = [&] { inject_syscall(SYS_close, {static_cast<uint64_t>(file.theirs)}); };
    std::string last_error = "no address to try";
    const Addr got = map_shared_file(file, ProbeRegion::kSize, PROT_READ | PROT_EXEC, hints, last_error);
    close_theirs();
    if (got.is_null())
        throw Error(ErrorKind::Process, "cannot map the probe region in the process near its code: " + last_error);
    log_->set_region(got, ProbeRegion::kSize);
    try {
        region_ = std::make_unique<ProbeRegion>(std::move(file.ours), got);
    } catch (const Error &) {
        inject_syscall(SYS_munmap, {got.value(), ProbeRegion::kSize});
        log_->set_region(Addr(), 0);
        throw;
    }
    memory_.map_local(got, region_->local(got), ProbeRegion::kSize);
    breakpoints_.set_scratch(region_->code(), region_->code_size());
    scratch_ = got;
    scratch_size_ = ProbeRegion::kSize;
    return got;
}

bool Tracee::map_record_ring(const std::vector<Addr> &hints, uint32_t capacity) {
    ring_.reset();
    SharedFile file = create_shared_file(RecordRing::kName, RecordRing::kSize);
    std::string last_error;
    const Addr got = map_shared_file(file, RecordRing::kSize, PROT_READ | PROT_WRITE, hints, last_error);
    inject_syscall(SYS_close, {static_cast<uint64_t>(file.theirs)});
    if (got.is_null())
        return false;
    ring_ = std::make_unique<RecordRing>(std::move(file.ours), got, capacity);
    ring_at_ = got;
    if (log_ != nullptr)
        log_->set_ring(got, RecordRing::kSize);
    return true;
}

std::optional<uint64_t> Tracee::auxv(uint64_t type) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/auxv", std::ios::binary);
    uint64_t kv[2];
    while (in.read(reinterpret_cast<char *>(kv), sizeof kv)) {
        if (kv[0] == AT_NULL)
            break;
        if (kv[0] == type)
            return kv[1];
    }
    return std::nullopt;
}

namespace {

constexpr long kErestartSys = -512, kErestartNoIntr = -513;

// waitpid for one thread, through EINTR.
pid_t wait_for(pid_t tid, int &st) {
    pid_t got;
    while ((got = waitpid(tid, &st, __WALL)) < 0 && errno == EINTR) {
    }
    return got;
}

// A thread in a system call's exit stop goes back to an interrupt stop. The kernel restarts a
// call a stop interrupted (ERESTARTSYS...) on the way out of a stop taken while handling signals,
// not out of an exit stop: without this, the call the thread was in before deftrace borrowed it
// would return that error to the program.
void stop_in_signal_handling(pid_t tid, std::vector<int> &queued) {
    if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0 || ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0)
        return;
    for (;;) {
        int st = 0;
        if (wait_for(tid, st) != tid || !WIFSTOPPED(st) || (st >> 16) != 0)
            return; // the interrupt stop (or the thread is gone)
        // A signal first, then the interrupt at its resume: queued again later.
        queued.push_back(WSTOPSIG(st));
        if (ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0)
            return;
    }
}

// Drives thread `tid` with PTRACE_SYSCALL through a system call's entry and exit stops, both with
// the pc `after` (the instruction after the `syscall`); signals reported meanwhile are added to
// `queued` (to be queued again). False when the call did not run.
bool run_one_syscall(pid_t tid, Addr after, std::vector<int> &queued, Registers &at_exit) {
    bool entered = false;
    for (int tries = 0; tries < 64; ++tries) {
        if (ptrace(PTRACE_SYSCALL, tid, nullptr, nullptr) != 0)
            ptrace_failed("PTRACE_SYSCALL", tid);
        int st = 0;
        if (wait_for(tid, st) != tid || !WIFSTOPPED(st))
            throw Error(ErrorKind::Process, "the tracee did not stop around an injected system call");
        at_exit = get_registers(tid);
        if (!(WSTOPSIG(st) == (SIGTRAP | 0x80) && (st >> 16) == 0 && at_exit.pc() == after)) {
            if ((st >> 16) == 0 && WSTOPSIG(st) != SIGTRAP && WSTOPSIG(st) != (SIGTRAP | 0x80))
                queued.push_back(WSTOPSIG(st));
            continue;
        }
        if (entered)
            return true;
        entered = true;
    }
    return false;
}

} // namespace

void Tracee::set_parking(Addr lo, Addr hi) {
    parking_ = {lo, hi};
    if (log_ != nullptr)
        log_->set_parking(lo, hi);
}

std::optional<pid_t> Tracee::parked_thread() const {
    if (parking_.second.is_null())
        return std::nullopt;
    for (pid_t t : threads_)
        if (auto regs = registers_of(t); regs && regs->raw.orig_rax == SYS_futex &&
                                         static_cast<int64_t>(regs->raw.rax) == kErestartSys &&
                                         regs->pc() >= parking_.first && regs->pc() < parking_.second)
            return t;
    return std::nullopt;
}

int64_t Tracee::inject_syscall(long nr, std::initializer_list<uint64_t> args) {
    // A thread parked in a futex wait in the code set_parking names (every idle thread of a Go
    // program, in runtime.futex), interrupted: the
    // kernel restarts its system call when it resumes, so it is made to restart this one instead,
    // from its own `syscall` instruction, and then its own again. Should deftrace die meanwhile,
    // the thread runs this call and returns to the runtime's futex wrapper with its result, which
    // the runtime ignores (futexsleep loops on its condition) and registers its ABI does not keep:
    // nothing of the program changed but what the call did. Otherwise, the leader.
    const std::optional<pid_t> parked = parked_thread();
    if (!parked)
        return inject_syscall(pid_, nr, args);
    const Registers saved = get_registers(*parked);
    Registers r = saved;
    r.raw.orig_rax = static_cast<unsigned long long>(nr);
    r.raw.rax = static_cast<unsigned long long>(kErestartNoIntr); // restarted as orig_rax
    unsigned long long *regs[] = {&r.raw.rdi, &r.raw.rsi, &r.raw.rdx, &r.raw.r10, &r.raw.r8, &r.raw.r9};
    size_t i = 0;
    for (uint64_t a : args)
        *regs[i++] = a;
    set_registers(*parked, r);
    std::vector<int> queued;
    Registers after;
    const bool ran = run_one_syscall(*parked, saved.pc(), queued, after);
    // Its own state back, and back in an interrupt stop: the kernel restarts an interrupted call
    // on the way out of a stop taken while handling signals, not out of a system call's exit
    // stop. (Killed before that, the thread returns to the runtime's futex wrapper, which
    // ignores the error it gets and waits again.)
    set_registers(*parked, saved);
    stop_in_signal_handling(*parked, queued);
    for (int sig : queued)
        syscall(SYS_tgkill, pid_, *parked, sig);
    if (!ran)
        throw Error(ErrorKind::Process, "an injected system call did not run");
    return static_cast<int64_t>(after.raw.rax);
}

int64_t Tracee::inject_syscall(pid_t tid, long nr, std::initializer_list<uint64_t> args) {
    // Run one `syscall` instruction at the current pc of the (stopped) thread, every other thread
    // stopped too, then put its code and registers back. The thread is driven from the call's
    // entry stop to its exit stop (PTRACE_SYSCALL), not single-stepped: the trap flag a single
    // step leaves set until the thread's next resume would kill it with SIGTRAP should deftrace
    // die before then.
    const Registers saved = get_registers(tid);
    const Addr at = saved.pc();
    uint8_t original[2];
    if (!memory_.read(at, original))
        throw Error(ErrorKind::Process, "cannot read the tracee's code at " + at.hex());
    const uint8_t syscall_insn[2] = {0x0f, 0x05};
    memory_.patch(at, syscall_insn);
    Registers r = saved;
    r.raw.rax = static_cast<unsigned long long>(nr);
    r.raw.orig_rax = static_cast<unsigned long long>(-1); // not inside a syscall: no restart
    unsigned long long *regs[] = {&r.raw.rdi, &r.raw.rsi, &r.raw.rdx, &r.raw.r10, &r.raw.r8, &r.raw.r9};
    size_t i = 0;
    for (uint64_t a : args)
        *regs[i++] = a;
    set_registers(tid, r);
    // A signal queued for the thread is reported before the instruction runs: it is queued
    // again afterwards.
    std::vector<int> queued;
    Registers after;
    const bool done = run_one_syscall(tid, at + sizeof syscall_insn, queued, after);
    memory_.patch(at, original);
    set_registers(tid, saved);
    stop_in_signal_handling(tid, queued);
    for (int sig : queued)
        syscall(SYS_tgkill, pid_, tid, sig);
    if (!done)
        throw Error(ErrorKind::Process, "an injected system call did not run");
    return static_cast<int64_t>(after.raw.rax);
}

// sigaltstack(NULL, &old) run in the thread tells whether it runs on its signal stack: in a
// handler, which may return to where the signal interrupted it.
bool Tracee::on_signal_stack(pid_t tid) {
    const Addr buf = get_registers(tid).sp() - 512; // below its stack pointer, put back after
    uint8_t saved[sizeof(stack_t)];
    if (!memory_.read(buf, saved))
        return false;
    const int64_t r = inject_syscall(tid, SYS_sigaltstack, {0, buf.value()});
    stack_t ss{};
    const bool read = memory_.read(buf, std::span<uint8_t>(reinterpret_cast<uint8_t *>(&ss), sizeof ss));
    memory_.write(buf, saved);
    return r == 0 && read && (ss.ss_flags & SS_ONSTACK) != 0;
}

const std::vector<std::pair<Addr, Addr>> &Tracee::signal_restorers() {
    if (restorers_)
        return *restorers_;
    restorers_.emplace();
    // struct sigaction as the kernel has it (kernel_sigaction): handler, flags, restorer, mask.
    struct KernelSigaction {
        uint64_t handler, flags, restorer, mask;
    } old{};
    constexpr uint64_t kSaRestorer = 0x04000000; // SA_RESTORER, asm/signal.h
    constexpr uint64_t kRestorerSize = 16;       // mov $15, %eax (or %rax); syscall
    try {
        const Addr buf = get_registers(pid_).sp() - 512; // below the leader's stack pointer, put back after
        uint8_t saved[sizeof old];
        if (!memory_.read(buf, saved))
            return *restorers_;
        const int64_t r = inject_syscall(SYS_rt_sigaction, {SIGURG, 0, buf.value(), sizeof old.mask});
        const bool read = memory_.read(buf, std::span<uint8_t>(reinterpret_cast<uint8_t *>(&old), sizeof old));
        memory_.write(buf, saved);
        if (r == 0 && read && (old.flags & kSaRestorer) != 0 && old.restorer != 0)
            restorers_->emplace_back(Addr(old.restorer), Addr(old.restorer + kRestorerSize));
    } catch (const Error &) {
        // No restorer known: a thread in a handler is then taken to return anywhere.
    }
    return *restorers_;
}

void Tracee::leave_signal_handlers() {
    const auto &restorers = signal_restorers();
    if (restorers.empty())
        return;
    auto in_handler = [&](pid_t tid) {
        const auto r = registers_of(tid);
        return r && !signal_frames(memory_, r->pc(), r->sp(), restorers).empty();
    };
    // A handler returns within microseconds; one that does not (it waits for something) is left
    // where it is after a few rounds: its interrupted pc is then kept out of every patch
    // (keep_unpatched).
    constexpr int kRounds = 50;
    std::unordered_map<pid_t, Held> driven; // every thread resumed, until its own mask is back
    for (int round = 0; round < kRounds; ++round) {
        std::vector<Held *> in;
        for (pid_t tid : threads_)
            if (in_handler(tid))
                in.push_back(&driven.try_emplace(tid, Held{tid, 0, false}).first->second);
        if (in.empty())
            break;
        const std::unordered_set<pid_t> before = threads_;
        const std::unordered_set<pid_t> gone = run_a_moment(in, round);
        for (Held *h : in) {
            if (gone.contains(h->tid)) {
                threads_.erase(h->tid);
                attach_threads_.erase(h->tid);
                driven.erase(h->tid);
                continue;
            }
            if (auto r = registers_of(h->tid))
                attach_threads_[h->tid] = r->pc();
        }
        // A thread created meanwhile starts in a stop of its own (clone tracing): waited for.
        for (pid_t tid : std::vector<pid_t>(threads_.begin(), threads_.end()))
            if (!before.contains(tid)) {
                if (!wait_attached(tid)) {
                    threads_.erase(tid);
                    continue;
                }
                if (auto r = registers_of(tid))
                    attach_threads_[tid] = r->pc();
            }
    }
    // Signals that came meanwhile reach each thread when it is let go.
    for (auto &[tid, h] : driven) {
        restore_signals(h);
        auto &d = deferred_signals_[tid];
        if (h.deliver != 0)
            d.push_back(h.deliver);
        d.insert(d.end(), h.later.begin(), h.later.end());
        if (d.empty())
            deferred_signals_.erase(tid);
    }
}

bool Tracee::resumes_inside(pid_t tid, Addr base, size_t size) {
    const auto r = registers_of(tid);
    if (!r)
        return false;
    auto inside = [&](Addr pc) { return pc >= base && pc < base + size; };
    if (inside(r->pc()))
        return true;
    const auto &restorers = signal_restorers();
    if (restorers.empty())
        return on_signal_stack(tid);
    const auto frames = signal_frames(memory_, r->pc(), r->sp(), restorers);
    return std::any_of(frames.begin(), frames.end(), [&](const InterruptedContext &c) { return inside(c.pc); });
}

void Tracee::guard(int signal, CodeLog &log) {
    if (!attached_ || started_)
        throw Error(ErrorKind::Usage, "guarded breakpoints are for a process attached to, before it runs");
    guard_signal_ = signal;
    log_ = &log;
    log.set_process(pid_);
    log.set_parking(parking_.first, parking_.second);
    memory_.set_code_log(&log);
}

bool Tracee::insert_breakpoint(Addr addr, size_t patchable, size_t before, const RecordSpec *record, bool or_int3) {
    // A recording probe needs the ring, and its gate when attached (arch/record_stub.h).
    std::optional<RecordSpec> spec;
    if (record != nullptr && ring_) {
        spec = *record;
        ring_->describe(*spec);
        if (region_) {
            spec->gate = region_->gate();
            spec->gate_open = region_->gate_open();
        }
    }
    if (guarded()) {
        std::optional<Addr> armed = region_ ? region_->allocate_armed() : std::nullopt;
        if (armed) {
            TrampolineTrap trap;
            trap.kind = TrampolineTrap::Kind::Signal;
            trap.gate = region_->gate();
            trap.gate_open = region_->gate_open();
            trap.armed = *armed;
            trap.tgid = static_cast<uint32_t>(pid_);
            trap.signal = guard_signal_;
            trap.record = spec ? &*spec : nullptr;
            if (breakpoints_.insert_guarded(memory_, dis_, addr, before, patchable, trap, [&](Addr a, size_t n) {
                    step_out_of(a, n);
                    return !stopped_inside(a, n);
                }))
                return true;
        }
        ++stats_.unguarded;
        return false;
    }
    if (started_ || patchable == 0 || stopped_inside(addr, patchable)) {
        if (or_int3)
            breakpoints_.insert(memory_, dis_, addr);
        return or_int3;
    }
    // Launched, no thread runs yet: a patch may take the instructions before the probe too (a
    // 2-byte `call *%rax` gets a trampoline, and one that records).
    TrampolineTrap trap;
    trap.record = spec ? &*spec : nullptr;
    if (before != 0 &&
        breakpoints_.insert_guarded(memory_, dis_, addr, before, patchable, trap, [](Addr, size_t) { return true; }))
        return true;
    return breakpoints_.insert_patched(memory_, dis_, addr, patchable, trap.record, or_int3);
}

Addr Tracee::map_scratch(size_t size, const std::vector<Addr> &hints) {
    if (guarded())
        return map_probe_region(hints);
    std::string last_error = "no address to try";
    auto mmap_at = [&](Addr hint) {
        uint64_t flags = MAP_PRIVATE | MAP_ANONYMOUS | (hint.is_null() ? 0 : MAP_FIXED_NOREPLACE);
        return inject_syscall(SYS_mmap, {hint.value(), size, PROT_READ | PROT_EXEC, flags, ~uint64_t{0}, 0});
    };
    std::vector<Addr> tries = hints;
    tries.push_back(Addr());
    for (Addr hint : tries) {
        // The first system call injected at the exec stop has been seen to treat the address as a
        // mere hint; a result elsewhere is unmapped and the same address asked for once more.
        for (int attempt = 0; attempt < 2; ++attempt) {
            int64_t ret = mmap_at(hint);
            if (ret < 0 && ret > -4096) {
                last_error = std::strerror(static_cast<int>(-ret));
                break;
            }
            Addr got(static_cast<uint64_t>(ret));
            if (hint.is_null() || got == hint) {
                breakpoints_.set_scratch(got, size);
                scratch_ = got;
                scratch_size_ = size;
                return got;
            }
            inject_syscall(SYS_munmap, {got.value(), size});
        }
    }
    throw Error(ErrorKind::Process, "cannot map a scratch page in the tracee: " + last_error);
}

void Tracee::resume_after_breakpoint(pid_t tid, Registers &regs, Addr addr) {
    const Breakpoint *bp = breakpoints_.find(addr);
    if (bp == nullptr) {
        // The handler removed it: the original instruction is back in place.
        regs.set_pc(addr);
    } else {
        const Displacement &d = bp->plan;
        auto push_return = [&] {
            Addr sp = regs.sp() - 8;
            uint64_t ret = (addr + d.length).value();
            memory_.write(sp, std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(&ret), 8));
            regs.set_sp(sp);
        };
        switch (d.kind) {
        case Displacement::Kind::OutOfLine: regs.set_pc(bp->slot); break;
        case Displacement::Kind::JmpDirect: regs.set_pc(d.target); break;
        case Displacement::Kind::Ret: {
            auto ret = memory_.read_u64(regs.sp());
            if (!ret)
                throw Error(ErrorKind::Process, "cannot read the return address at " + regs.sp().hex());
            regs.set_pc(Addr(*ret));
            regs.set_sp(regs.sp() + 8);
            break;
        }
        case Displacement::Kind::CallDirect:
            push_return();
            regs.set_pc(d.target);
            break;
        case Displacement::Kind::CallIndirect: {
            uint64_t target;
            if (d.operand.kind == Operand::Kind::Reg) {
                target = regs.get(d.operand.reg);
            } else {
                const MemOperand &m = d.operand.mem;
                uint64_t ea = static_cast<uint64_t>(m.disp);
                if (m.base != Gpr::None)
                    ea += regs.get(m.base);
                if (m.index != Gpr::None)
                    ea += regs.get(m.index) * static_cast<uint64_t>(m.scale);
                auto v = memory_.read_u64(Addr(ea));
                if (!v)
                    throw Error(ErrorKind::Process, "cannot read the call target at " + to_hex(ea));
                target = *v;
            }
            push_return();
            regs.set_pc(Addr(target));
            break;
        }
        }
    }
    set_registers(tid, regs);
    cont(tid, 0);
}

ExitStatus Tracee::run(StopHandler &handler) {
    started_ = true;
    // Attached, signals to deftrace are deftrace's: they ask it to detach.
    std::optional<SignalForwarding> forwarding;
    if (attached_) {
        for (pid_t tid : threads_) {
            const auto d = deferred_signals_.find(tid);
            cont(tid, d == deferred_signals_.end() ? 0 : d->second.front());
            if (d != deferred_signals_.end())
                for (size_t i = 1; i < d->second.size(); ++i)
                    syscall(SYS_tgkill, pid_, tid, d->second[i]);
        }
        deferred_signals_.clear();
    } else {
        forwarding.emplace(pid_);
        cont(pid_, 0);
    }
    pending_.clear();
    // Ticking (launched): SIGCHLD held back for the whole run, so that sigtimedwait can take it
    // (collect_stops). Only now: the program was forked before, with deftrace's mask as it was.
    std::optional<BlockedSignal> sigchld;
    if (tick_ns_ != 0)
        sigchld.emplace(SIGCHLD);
    unsigned round = 0;
    for (;;) {
        if (detach_requested()) {
            detach_all(std::nullopt);
            ExitStatus detached;
            detached.detached = true;
            exit_ = detached;
            return detached;
        }
        if (pending_.empty()) {
            if (!collect_stops(round))
                break;
            if (pending_.empty())
                continue; // interrupted by a signal
        }
        const auto [tid, status] = pending_.front();
        pending_.pop_front();
        ++stats_.stops;
        const WaitStop stop = decode_wait_status(status);
        // Following children, a thread not known as the program's may be a child's.
        if (Tracee *owner = policy_ != nullptr && !threads_.contains(tid) ? owner_of(tid, status) : this;
            owner != this) {
            if (owner != nullptr)
                serve_child(*owner, tid, stop);
            continue;
        }
        if (stop.kind == WaitStop::Kind::Ended) {
            if (thread_ended(tid, stop.exit))
                break;
            continue;
        }
        if (stop.kind == WaitStop::Kind::NotStopped)
            continue;
        try {
            if (stop.kind == WaitStop::Kind::Fork && policy_ != nullptr)
                adopt(*this, handler, tid, stop.vfork);
            else
                dispatch(handler, tid, stop);
        } catch (...) {
            release_children();
            detach_all_and_wait(tid);
            throw;
        }
    }
    release_children();
    if (!exit_)
        throw Error(ErrorKind::Process, "lost track of the traced process");
    return *exit_;
}

bool Tracee::collect_stops(unsigned &round) {
    // Stops are handled a batch at a time: every stop waitpid has to report, before waiting for
    // more. waitpid(-1) on its own always reports the thread group leader first, then the most
    // recently attached threads: a thread stopped at a breakpoint could wait there while others
    // stop again and again, and the program may exit meanwhile (exit_group kills it out of that
    // stop). A batch is at most one stop per thread. Collecting one costs a waitpid more, so it
    // is done every kFairness rounds: no stopped thread waits longer than that many stops.
    constexpr unsigned kFairness = 8;
    int st = 0;
    pid_t tid;
    while ((tid = waitpid(-1, &st, __WALL | (tick_ns_ != 0 ? WNOHANG : 0))) <= 0) {
        if (tid == 0) { // ticking, and nothing to collect yet: wait for a SIGCHLD (blocked) or the tick
            sigset_t chld;
            sigemptyset(&chld);
            sigaddset(&chld, SIGCHLD);
            const timespec tick{static_cast<time_t>(tick_ns_ / 1'000'000'000),
                                static_cast<long>(tick_ns_ % 1'000'000'000)};
            if (sigtimedwait(&chld, nullptr, &tick) < 0 && errno == EAGAIN && between_stops_)
                (void)between_stops_();
            continue;
        }
        if (errno == ECHILD)
            return false;
        if (errno != EINTR)
            throw Error(ErrorKind::Process, std::string("waitpid: ") + std::strerror(errno));
        if (detach_requested())
            return true;
    }
    pending_.emplace_back(tid, st);
    if (++round % kFairness == 0)
        while ((tid = waitpid(-1, &st, __WALL | WNOHANG)) > 0)
            pending_.emplace_back(tid, st);
    return true;
}

bool Tracee::thread_ended(pid_t tid, const ExitStatus &status) {
    threads_.erase(tid);
    last_hit_.erase(tid);
    last_mark_.erase(tid);
    if (tid == pid_)
        exit_ = status;
    return exit_ && threads_.empty();
}

void Tracee::add_thread(pid_t tid) {
    if (threads_.insert(tid).second)
        ++stats_.threads;
}

void Tracee::dispatch(StopHandler &handler, pid_t tid, const WaitStop &stop) {
    using Kind = WaitStop::Kind;
    switch (stop.kind) {
    case Kind::GroupStop:
        // Stay stopped until SIGCONT, as untraced.
        if (ptrace(PTRACE_LISTEN, tid, nullptr, nullptr) != 0 && errno != ESRCH)
            ptrace_failed("PTRACE_LISTEN", tid);
        return;
    case Kind::EventStop: // a new thread's first stop, or our interrupt: resume
        add_thread(tid);
        cont(tid, 0);
        return;
    case Kind::Clone: {
        unsigned long child = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child);
        add_thread(static_cast<pid_t>(child));
        cont(tid, 0);
        return;
    }
    case Kind::Exec:
        on_exec_stop(handler);
        cont(tid, 0);
        return;
    case Kind::Exit:
        on_exit_stop(handler, tid);
        cont(tid, 0);
        return;
    case Kind::Fork: // only reported with children followed, which run() handles
    case Kind::OtherEvent: cont(tid, 0); return;
    case Kind::Trap:
        if (on_trap(handler, tid))
            return;
        break;
    case Kind::Signal:
        if (guard_signal_ != 0 && stop.signal == guard_signal_ && on_guarded(handler, tid))
            return;
        break;
    case Kind::Ended:
    case Kind::NotStopped: return;
    }
    // Any other signal belongs to the program: deliver it unchanged.
    ++stats_.signals_forwarded;
    cont(tid, stop.signal);
}

void Tracee::on_exec_stop(StopHandler &handler) {
    // A new program in the same process (ptrace(2), execve under ptrace): one thread is left,
    // with the leader's id; the others have gone without their exits necessarily reported, stops
    // collected from them mean nothing now. The address space is new: no breakpoint, no scratch
    // page, and the /proc/PID/mem descriptor is the old one's. Stopped here, the program is as at
    // launch (one stopped thread): the handler may set it up again.
    reset_after_exec();
    started_ = false;
    handler.on_exec();
    started_ = true;
}

void Tracee::reset_after_exec() {
    breakpoints_.forget_all();
    memory_.reopen();
    // Stops collected from the threads the exec ended mean nothing now (with children followed,
    // the pending stops of other processes stay).
    const auto old = std::exchange(threads_, {pid_});
    std::erase_if(pending_, [&](const auto &p) { return old.contains(p.first); });
    last_hit_.clear();
    exit_reported_ = false;
    shares_memory_ = false; // a vfork child has its own memory from its exec on
}

void Tracee::on_exit_stop(StopHandler &handler, pid_t tid) {
    auto regs = registers_of(tid);
    if (!regs)
        return;
    // A thread killed (another thread's exit_group) just after it hit a breakpoint, before that
    // stop was handled: the hit happened, and the thread, exiting, will never run again. Handled
    // here, where its registers and the address space still are; there is nothing to resume.
    if (const Hit hit = classify_hit(tid, regs->pc(), true);
        hit.kind == Hit::Kind::Int3 || hit.kind == Hit::Kind::Trampoline || hit.kind == Hit::Kind::Guarded) {
        ++stats_.breakpoint_hits;
        Registers at = *regs;
        if (hit.kind == Hit::Kind::Guarded)
            if (auto frame = trap_frame(*regs))
                at = frame->regs;
        at.set_pc(hit.site);
        ThreadStop stop{*this, tid, at};
        StopCache cache(memory_);
        handler.on_breakpoint(stop, hit.site);
    }
    // The leader stops here early in do_exit, before the address space goes away; with
    // exit_group (how Go programs end) the whole process is ending.
    if (tid == pid_ && !exit_reported_) {
        unsigned long status = 0;
        ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &status);
        ThreadStop stop{*this, tid, *regs};
        exit_reported_ = true;
        handler.on_exiting(stop, static_cast<int>(status));
    }
}

Tracee::Hit Tracee::classify_hit(pid_t tid, Addr pc, bool exiting) const {
    const Addr addr = pc - 1;
    auto handled_last = [&](Addr site) {
        auto last = last_hit_.find(tid);
        return last != last_hit_.end() && last->second == site;
    };
    // At an exit stop the thread may have been killed before its trap was handled, or after: a
    // hit counts only where the pc says so unambiguously. Inside the breakpoint's instruction,
    // which nothing but the trap leads to; or just after a one-byte instruction that falls
    // through (push %rbp) and was not the last hit handled on this thread, whose stub would come
    // back there. A one-byte ret is followed by code that other paths jump to.
    if (const Breakpoint *bp = breakpoints_.find(addr)) {
        if (!exiting || bp->plan.length > 1 || (bp->plan.kind == Displacement::Kind::OutOfLine && !handled_last(addr)))
            return {Hit::Kind::Int3, addr};
        return {};
    }
    // A trampoline's int3 is only reached by its jump, what follows it only through the trap,
    // or after the hit was handled: the thread resumes right there, so at an exit stop the same
    // pc may be a hit already handled, killed before its next instruction.
    if (const Breakpoint *bp = breakpoints_.find_trampoline(addr)) {
        if (!exiting || !handled_last(bp->plan.address))
            return {Hit::Kind::Trampoline, bp->plan.address};
        return {};
    }
    // A guarded trampoline's hit pc is only reached from its system call, whose signal the exit
    // overtook, or back from the handler of a hit handled already.
    if (const Breakpoint *bp = breakpoints_.find_guarded_hit(pc)) {
        if (exiting && !handled_last(bp->plan.address))
            return {Hit::Kind::Guarded, bp->plan.address};
        return {};
    }
    if (breakpoints_.was_removed(addr))
        return {Hit::Kind::RemovedInt3, addr};
    if (breakpoints_.was_removed_trampoline(addr))
        return {Hit::Kind::RemovedTrampoline, addr};
    return {};
}

bool Tracee::on_trap(StopHandler &handler, pid_t tid) {
    auto live = registers_of(tid);
    if (!live)
        return true; // killed since it stopped: a hit is handled at its exit stop
    Registers regs = *live;
    const Hit hit = classify_hit(tid, regs.pc(), false);
    switch (hit.kind) {
    case Hit::Kind::Int3: {
        ++stats_.breakpoint_hits;
        last_hit_[tid] = hit.site;
        regs.set_pc(hit.site);
        ThreadStop stop{*this, tid, regs};
        StopCache cache(memory_); // up to the resume, which may read the stack (ret, indirect call)
        handler.on_breakpoint(stop, hit.site);
        resume_after_breakpoint(tid, regs, hit.site);
        return true;
    }
    case Hit::Kind::Trampoline: {
        // The thread is past the trampoline's int3, on the relocated instructions, and continues
        // from there: no register to write.
        ++stats_.breakpoint_hits;
        ++stats_.jump_patched_hits;
        last_hit_[tid] = hit.site;
        Registers at = regs;
        at.set_pc(hit.site);
        ThreadStop stop{*this, tid, at};
        {
            StopCache cache(memory_);
            handler.on_breakpoint(stop, hit.site);
        }
        at.set_pc(regs.pc());
        if (std::memcmp(&at.raw, &regs.raw, sizeof regs.raw) != 0)
            set_registers(tid, at); // the handler changed a register
        cont(tid, 0);
        return true;
    }
    case Hit::Kind::RemovedInt3:
        regs.set_pc(hit.site); // hit just before the breakpoint was removed: re-execute
        set_registers(tid, regs);
        cont(tid, 0);
        return true;
    case Hit::Kind::RemovedTrampoline:
        cont(tid, 0); // trapped just before the int3 became a nop: go on from here
        return true;
    case Hit::Kind::Guarded: // only at exit stops
    case Hit::Kind::None: break;
    }
    return false;
}

std::optional<Tracee::TrapFrame> Tracee::trap_frame(const Registers &at_hit) const {
    uint8_t saved[kGuardedMarkBelow + kGuardedSaveSize];
    if (!memory_.read(at_hit.sp() - kGuardedMarkBelow, saved))
        return std::nullopt;
    auto word = [&](uint64_t off) { // from the stopped SP, the mark being below it
        uint64_t v;
        std::memcpy(&v, saved + off, 8);
        return v;
    };
    TrapFrame f{at_hit, word(0)};
    f.regs.raw.eflags = word(kGuardedMarkBelow);
    for (const auto &[gpr, off] : kGuardedSaved)
        f.regs.set(gpr, word(kGuardedMarkBelow + off));
    f.regs.set_sp(at_hit.sp() + kGuardedSaveSize);
    return f;
}

bool Tracee::on_guarded(StopHandler &handler, pid_t tid) {
    auto live = registers_of(tid);
    if (!live)
        return true; // killed since it stopped: a hit is handled at its exit stop
    const Breakpoint *bp = breakpoints_.find_guarded_hit(live->pc());
    if (bp == nullptr && !breakpoints_.was_removed_guarded_hit(live->pc()))
        return false; // the program's own
    // At the hit pc the signal is the trampoline's, or one the program was sent that merged with
    // it, or one the program was sent as the thread came back there from the handler of the last
    // hit: the pass's mark tells a new pass from the last one seen again.
    const auto frame = trap_frame(*live);
    if (!frame)
        throw Error(ErrorKind::Process, "cannot read what a trampoline saved at " + live->sp().hex());
    auto last = last_mark_.find(tid);
    if (bp != nullptr && (last == last_mark_.end() || last->second != frame->mark)) {
        ++stats_.breakpoint_hits;
        ++stats_.jump_patched_hits;
        const Addr site = bp->plan.address;
        last_hit_[tid] = site;
        last_mark_[tid] = frame->mark;
        Registers before = frame->regs;
        before.set_pc(site);
        ThreadStop stop{*this, tid, before};
        StopCache cache(memory_);
        handler.on_breakpoint(stop, site);
    }
    // Delivered whatever it was: the program may have been sent one, which this one stands for
    // (and an unasked one is a no-op to it: guard()).
    cont(tid, guard_signal_);
    return true;
}

void Tracee::detach_all_and_wait(std::optional<pid_t> stopped) {
    detach_all(stopped);
    if (attached_) {
        // Not our child: its end is its parent's to see. It goes on untraced.
        ExitStatus detached;
        detached.detached = true;
        exit_ = detached;
        return;
    }
    int st = 0;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) || WIFSIGNALED(st)) {
        ExitStatus e;
        e.signaled = WIFSIGNALED(st);
        e.code = e.signaled ? 0 : WEXITSTATUS(st);
        e.signal = e.signaled ? WTERMSIG(st) : 0;
        exit_ = e;
    }
}

namespace {

// Whether `sig` is queued for thread `tid` itself (/proc/TID/status, SigPnd).
bool signal_pending(pid_t tid, int sig) {
    std::ifstream status("/proc/" + std::to_string(tid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("SigPnd:"))
            return (std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1u;
    return false;
}

} // namespace

void Tracee::step_out_of(Addr addr, size_t n) {
    constexpr int kMaxSteps = 64; // a patch covers a few instructions
    for (auto &[tid, pc] : attach_threads_) {
        if (!(pc > addr && pc < addr + n))
            continue;
        // In a system call (its pc just after the instruction), a step would wait for it to end:
        // leave it, and the patch with it. (A patch holds no `syscall`: once out, no step enters one.)
        if (const auto regs = registers_of(tid); !regs || static_cast<int64_t>(regs->raw.orig_rax) >= 0)
            continue;
        for (int step = 0; step < kMaxSteps && pc > addr && pc < addr + n; ++step) {
            int st = 0;
            if (ptrace(PTRACE_SINGLESTEP, tid, nullptr, nullptr) != 0 || wait_for(tid, st) != tid || !WIFSTOPPED(st))
                break;
            if (WSTOPSIG(st) != SIGTRAP || (st >> 16) != 0) {
                // A signal arrived instead of the step's trap: the thread takes it when it is let
                // go (delivered now, its handler would return into the window). The step is
                // still to be made.
                if ((st >> 16) == 0)
                    deferred_signals_[tid].push_back(WSTOPSIG(st));
                continue;
            }
            if (const auto now = registers_of(tid))
                pc = now->pc();
        }
    }
}

Tracee::Held Tracee::held_for(pid_t tid, std::optional<int> status) const {
    const bool signal_stop = !status || (*status >> 16) == 0;
    const int sig = status && WIFSTOPPED(*status) ? WSTOPSIG(*status) : 0;
    const auto regs = registers_of(tid);
    if (!regs)
        return {tid, 0, false};
    const Addr pc = regs->pc();
    // A breakpoint's SIGTRAP: the thread is moved back onto the restored instruction if needed.
    if ((!status || sig == SIGTRAP) &&
        (breakpoints_.find(pc - 1) != nullptr || breakpoints_.find_trampoline(pc - 1) != nullptr ||
         breakpoints_.was_removed(pc - 1) || breakpoints_.was_removed_trampoline(pc - 1)))
        return {tid, 0, true};
    // A guarded hit's signal goes on to the program, as after any hit.
    if ((!status || sig == guard_signal_) && guard_signal_ != 0 &&
        (breakpoints_.find_guarded_hit(pc) != nullptr || breakpoints_.was_removed_guarded_hit(pc)))
        return {tid, guard_signal_, false};
    return {tid, status && signal_stop ? sig : 0, false};
}

void Tracee::hold_all(std::vector<Held> &held) {
    auto holds = [&](pid_t t) {
        return std::any_of(held.begin(), held.end(), [&](const Held &h) { return h.tid == t; });
    };
    // A thread still running may create another meanwhile: list again until a pass finds none.
    std::vector<pid_t> others(threads_.begin(), threads_.end());
    for (bool more = true; more;) {
        more = false;
        for (pid_t t : tasks_of(pid_))
            others.push_back(t);
        for (pid_t t : others) {
            if (holds(t) || ptrace(PTRACE_INTERRUPT, t, nullptr, nullptr) != 0)
                continue;
            int st = 0;
            if (wait_for(t, st) != t || !WIFSTOPPED(st))
                continue;
            // The interrupt is reported before a signal already queued: a thread that has just hit
            // an int3 would take its SIGTRAP after the detach, and die of it. Let it take it now.
            if ((st >> 16) == PTRACE_EVENT_STOP && signal_pending(t, SIGTRAP) &&
                ptrace(PTRACE_CONT, t, nullptr, nullptr) == 0 && (wait_for(t, st) != t || !WIFSTOPPED(st)))
                continue;
            held.push_back(held_for(t, st));
            more = true;
        }
        others.clear();
    }
}

namespace {

constexpr uint64_t signal_bit(int sig) {
    return sig >= 1 && sig <= 64 ? uint64_t{1} << (sig - 1) : 0;
}

// Signals a thread raises by executing an instruction (a fault, a trap): never blocked (the
// kernel kills a process whose thread faults with the signal blocked) nor held back (the
// instruction would fault again): delivered at once.
constexpr uint64_t kRaisedByInstruction = signal_bit(SIGSEGV) | signal_bit(SIGBUS) | signal_bit(SIGFPE) |
                                          signal_bit(SIGILL) | signal_bit(SIGTRAP) | signal_bit(SIGSYS);
constexpr uint64_t kQuieted = ~(kRaisedByInstruction | signal_bit(SIGKILL) | signal_bit(SIGSTOP));

} // namespace

void Tracee::quiet_signals(Held &h) {
    uint64_t now = 0;
    if (ptrace(PTRACE_GETSIGMASK, h.tid, sizeof now, &now) != 0)
        return;
    if (h.own_mask && now == h.quiet_mask)
        return;
    h.own_mask = now;
    h.quiet_mask = now | kQuieted;
    ptrace(PTRACE_SETSIGMASK, h.tid, sizeof h.quiet_mask, &h.quiet_mask);
}

void Tracee::restore_signals(Held &h) {
    if (!h.own_mask)
        return;
    uint64_t now = 0;
    if (ptrace(PTRACE_GETSIGMASK, h.tid, sizeof now, &now) == 0 && now == h.quiet_mask)
        ptrace(PTRACE_SETSIGMASK, h.tid, sizeof *h.own_mask, &*h.own_mask);
    h.own_mask.reset();
}

bool Tracee::interrupt_holding(Held &h) {
    // Until an interrupt stop: one reported first (a signal's delivery, a clone) leaves the
    // interrupt pending, to stop the thread again at once when next resumed, before it runs a
    // single instruction. So a stop already reported is taken first, and no second interrupt is
    // sent to a thread whose pending one has already stopped it: that would stay pending in turn,
    // and every later resume would end at once, the thread never moving again.
    int st = 0;
    pid_t got = waitpid(h.tid, &st, __WALL | WNOHANG);
    if (got < 0)
        return false;
    bool interrupted = false;
    if (got == 0) {
        ptrace(PTRACE_INTERRUPT, h.tid, nullptr, nullptr);
        interrupted = true;
    }
    for (int n = 0; n < 64; ++n) {
        if (got != h.tid && wait_for(h.tid, st) != h.tid)
            return false;
        got = 0;
        if (!WIFSTOPPED(st))
            return false;
        const int event = st >> 16;
        if (event == PTRACE_EVENT_STOP)
            return true;
        if (!interrupted) { // stopped now: the interrupt stops it right after this resume
            ptrace(PTRACE_INTERRUPT, h.tid, nullptr, nullptr);
            interrupted = true;
        }
        if (event == 0 && (signal_bit(WSTOPSIG(st)) & kRaisedByInstruction) != 0) {
            cont(h.tid, WSTOPSIG(st));
            continue;
        }
        if (event == 0) { // a signal-delivery stop: the signal waits for the detach
            if (h.deliver == 0)
                h.deliver = WSTOPSIG(st);
            else
                h.later.push_back(WSTOPSIG(st));
        } else if (event == PTRACE_EVENT_CLONE) {
            unsigned long child = 0;
            ptrace(PTRACE_GETEVENTMSG, h.tid, nullptr, &child);
            threads_.insert(static_cast<pid_t>(child));
        }
        if (n == 63)
            break; // stopped all the same
        cont(h.tid, 0);
    }
    return true;
}

std::unordered_set<pid_t> Tracee::run_a_moment(const std::vector<Held *> &in, int round) {
    for (Held *h : in) {
        quiet_signals(*h);
        cont(h->tid, 0);
        h->trapped = false;
    }
    // A few yields first (a handler or a trampoline ends within microseconds), then 1 ms rests.
    if (round < 10)
        sched_yield();
    else
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::unordered_set<pid_t> gone;
    for (Held *h : in)
        if (!interrupt_holding(*h))
            gone.insert(h->tid);
    return gone;
}

bool Tracee::release_area(std::vector<Held> &held, Addr base, size_t size) {
    // Inside: its pc in the area, or in a signal handler that returns there (a signal came while
    // it was in a trampoline: the handler's frame holds a pc of the area).
    auto inside = [&](const Held &h) { return resumes_inside(h.tid, base, size); };
    // A thread in a stub or trampoline is a few instructions from the code it jumps back to
    // (which is the original code again), one in a signal handler a few microseconds from its
    // return: let each run a moment and stop it again, until none is left inside. A signal that
    // stops it meanwhile waits for the detach: delivered now, it would enter a handler again, and
    // a process that receives signals often (a profiler's, the runtime's preemption) would never
    // be found outside one.
    constexpr int kRounds = 1000;
    for (int round = 0; round < kRounds; ++round) {
        std::vector<Held *> in;
        for (Held &h : held)
            if (inside(h))
                in.push_back(&h);
        if (in.empty())
            break;
        for (pid_t tid : run_a_moment(in, round))
            for (Held &h : held)
                if (h.tid == tid)
                    h.tid = -1;
        std::erase_if(held, [](const Held &h) { return h.tid < 0; });
        if (round == kRounds - 1)
            return false;
    }
    hold_all(held); // threads created by those that ran
    const int64_t r = inject_syscall(SYS_munmap, {base.value(), size});
    return r == 0;
}

// Attached, leaving: the probe region and the record ring out of the process, once no thread is
// in the region (release_area). What cannot be unmapped stays, unreachable.
void Tracee::unmap_shared(std::vector<Held> &held) {
    bool unmapped = false;
    try {
        unmapped = release_area(held, scratch_, scratch_size_);
    } catch (const Error &) {
    }
    if (unmapped && !ring_at_.is_null()) { // deftrace's own mapping stays, to read what is left
        unmapped = inject_syscall(SYS_munmap, {ring_at_.value(), RecordRing::kSize}) == 0;
        if (unmapped) {
            ring_at_ = Addr();
            if (log_ != nullptr)
                log_->set_ring(Addr(), 0);
        }
    }
    if (unmapped) {
        memory_.unmap_local();
        region_.reset();
        if (log_ != nullptr)
            log_->set_region(Addr(), 0);
        scratch_ = Addr();
        scratch_size_ = 0;
    }
}

void Tracee::detach_all(std::optional<pid_t> stopped) {
    // deftrace failed, or is done with a process it attached to: leave the program running
    // untraced, exactly as it would without us. Every thread is stopped first (hold_all), so that
    // the jump patches can be rewritten with the original code under no running thread; then each
    // thread that stopped on a (now removed) int3 is moved back onto the restored instruction, and
    // all are let go, each with the signal it was about to receive. One that trapped in a
    // trampoline goes on through its relocated copy. The threads: the one being handled, those
    // whose stops were collected but not handled yet, and every other thread of the process
    // (/proc/PID/task: also those created since the last stop handled, attached by
    // PTRACE_O_TRACECLONE but not reported yet), interrupted and waited for.
    // Attached, the stubs' memory is unmapped too, once no thread is inside it: the process is
    // left as deftrace found it. The probe region's gates close first: no trampoline traps from
    // here on.
    if (region_)
        region_->close_gates();
    std::vector<Held> held;
    auto holds = [&](pid_t t) {
        return std::any_of(held.begin(), held.end(), [&](const Held &h) { return h.tid == t; });
    };
    if (stopped)
        held.push_back(held_for(*stopped, std::nullopt));
    // Before run(), every thread is in a stop already reported (launch, attach): interrupting
    // it would report nothing more.
    if (!started_) {
        for (pid_t t : threads_)
            if (!holds(t))
                held.push_back({t, 0, false});
        for (Held &h : held)
            if (auto d = deferred_signals_.find(h.tid); d != deferred_signals_.end())
                for (int sig : d->second) {
                    if (h.deliver == 0)
                        h.deliver = sig;
                    else
                        h.later.push_back(sig);
                }
        deferred_signals_.clear();
    }
    for (auto [t, st] : pending_)
        if (WIFSTOPPED(st) && !holds(t))
            held.push_back(held_for(t, st));
    pending_.clear();
    hold_all(held);
    breakpoints_.remove_all(memory_);
    for (Held &h : held)
        if (auto regs = registers_of(h.tid); h.trapped && regs && breakpoints_.was_removed(regs->pc() - 1)) {
            regs->set_pc(regs->pc() - 1);
            set_registers(h.tid, *regs);
        }
    if (attached_ && scratch_size_ != 0)
        unmap_shared(held);
    for (Held &h : held)
        restore_signals(h);
    for (const Held &h : held)
        ptrace(PTRACE_DETACH, h.tid, nullptr, reinterpret_cast<void *>(static_cast<intptr_t>(h.deliver)));
    for (const Held &h : held)
        for (int sig : h.later)
            syscall(SYS_tgkill, pid_, h.tid, sig);
    threads_.clear();
    if (log_ != nullptr && log_->pending().empty() && log_->region_size() == 0 && log_->ring_size() == 0)
        log_->mark_done();
}

} // namespace deftrace

namespace deftrace {

namespace {

// The process (thread group) of thread `tid`, from /proc/TID/status; -1 when it is gone.
pid_t thread_group_of(pid_t tid) {
    std::ifstream status("/proc/" + std::to_string(tid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("Tgid:"))
            return static_cast<pid_t>(std::stol(line.substr(5)));
    return -1;
}

// Whether two processes share one address space (kcmp(2), KCMP_VM); nullopt when the kernel
// cannot tell (built without kcmp).
std::optional<bool> same_memory(pid_t a, pid_t b) {
    constexpr int kKcmpVm = 1; // KCMP_VM, linux/kcmp.h
    const long r = syscall(SYS_kcmp, a, b, kKcmpVm, 0, 0);
    if (r < 0)
        return std::nullopt;
    return r == 0;
}

// The handler of a child's stops before its first exec: it has no breakpoints of its own.
class Unhandled : public StopHandler {
public:
    void on_breakpoint(ThreadStop &, Addr) override {}
};

} // namespace

void Tracee::follow_children(ChildPolicy &policy) {
    if (attached_ || started_)
        throw Error(ErrorKind::Usage, "children are followed only for a launched program, before it runs");
    // Inherited by every thread created from now on (ptrace(2), PTRACE_SETOPTIONS): the program
    // is one thread, stopped at its first instruction.
    const long opts = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL |
                      PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
    if (ptrace(PTRACE_SETOPTIONS, pid_, nullptr, reinterpret_cast<void *>(opts)) != 0)
        ptrace_failed("PTRACE_SETOPTIONS", pid_);
    policy_ = &policy;
}

Tracee *Tracee::process(pid_t pid) {
    if (pid == pid_)
        return this;
    for (auto &c : children_)
        if (c->pid_ == pid)
            return c.get();
    return nullptr;
}

Tracee *Tracee::owner_of(pid_t tid, int status) {
    for (auto &c : children_)
        if (c->threads_.contains(tid))
            return c.get();
    if (!WIFSTOPPED(status))
        return nullptr; // a thread never known ended: nothing to do
    // A new thread reports its first stop before or after its creator's clone or fork stop
    // (both are reported, in no set order): its thread group says whose it is. The first stop of a
    // new process that comes first waits, stopped, for its parent's fork stop.
    const pid_t group = thread_group_of(tid);
    if (group == pid_)
        return this;
    if (Tracee *p = group > 0 ? process(group) : nullptr) {
        p->add_thread(tid);
        return p;
    }
    if (group == tid)
        unclaimed_.emplace(tid, status);
    return nullptr;
}

void Tracee::adopt(Tracee &parent, StopHandler &parent_handler, pid_t tid, bool vfork) {
    unsigned long msg = 0;
    if (ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &msg) != 0 || msg == 0) {
        cont(tid, 0);
        return;
    }
    const auto child_pid = static_cast<pid_t>(msg);
    auto child = std::unique_ptr<Tracee>(new Tracee(child_pid));
    child->parent_pid_ = parent.pid_;
    child->started_ = true;
    // clone(CLONE_VM) without CLONE_VFORK shares the memory as well; vfork without CLONE_VM does not.
    child->shares_memory_ = same_memory(parent.pid_, child_pid).value_or(vfork);
    // A copy of the parent's memory has its breakpoints: the original code goes back first, or
    // the child would die of SIGTRAP once untraced (and report nothing traced before its exec).
    if (!child->shares_memory_)
        parent.breakpoints_.restore_in(child->memory_);
    if (auto regs = registers_of(tid)) {
        ThreadStop stop{parent, tid, *regs};
        parent_handler.on_spawn(stop, child_pid);
    }
    children_.push_back(std::move(child));
    if (auto held = unclaimed_.find(child_pid); held != unclaimed_.end()) {
        pending_.emplace_front(held->first, held->second);
        unclaimed_.erase(held);
    }
    cont(tid, 0);
}

void Tracee::serve_child(Tracee &c, pid_t tid, const WaitStop &stop) {
    using Kind = WaitStop::Kind;
    static Unhandled unhandled;
    StopHandler &h = c.handler_ != nullptr ? *c.handler_ : unhandled;
    try {
        switch (stop.kind) {
        case Kind::Ended:
            if (c.thread_ended(tid, stop.exit))
                child_ended(c);
            return;
        case Kind::NotStopped: return;
        case Kind::Fork: adopt(c, h, tid, stop.vfork); return;
        case Kind::Exec: {
            const auto old = c.threads_;
            std::erase_if(pending_, [&](const auto &p) { return old.contains(p.first); });
            if (c.handler_ == nullptr) {
                child_exec(c, tid);
                return;
            }
            break;
        }
        case Kind::Trap:
            if (c.shares_memory_ && step_over_parents(c, tid))
                return;
            break;
        default: break;
        }
        c.dispatch(h, tid, stop);
    } catch (const std::exception &e) {
        release_child(c, tid, e.what());
    }
}

void Tracee::child_exec(Tracee &c, pid_t tid) {
    c.reset_after_exec();
    c.started_ = false;
    StopHandler *h = policy_->on_exec(c);
    c.started_ = true;
    if (h == nullptr) {
        release_child(c, tid, "");
        return;
    }
    c.handler_ = h;
    cont(tid, 0);
}

bool Tracee::step_over_parents(const Tracee &c, pid_t tid) {
    Tracee *parent = process(c.parent_pid_);
    auto regs = registers_of(tid);
    if (parent == nullptr || !regs)
        return regs == std::nullopt;
    const Hit hit = parent->classify_hit(tid, regs->pc(), false);
    switch (hit.kind) {
    case Hit::Kind::Int3:
        regs->set_pc(hit.site);
        parent->resume_after_breakpoint(tid, *regs, hit.site); // its stub is in the shared memory
        return true;
    case Hit::Kind::RemovedInt3:
        regs->set_pc(hit.site);
        set_registers(tid, *regs);
        cont(tid, 0);
        return true;
    case Hit::Kind::Trampoline:
    case Hit::Kind::RemovedTrampoline: cont(tid, 0); return true;
    case Hit::Kind::Guarded: // only at exit stops
    case Hit::Kind::None: break;
    }
    return false;
}

void Tracee::release_child(Tracee &c, std::optional<pid_t> stopped, const std::string &error) {
    // Its stops collected but not handled are its own to deliver when it is let go.
    std::erase_if(pending_, [&](const auto &p) {
        if (!c.threads_.contains(p.first))
            return false;
        c.pending_.push_back(p);
        return true;
    });
    // A vfork child shares its parent's breakpoints: they stay (the parent is still traced).
    if (c.shares_memory_)
        c.breakpoints_.forget_all();
    try {
        c.detach_all(stopped);
    } catch (const std::exception &) {
        // Gone meanwhile: nothing is left to let go.
    }
    ExitStatus detached;
    detached.detached = true;
    c.exit_ = detached;
    policy_->on_ended(c, detached, error);
    std::erase_if(children_, [&](const auto &p) { return p.get() == &c; });
}

void Tracee::child_ended(Tracee &c) {
    policy_->on_ended(c, *c.exit_, "");
    std::erase_if(children_, [&](const auto &p) { return p.get() == &c; });
}

void Tracee::release_children() {
    while (!children_.empty())
        release_child(*children_.back(), std::nullopt, "");
    // New processes whose parent's fork stop never came (the parent was killed in between): in
    // their first stop, nothing inserted in them yet; they go on untraced rather than stay
    // stopped, or be killed by PTRACE_O_EXITKILL when deftrace exits.
    for (const auto &[tid, status] : std::exchange(unclaimed_, {}))
        ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
}

} // namespace deftrace
