// A program started under ptrace, with every thread it creates. Knows nothing about Go.
//
// Fidelity rules this class keeps: the program inherits deftrace's stdin/stdout/stderr and
// environment; every signal it receives is delivered to it unchanged; signals sent to deftrace
// by another process (kill, not the terminal, which signals the whole process group) are
// forwarded; PTRACE_O_EXITKILL ends it if deftrace dies; breakpoint hits cost one stop.
#pragma once

#include "arch/disassembler.h"
#include "process/breakpoint_table.h"
#include "process/child_policy.h"
#include "process/code_log.h"
#include "process/probe_region.h"
#include "process/process_memory.h"
#include "process/record_ring.h"
#include "process/registers.h"
#include "process/wait_status.h"

#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace deftrace {

class Tracee;

// What a handler sees while one thread is stopped at a breakpoint.
struct ThreadStop {
    Tracee &tracee;
    pid_t tid;
    Registers &regs; // pc() is the breakpoint address
};

class StopHandler {
public:
    virtual ~StopHandler() = default;
    // A thread reached breakpoint `addr` (before executing the displaced instruction).
    virtual void on_breakpoint(ThreadStop &stop, Addr addr) = 0;
    // The process is about to exit (first PTRACE_EVENT_EXIT of the thread group leader or of an
    // exit_group); memory is still readable. `status` is the pending exit status.
    virtual void on_exiting(ThreadStop &, int /*status*/) {}
    // The program replaced itself with exec; every breakpoint is gone. Called at the exec stop,
    // the new program stopped at its first instruction as after launch: map_scratch and
    // insert_breakpoint work as before run().
    virtual void on_exec() {}
    // With children followed (Tracee::follow_children): thread `stop.tid` created process
    // `child` (fork, vfork, clone without CLONE_THREAD). Both are stopped; the child has not run.
    virtual void on_spawn(ThreadStop & /*stop*/, pid_t /*child*/) {}
};

class Tracee {
public:
    // Forks and execs `argv` (PATH lookup as execvp) under ptrace; returns with the new program
    // stopped at its first instruction. Throws Error(Process/NotFound/Permission).
    static Tracee launch(const std::vector<std::string> &argv);
    // Attaches to the running process `pid`: seizes every thread (listing /proc/PID/task again
    // until no new one appears) and interrupts each; returns with all of them stopped, as launch
    // returns with its one thread. Nothing is changed in the process. Throws Error(NotFound) when
    // there is no such process, Error(Permission) when ptrace is refused.
    static Tracee attach(pid_t pid);

    // Attached: called between stops and whenever a signal interrupts the wait, to do what
    // a signal to deftrace asked for (a report) and to say whether to detach. Once it returns
    // true, run() lets go of the process, which goes on running untouched, and returns an
    // ExitStatus with `detached` set. It may emit but not touch the process.
    void set_between_stops(std::function<bool()> detach_now) { between_stops_ = std::move(detach_now); }
    // Launched: while the program runs without stopping, call the between-stops function (whose
    // answer is then ignored) every `ns` nanoseconds too — to read what probes recorded without a
    // stop. Attached, deftrace's own interval timer does the same.
    void tick_every(uint64_t ns) { tick_ns_ = attached_ ? 0 : ns; }
    [[nodiscard]] bool attached() const { return attached_; }
    // The threads being traced.
    [[nodiscard]] std::vector<pid_t> thread_ids() const { return {threads_.begin(), threads_.end()}; }
    // Attached, before run(): lets go of the process at once (as run() does when asked to).
    void detach();
    // Attached, before run(), by the guardian of a deftrace that died (process/guardian.h): puts
    // back each change of `log` still in the process; detach() then unmaps its probe region.
    // Returns how many changes were put back.
    size_t undo(const CodeLog &log);
    Tracee(Tracee &&) noexcept;
    Tracee &operator=(Tracee &&) = delete;
    ~Tracee();

