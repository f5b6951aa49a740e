#include "trace/child_tracers.h"

#include "binary/error.h"
#include "binary/source_paths.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

namespace deftrace {

namespace {

// A process's command line (/proc/PID/cmdline: the arguments, each ended by a NUL).
std::vector<std::string> command_line(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> argv;
    for (size_t at = 0; at < all.size();) {
        const size_t end = std::min(all.find('\0', at), all.size());
        argv.push_back(all.substr(at, end - at));
        at = end + 1;
    }
    return argv;
}

} // namespace

void ProcessSink::emit(const Event &e) {
    Event tagged = e;
    tagged.pid = pid_;
    if (held_) {
        waiting_.push_back(std::move(tagged));
        return;
    }
    tagged.seq = ++seq_;
    out_.emit(tagged);
}

void ProcessSink::release() {
    held_ = false;
    for (Event &e : std::exchange(waiting_, {})) {
        e.seq = ++seq_;
        out_.emit(e);
    }
}

ChildTracers::ChildTracers(bool follow, EventSink &sink, TraceOptions options)
    : follow_(follow), sink_(sink), options_(std::move(options)), program_sink_(sink, seq_, 0) {}

ChildTracers::~ChildTracers() = default;

Tracer *ChildTracers::tracer_of(pid_t pid) {
    if (pid == program_pid_)
        return program_;
    auto it = children_.find(pid);
    return it == children_.end() ? nullptr : it->second.tracer.get();
}

void ChildTracers::options_for(Analysis &a) const {
    a.options = options_;
    const std::string module = main_module_of(*a.bin);
    const bool toolchain = module == "cmd" || module.starts_with("cmd/");
    if (toolchain && options_.scope == "main" && !options_.panics_only) {
        a.options.panics_only = true;
        a.how = "a Go toolchain program: its panics only, in the default scope";
    }
}

const ChildTracers::Analysis &ChildTracers::analysis_of(const std::string &exe) {
    struct stat st {};
    if (::stat(exe.c_str(), &st) != 0)
        st = {};
    const auto key = std::make_tuple(st.st_dev, st.st_ino,
                                     static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
    if (auto it = analyses_.find(key); it != analyses_.end() && st.st_ino != 0)
        return it->second;
    Analysis a;
    try {
        a.bin = std::make_unique<GoBinary>(GoBinary::open(exe));
        if (!options_.offsets_for)
            throw Error(ErrorKind::Usage, "following a child is not set up");
        a.offsets = options_.offsets_for(*a.bin);
        options_for(a);
        a.sites = Tracer::sites_needed(*a.bin, a.options);
    } catch (const Error &err) {
        a.bin.reset();
        a.error = err.what();
        if (a.error.starts_with(exe + ": "))
            a.error = a.error.substr(exe.size() + 2); // the child event names the program
    }
    return analyses_[key] = std::move(a);
}

StopHandler *ChildTracers::on_exec(Tracee &child) {
    const pid_t pid = child.pid();
    const std::string proc_exe = "/proc/" + std::to_string(pid) + "/exe";
    std::error_code ec;
    const std::string path = std::filesystem::read_symlink(proc_exe, ec).string();
    std::vector<std::string> argv = command_line(pid);
    Tracer *parent = tracer_of(child.parent_pid());
    auto report = [&](bool traced, const std::string &note) {
        if (parent != nullptr)
            parent->report_child(pid, path, argv, traced, note);
    };
    if (!follow_) {
        report(false, "not followed: deftrace -f follows children");
        return nullptr;
    }
    const Analysis &a = analysis_of(proc_exe);
    if (!a.bin) {
        report(false, a.error);
        return nullptr;
    }
    Child c;
    c.sink = std::make_unique<ProcessSink>(sink_, seq_, pid);
    try {
        c.tracer = std::make_unique<Tracer>(*a.bin, a.sites, *a.offsets, *c.sink, a.options);
        c.tracer->attach(child);
    } catch (const Error &err) {
        report(false, err.what());
        return nullptr;
    }
    report(true, a.how);
    c.sink->release();
    Tracer *tracer = c.tracer.get();
    children_[pid] = std::move(c);
    return tracer;
}

void ChildTracers::on_ended(Tracee &child, const ExitStatus &status, const std::string &error) {
    auto it = children_.find(child.pid());
    if (it == children_.end())
        return;
    if (!error.empty())
        std::fprintf(stderr, "deftrace: stopped tracing child %d: %s\n", child.pid(), error.c_str());
    it->second.tracer->finish(status);
    it->second.sink->release();
    // The Tracer stays: its children may still report to it (their own exit comes later).
}

} // namespace deftrace
