// Stop handlers for the processes a program starts (fork, vfork, clone; deftrace -f follows
// them, trace/child_tracers.h).
#include "trace/tracer.h"

namespace deftrace {

void Tracer::on_spawn(ThreadStop &stop, pid_t child) {
    // The goroutine that forked: the child event, made later at the child's exec, is its. os/exec
    // and syscall.ForkExec fork on a goroutine's own thread (the stop is at the fork syscall's
    // return in the parent).
    if (!active_)
        return;
    const CurrentG::Found current = current_g_.at(stop.regs, tracee_->memory());
    if (current.g.is_null())
        return;
    auto header = state_->header(current.g);
    if (header && header->goid == 0) { // on g0: the goroutine it works for
        auto user = CurrentG::curg_of_g0(current.g, *state_);
        header = user ? state_->header(*user) : std::nullopt;
    }
    if (header)
        spawned_by_[child] = header->goid;
}

void Tracer::report_child(pid_t child, const std::string &path, std::vector<std::string> argv, bool traced,
                          const std::string &note) {
    uint64_t goid = 0;
    if (auto it = spawned_by_.find(child); it != spawned_by_.end()) {
        goid = it->second;
        spawned_by_.erase(it);
    }
    Event e;
    e.kind = EventKind::Child;
    e.goroutine = goid;
    e.payload = ChildPayload{child, path.substr(path.rfind('/') + 1), std::move(argv), traced, note};
    emit(std::move(e));
}

} // namespace deftrace