    [[nodiscard]] pid_t pid() const { return pid_; }
    // A child process (follow_children): the process that started it. 0 for the traced program.
    [[nodiscard]] pid_t parent_pid() const { return parent_pid_; }

    // Launched, before run(): every process the program starts, and theirs, is traced too and
    // handed to `policy` when it execs (process/child_policy.h). run() serves them all and
    // returns when the program itself ends, letting go of those still running.
    void follow_children(ChildPolicy &policy);
    [[nodiscard]] const ProcessMemory &memory() const { return memory_; }
    [[nodiscard]] const Disassembler &disassembler() const { return dis_; }

    // Attached, before map_scratch: the breakpoints become guarded trampolines
    // (arch/guarded_trap.h), which stop their thread by sending it `signal` — one the program
    // takes in its stride when nobody traces it — and only while deftrace lives, in a probe region
    // shared with the process (process/probe_region.h); every change to the program's code is
    // recorded in `log` first, for the guardian (process/guardian.h). A breakpoint that no such
    // trampoline can carry is not inserted (see unguarded()): an int3 left behind would kill the
    // program should deftrace die.
    void guard(int signal, CodeLog &log);
    [[nodiscard]] bool guarded() const { return guard_signal_ != 0; }
    // [lo, hi): a function that waits in a futex and ignores what the call returns (Go's
    // runtime.futex). inject_syscall borrows a thread parked there, when there is one.
    void set_parking(Addr lo, Addr hi);
    // Only while stopped at launch or attach: runs mmap in the tracee for an executable scratch
    // area (guarded: the probe region), trying each hint with MAP_FIXED_NOREPLACE (stubs must be
    // within rel32 reach of the code).
    Addr map_scratch(size_t size, const std::vector<Addr> &hints);
    // Only while stopped at launch or attach: maps a record ring (process/record_ring.h)
    // read-write in the tracee at the first of `hints` free (within rel32 reach of the scratch
    // area). False when none is: probes then stop the program as before.
    bool map_record_ring(const std::vector<Addr> &hints, uint32_t capacity = RecordRing::kCapacity);
    // Whether the breakpoint at `addr` records its hits (a trampoline with a RecordSpec).
    [[nodiscard]] bool records(Addr addr) const { return breakpoints_.records(addr); }
    // The ring, if one is mapped (it stays readable here after a detach).
    [[nodiscard]] RecordRing *record_ring() const { return ring_.get(); }
    // An entry of the tracee's auxiliary vector (AT_ENTRY, AT_PHDR, ...).
    [[nodiscard]] std::optional<uint64_t> auxv(uint64_t type) const;

    void insert_breakpoint(Addr addr) { insert_breakpoint(addr, 0, 0); }
    // Before run() only, while the program is one stopped thread: a breakpoint that a jump patch
    // may carry within the `patchable` bytes from `addr` (no jump lands inside them, no other
    // breakpoint is there: the caller's analysis), so that its hits write no register; guarded,
    // the patch may also start up to `before` bytes before `addr`. Attached, every thread is
    // stopped too, but anywhere: no patch where a thread stopped inside the bytes it would
    // rewrite. False when a guarded breakpoint could not be placed.
    // `record`: a trampoline that records its hits where it can (arch/record_stub.h; records()).
    // Launched, without `or_int3`: nothing is inserted (false) when no trampoline fits.
    bool insert_breakpoint(Addr addr, size_t patchable, size_t before = 0, const RecordSpec *record = nullptr,
                           bool or_int3 = true);
    // Attached, before run(): places where code will resume that are not a thread's pc: the
    // return addresses on every goroutine's stack, among them the interrupted pc of one the runtime
    // preempted asynchronously (its asyncPreempt frame returns there), and the saved pc of a
    // goroutine not running. A jump patch covering one would have that code resume in the middle
    // of the jump. (A thread stopped inside a patch is single-stepped out of it instead:
    // step_out_of.)
    // Every thread stopped: the process's signal restorer ([entry, end)), read from the kernel's
    // record of its SIGURG handler (rt_sigaction run in the process; every handler of a Go program
    // has the same one, the runtime's own or, with cgo, libc's); empty without one. Read once.
    const std::vector<std::pair<Addr, Addr>> &signal_restorers();
    // Attached, before run(): lets each thread stopped inside a signal handler (signal_frames)
    // run until it has returned from it, so that where it goes on is its pc, which step_out_of
    // can move out of a patch's way, rather than a pc no probe may cover. Signals reported
    // meanwhile reach the thread when it is let go.
    void leave_signal_handlers();
    // Attached: the scratch area (probe region) is still mapped in the process (after a detach:
    // it could not be released).
    [[nodiscard]] bool holds_area() const { return scratch_size_ != 0; }
    void keep_unpatched(const std::vector<Addr> &resume_pcs) {
        attach_pcs_.insert(attach_pcs_.end(), resume_pcs.begin(), resume_pcs.end());
    }
    void remove_breakpoint(Addr addr) { breakpoints_.remove(memory_, addr); }
    void set_breakpoint_enabled(Addr addr, bool enabled) { breakpoints_.set_enabled(memory_, addr, enabled); }
    [[nodiscard]] BreakpointTable &breakpoints() { return breakpoints_; }

