// Stop handlers for the ways a program ends without running its deferred calls: os.Exit, a
// fatal error (runtime.throw / fatal), an exec that replaces it.
#include "trace/tracer.h"

#include "binary/error.h"
#include "binary/go_names.h"
#include "trace/validator.h"

#include <elf.h>
#include <filesystem>

namespace deftrace {

std::vector<Addr> Tracer::all_goroutines(Addr current) const {
    if (!plan_->allgs())
        return {};
    return state_->all_goroutines(bias_.runtime(*plan_->allgs()), current);
}

std::vector<Event> Tracer::never_run_events(const ThreadStop &stop, Addr current, bool current_reported,
                                            const char *cause) {
    std::vector<Event> out;
    for (Addr g : all_goroutines(current)) {
        if (g == current && current_reported)
            continue;
        auto goid = state_->goid(g);
        auto status = state_->status(g);
        if (!goid || !status)
            continue;
        if (*status == 0 || *status == 6) // idle, dead
            continue;
        // A parked, runnable or syscall goroutine continues at its saved context. (One running on
        // another thread has a stale sched; its linked records are still right.)
        const SavedContext at = g == current ? SavedContext{stop.regs.pc(), stop.regs.sp()} : state_->saved_context(g);
        bool complete = true;
        auto pending = program_pending(g, at.pc, at.sp, &complete);
        if (pending.empty() && complete)
            continue;
        Event e = make_event(EventKind::NeverRun, *goid, g);
        e.payload = NeverRunPayload{cause, RuntimeState::status_name(*status), std::move(pending), !complete};
        out.push_back(std::move(e));
    }
    return out;
}

void Tracer::on_os_exit(ThreadStop &stop, Addr current) {
    for (auto &e : never_run_events(stop, current, false, "os.Exit"))
        emit(std::move(e));
}

void Tracer::on_exec_call(ThreadStop &stop, Addr g, uint64_t goid) {
    exec_held_ = never_run_events(stop, g, false, "exec");
    exec_goid_ = goid;
}

void Tracer::on_throw(ThreadStop &stop, Addr g) {
    // throw/fatal print "fatal error: <s>" and fatalthrow ends the process with exit(2) (or a
    // crash with GOTRACEBACK=crash): no deferred call of any goroutine runs any more. Only the
    // first one is the program's story; the runtime reports no other.
    if (thrown_)
        return;
    thrown_ = true;
    std::string message;
    if (stop.regs.raw.rbx <= 4096)
        message = tracee_->memory().read_bytes(Addr(stop.regs.raw.rax), stop.regs.raw.rbx).value_or("");
    // The goroutine that threw, and where it stands. The checks that run on a g0 stack (newstack's
    // "stack overflow", called by morestack) throw on behalf of m.curg, whose sched morestack has
    // just saved; checkdead (the deadlock and "main called runtime.Goexit" reports) runs in the
    // scheduler with no goroutine at all: the event is then goroutine 0.
    Addr user;
    SavedContext at;
    if (auto header = state_->header(g); header && header->goid != 0) {
        user = g;
        at = {stop.regs.pc(), stop.regs.sp()};
    } else if (auto curg = CurrentG::curg_of_g0(g, *state_)) {
        user = *curg;
        at = state_->saved_context(user);
    }
    const uint64_t goid = user.is_null() ? 0 : state_->goid(user).value_or(0);
    if (auto held = fatals_.find(goid); !user.is_null() && held != fatals_.end()) {
        // preprintpanics called an Error or String method that panicked, and its deferred
        // function throws "panic while printing panic value" (1.17-1.27): the fatal panic's event,
        // waiting for preprintpanics to return, is complete now.
        Event e = std::move(held->second.event);
        fatals_.erase(held);
        auto &fatal = std::get<FatalPayload>(e.payload);
        fatal.error = message; // raw: the sinks escape for their output
        fatal.error_while_printing = true;
        emit(std::move(e));
    } else {
        emit(thrown_event(goid, user, at.pc, at.sp, message));
    }
    for (auto &e : never_run_events(stop, user, true, "fatal error"))
        emit(std::move(e));
}

Event Tracer::thrown_event(uint64_t goid, Addr user, Addr pc, Addr sp, const std::string &message) {
    Event e = make_event(EventKind::Fatal, goid, user);
    FatalPayload fatal;
    fatal.error = message; // raw: the sinks escape for their output
    if (!user.is_null()) {
        // The innermost frame of the program's: where it called into the runtime or the
        // standard library (sync's "unlock of unlocked mutex" is raised inside Unlock), or the
        // function whose stack check found no room left (morestack's saved pc is inside it).
        // Failing that, the innermost frame outside the runtime.
        const auto frames = walker_->walk(pc, sp, 64);
        std::optional<size_t> at;
        for (size_t i = 0; i < frames.size(); ++i)
            if (!is_runtime_function(frames[i].name)) {
                if (!at)
                    at = i;
                if (!is_std_function(frames[i].name, "")) {
                    at = i;
                    break;
                }
            }
        if (at) {
            // Calls the compiler inlined into that frame (mu.Unlock in the program's function)
            // expanded, the program's own line.
            const Frame &f = frames[*at];
            const bool return_address = !(*at > 0 && frames[*at - 1].name == "runtime.sigpanic");
            const Site inlined = Symbolizer::program_site(
                names_->call_stack({f.pc, f.sp, walker_->to_link(f.pc) - (return_address ? 1 : 0)}));
            e.site = inlined.function.empty() ? names_->site_at(f.pc, return_address) : inlined;
        }
        // A fatal error raised while panics are in progress (Go 1.26's fatal prints them
        // first, printPreFatalDeferPanic): oldest first, as for a fatal panic.
        fatal.panics = panic_chain(state_->panics(user, 64));
        bool complete = true;
        fatal.pending = program_pending(user, pc, sp, &complete);
        fatal.pending_truncated = !complete;
    }
    e.payload = std::move(fatal);
    return e;
}

void Tracer::forget_program() {
    // The goroutines, panics and probes of a program that exec replaced: none of it exists in the
    // new one (whose goroutine ids start again from 1). The validator is replaced by attach.
    registered_.clear();
    recovers_.clear();
    deferreturn_frames_.clear();
    goexiting_.clear();
    panics_.clear();
    last_panic_.clear();
    fatals_.clear();
    exec_held_.clear();
    attached_sites_.clear();
    started_.clear();
    thrown_ = false;
}

void Tracer::on_exec() {
    drain(); // the old program's records, read through deftrace's own mapping of its ring
    // The thread that called execve goes on as the new program's only one, with the process id
    // as its thread id (the kernel gives it the thread group leader's).
    const Stamped stamped(stamp_, tracee_->pid());
    // syscall.Exec succeeded: what was pending at its call will never run.
    for (auto &e : exec_held_)
        emit(std::move(e));
    exec_held_.clear();
    for (auto &[goid, pending] : fatals_)
        emit(std::move(pending.event));
    fatals_.clear();
    emit_divergences();
    Event x;
    x.kind = EventKind::Exec;
    x.goroutine = std::exchange(exec_goid_, 0); // the goroutine that called syscall.Exec (0: unknown)
    std::error_code ec;
    const std::string path =
        std::filesystem::read_symlink("/proc/" + std::to_string(tracee_->pid()) + "/exe", ec).string();
    x.payload = ExecPayload{path.substr(path.rfind('/') + 1), false, ""};
    follow_exec(x, path);
    emit(std::move(x));
}

// Follow the new program, as strace does, when it is a Go program deftrace can read: from its
// first instruction (it is stopped there, as at launch), with its own analysis.
void Tracer::follow_exec(Event &x, const std::string &path) {
    try {
        if (!options_.offsets_for)
            throw Error(ErrorKind::Usage, "following an exec is not set up");
        auto bin = std::make_unique<GoBinary>(GoBinary::open(path));
        RuntimeOffsets offsets = options_.offsets_for(*bin);
        GoRelease traits = traits_of(*bin);
        auto sites = sites_needed(*bin, options_);
        forget_program();
        owned_bins_.push_back(std::move(bin));
        bin_ = owned_bins_.back().get();
        sites_ = std::move(sites);
        off_ = offsets;
        traits_ = traits;
        active_ = true;
        attach(*tracee_);
        std::get<ExecPayload>(x.payload).traced = true;
    } catch (const Error &err) {
        // Not a Go program, or one deftrace cannot read: it runs on untraced. (Breakpoints
        // already inserted stay and are stepped over, reporting nothing.)
        active_ = false;
        std::string why = err.what();
        if (!path.empty() && why.starts_with(path + ": "))
            why = why.substr(path.size() + 2); // the program is named by the event
        auto &exec = std::get<ExecPayload>(x.payload);
        exec.traced = false;
        exec.note = why;
    }
}

} // namespace deftrace
