// deftrace -f: the processes a traced program starts, each Go program among them traced by a
// Tracer of its own into the same trace, its events tagged with its pid. Without -f, a child
// that runs a program gets a child event saying it ran untraced.
#pragma once

#include "process/child_policy.h"
#include "trace/tracer.h"

#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>

namespace deftrace {

// Gives every event that goes through it one sequence number of the whole trace and, for a
// child's, its pid; a child's events wait until the child event that introduces it is out.
class ProcessSink : public EventSink {
public:
    ProcessSink(EventSink &out, uint64_t &seq, int32_t pid) : out_(out), seq_(seq), pid_(pid), held_(pid != 0) {}
    void emit(const Event &e) override;
    // The child event is out: what was held goes too.
    void release();

private:
    EventSink &out_;
    uint64_t &seq_;
    int32_t pid_;
    bool held_;
    std::vector<Event> waiting_;
};

class ChildTracers : public ChildPolicy {
public:
    // `follow`: -f. `sink` and `options`: what each child's Tracer writes to and how it traces.
    ChildTracers(bool follow, EventSink &sink, TraceOptions options);
    // The traced program's Tracer, the parent of the first children.
    void set_program(Tracer &program, pid_t pid) {
        program_ = &program;
        program_pid_ = pid;
    }
    ~ChildTracers() override;
    ChildTracers(const ChildTracers &) = delete;
    ChildTracers &operator=(const ChildTracers &) = delete;

    StopHandler *on_exec(Tracee &child) override;
    void on_ended(Tracee &child, const ExitStatus &status, const std::string &error) override;
    // With -f, the sink for the traced program's own events (sequence numbers shared with its
    // children's).
    [[nodiscard]] EventSink &program_sink() { return program_sink_; }

private:
    // What deftrace reads from one executable, once per file however often it runs (the go
    // command runs its compiler once a package). `error`: why it is not traced.
    struct Analysis {
        std::unique_ptr<GoBinary> bin;
        TraceOptions options; // how it is traced (options_for)
        std::string how;      // when not as the options say: why (the child event's note)
        std::vector<FunctionDefers> sites;
        std::optional<RuntimeOffsets> offsets;
        std::string error;
    };
    // The options a child program is traced with: the trace's, except that in the default scope
    // a program of the Go toolchain itself (the compiler, vet, the linker... which the go command
    // runs once a package: main module cmd) is traced for its panics only. Its every defer would
    // be in its own main module's scope, millions of stops for a build, none of them the user's.
    void options_for(Analysis &a) const;
    struct Child {
        std::unique_ptr<ProcessSink> sink;
        std::unique_ptr<Tracer> tracer;
    };
    const Analysis &analysis_of(const std::string &exe);
    Tracer *tracer_of(pid_t pid);

    bool follow_;
    Tracer *program_ = nullptr;
    pid_t program_pid_ = 0;
    EventSink &sink_;
    TraceOptions options_;
    uint64_t seq_ = 0;
    ProcessSink program_sink_;
    std::map<std::tuple<dev_t, ino_t, int64_t>, Analysis> analyses_; // by file and modification time
    std::unordered_map<pid_t, Child> children_;
};

} // namespace deftrace