    // Resumes the program and handles every stop until the whole process is gone; returns how it
    // ended. If the handler throws, breakpoints are removed, the tracee is detached and left to
    // run untraced, and the error is rethrown after the tracee has finished (its status is then
    // in `last_exit()`).
    ExitStatus run(StopHandler &handler);
    [[nodiscard]] const std::optional<ExitStatus> &last_exit() const { return exit_; }

    // Counters for measurements.
    struct Stats {
        uint64_t stops = 0, breakpoint_hits = 0, jump_patched_hits = 0, signals_forwarded = 0, threads = 1;
        uint64_t unguarded = 0; // guarded: breakpoints not inserted, no trampoline could carry them
    };
    [[nodiscard]] const Stats &stats() const { return stats_; }

private:
    // What the trap of a thread stopped with its pc at `pc` was (its int3 at pc - 1).
    struct Hit {
        enum class Kind {
            None,              // no breakpoint's: a SIGTRAP of the program's own
            Int3,              // the int3 of the breakpoint at `site`
            Trampoline,        // the trampoline int3 of the jump-patched breakpoint at `site`
            RemovedInt3,       // an int3 at `site` removed since the thread trapped on it
            RemovedTrampoline, // a trampoline int3 at `site`, a nop since the thread trapped on it
            Guarded,           // exiting at the hit pc of the guarded breakpoint at `site`, its stop overtaken
        };
        Kind kind = Kind::None;
        Addr site;
    };

    explicit Tracee(pid_t pid, bool attached = false);
    // follow_children: the process a stop is for (this one or a child); nullptr when it is none
    // of them yet (a new process whose parent's fork stop is still to come: held until then).
    Tracee *owner_of(pid_t tid, int status);
    [[nodiscard]] Tracee *process(pid_t pid);
    // A stop of child `c`'s thread `tid`.
    void serve_child(Tracee &c, pid_t tid, const WaitStop &stop);
    // Thread `tid` of `parent` created a process (its fork stop): trace it.
    void adopt(Tracee &parent, StopHandler &parent_handler, pid_t tid, bool vfork);
    // Child `c`'s first exec: the policy decides.
    void child_exec(Tracee &c, pid_t tid);
    // A trap of a vfork child on a breakpoint of the parent whose memory it shares: stepped over,
    // unreported. False when it was none of the parent's.
    bool step_over_parents(const Tracee &c, pid_t tid);
    // Lets go of child `c` (its thread `stopped` in a stop, if any) and forgets it.
    void release_child(Tracee &c, std::optional<pid_t> stopped, const std::string &error);
    void child_ended(Tracee &c);
    // Lets go of every child still traced.
    void release_children();
    void reset_after_exec();
    // Attaching: waits until `tid` is in its interrupt stop, delivering the signals it receives
    // meanwhile; false when it ended.
    bool wait_attached(pid_t tid);
    [[nodiscard]] bool stopped_inside(Addr addr, size_t patchable) const;
    [[nodiscard]] bool detach_requested() const { return attached_ && between_stops_ && between_stops_(); }
    [[nodiscard]] Hit classify_hit(pid_t tid, Addr pc, bool exiting) const;
    // Waits for the next stops into pending_; false when no traced thread is left.
    bool collect_stops(unsigned &round);
    // A thread is gone; true when the whole process is.
    bool thread_ended(pid_t tid, const ExitStatus &status);
    void add_thread(pid_t tid);
    void dispatch(StopHandler &handler, pid_t tid, const WaitStop &stop);
    void on_exec_stop(StopHandler &handler);
    void on_exit_stop(StopHandler &handler, pid_t tid);
    // A SIGTRAP; false when it was not a breakpoint's (the program's own, to be delivered).
    bool on_trap(StopHandler &handler, pid_t tid);
    // The guard signal; false when it was not a trampoline's (the program's own, to be delivered).
    bool on_guarded(StopHandler &handler, pid_t tid);
    // What a guarded trap saved (arch/guarded_trap.h): the registers at its breakpoint, and the
    // mark of its pass.
    struct TrapFrame {
        Registers regs;
        uint64_t mark = 0;
    };
    [[nodiscard]] std::optional<TrapFrame> trap_frame(const Registers &at_hit) const;
    Addr map_probe_region(const std::vector<Addr> &hints);
    // Attached, every thread held: runs the held threads whose pc is in [base, base + size) until
    // none is, then unmaps it in the process. False when some thread would not leave (the area
    // then stays mapped).
    struct Held {
        pid_t tid;
        int deliver; // the signal to deliver on detach
        bool trapped;
        std::vector<int> later = {}; // signals that came meanwhile, queued again once detached
        // quiet_signals: the thread's own signal mask, and the one deftrace gave it.
        std::optional<uint64_t> own_mask = {};
        uint64_t quiet_mask = 0;
    };
    // While thread `h` is resumed only to leave a place (release_area, leave_signal_handlers):
    // every signal it does not raise itself is blocked (PTRACE_SETSIGMASK), so that it runs
    // instead of stopping for each one that arrives before it gets a CPU; they stay pending and
    // arrive once its own mask is back (restore_signals). A mask the thread changed meanwhile
    // (rt_sigreturn restores the one a handler interrupted) is its own from then on.
    static void quiet_signals(Held &h);
    static void restore_signals(Held &h);
    bool release_area(std::vector<Held> &held, Addr base, size_t size);
    void unmap_shared(std::vector<Held> &held);
    // Interrupts thread `h` (resumed by release_area) and waits for that stop, keeping the signals
    // reported meanwhile for the detach; false if the thread is gone.
    bool interrupt_holding(Held &h);
    // release_area and leave_signal_handlers, round `round`: resumes each of `in` with its
    // asynchronous signals blocked, lets it run a moment and stops it again; the threads gone.
    std::unordered_set<pid_t> run_a_moment(const std::vector<Held *> &in, int round);
    // How thread `tid`, in a stop with wait status `status` (nullopt: the one being handled),
    // is to be let go.
    [[nodiscard]] Held held_for(pid_t tid, std::optional<int> status) const;
    // Interrupts every thread not in `held` (listing /proc/PID/task again until no new one
    // appears) and adds it; a thread whose breakpoint trap is still pending is let take it first.
    void hold_all(std::vector<Held> &held);
    void resume_after_breakpoint(pid_t tid, Registers &regs, Addr addr);
    int64_t inject_syscall(long nr, std::initializer_list<uint64_t> args);
    int64_t inject_syscall(pid_t tid, long nr, std::initializer_list<uint64_t> args);
    // Every thread stopped: one interrupted in a futex wait in the parking code (inject_syscall's
    // choice), if any.
    [[nodiscard]] std::optional<pid_t> parked_thread() const;
    // Attached, before run(): single-steps each thread stopped strictly inside [addr, addr + n)
    // (not in a system call) until it is out, so that a patch can go there; a busy service always
    // has a thread somewhere in the entry of a hot function (gorecover).
    void step_out_of(Addr addr, size_t n);
    bool on_signal_stack(pid_t tid);
    // Whether thread `tid` goes on inside [base, base + size): its pc, or where a signal handler
    // it is in returns to (signal_frames; without a known restorer, any handler: on_signal_stack).
    bool resumes_inside(pid_t tid, Addr base, size_t size);
    // `stopped`: a thread already in a ptrace-stop (the one being handled), if any. Launched,
    // then waits for the program to end.
    void detach_all_and_wait(std::optional<pid_t> stopped);
    // Stops every thread, removes every breakpoint, puts back the pc of a thread that trapped on
    // an int3 not handled yet, and detaches them all (the scratch page stays: a thread may be in
    // a stub, which jumps back to the original code).
    void detach_all(std::optional<pid_t> stopped);

    pid_t pid_ = -1;
    ProcessMemory memory_;
    Disassembler dis_;
    BreakpointTable breakpoints_;
    std::unordered_set<pid_t> threads_;
    std::unordered_map<pid_t, Addr> last_hit_;  // per thread, the breakpoint of its last handled hit
    std::deque<std::pair<pid_t, int>> pending_; // stops collected by run(), not handled yet (thread, status)
    std::optional<ExitStatus> exit_;
    bool exit_reported_ = false;
    bool started_ = false;                           // run() was called: other threads may be running
    bool attached_ = false;                          // attach(), not launch(): detach, never kill, when done
    std::vector<Addr> attach_pcs_;                   // attached: keep_unpatched's resume pcs
    std::unordered_map<pid_t, Addr> attach_threads_; // attached: where each thread stopped
    std::optional<std::vector<std::pair<Addr, Addr>>> restorers_;  // signal_restorers, once read
    std::unordered_map<pid_t, std::vector<int>> deferred_signals_; // attached, before run(): for the let go
    std::function<bool()> between_stops_;
    uint64_t tick_ns_ = 0;
    Stats stats_;
    // follow_children: the policy, every traced child process (grandchildren too), and the
    // stops of processes not known yet (by thread).
    ChildPolicy *policy_ = nullptr;
    std::vector<std::unique_ptr<Tracee>> children_;
    std::unordered_map<pid_t, int> unclaimed_;
    // A child: its parent, the handler of its stops (none before its first exec), and whether it
    // shares the parent's memory (vfork, until it execs).
    pid_t parent_pid_ = 0;
    StopHandler *handler_ = nullptr;
    bool shares_memory_ = false;
    // guard(): the signal, the code log, the probe region, and the mark of each thread's last
    // guarded hit.
    int guard_signal_ = 0;
    CodeLog *log_ = nullptr;
    std::unique_ptr<ProbeRegion> region_;
    std::unique_ptr<RecordRing> ring_;
    Addr ring_at_; // where the process maps the ring (also known from a dead deftrace's log: undo)
    struct SharedFile {
        int64_t theirs; // the process's descriptor
        UniqueFd ours;
    };
    SharedFile create_shared_file(std::string_view name, size_t size);
    Addr map_shared_file(const SharedFile &file, size_t size, int prot, const std::vector<Addr> &hints,
                         std::string &last_error);
    std::unordered_map<pid_t, uint64_t> last_mark_;
    std::pair<Addr, Addr> parking_;
    // The scratch area (the probe region when guarded), unmapped at detach.
    Addr scratch_;
    size_t scratch_size_ = 0;
};

// The register state of a stopped thread.
Registers get_registers(pid_t tid);
void set_registers(pid_t tid, const Registers &regs);

} // namespace deftrace
