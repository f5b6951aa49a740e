#include "trace_command.h"

#include "analysis/defer_sites.h"
#include "binary/error.h"
#include "binary/go_binary.h"
#include "binary/struct_layouts.h"
#include "exit_codes.h"
#include "goruntime/runtime_offsets.h"
#include "process/tracee.h"
#include "trace/sinks.h"
#include "trace/tracer.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

namespace deftrace {

namespace {

namespace fs = std::filesystem;

// The program's file, as execvp will find it.
std::string resolve_program(const std::string &name) {
    if (name.find('/') != std::string::npos)
        return name;
    const char *path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find(':', start);
        std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
        fs::path cand = fs::path(dir.empty() ? "." : dir) / name;
        if (access(cand.c_str(), X_OK) == 0 && fs::is_regular_file(cand))
            return cand.string();
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    throw Error(ErrorKind::NotFound, name + ": command not found");
}

// Layout tables shipped in probes/layouts (source tree, or installed next to the binary).
std::optional<fs::path> layouts_dir() {
    if (const char *env = std::getenv("DEFTRACE_PROBES_DIR"))
        return fs::path(env) / "layouts";
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    for (const fs::path &cand :
         {exe.parent_path() / "../share/deftrace/probes/layouts", fs::path(DEFTRACE_PROBES_DIR) / "layouts"})
        if (fs::is_directory(cand, ec))
            return cand;
    return std::nullopt;
}

StructLayouts layouts_for(const GoBinary &bin) {
    if (bin.has_dwarf())
        if (auto l = StructLayouts::from_dwarf(bin.elf()); l && !l->empty())
            return *l;
    auto dir = layouts_dir();
    const std::string file = "go" + bin.version().minor_string() + ".json";
    if (dir && fs::exists(*dir / file)) {
        std::ifstream in(*dir / file);
        auto j = nlohmann::json::parse(in, nullptr, false);
        if (!j.is_discarded())
            if (auto l = StructLayouts::from_table(j))
                return *l;
    }
    throw Error(ErrorKind::UnsupportedGo, bin.path() + ": stripped binary built by " + bin.version().text +
                                              ", and no runtime layout table " + file + " is shipped for it");
}

[[noreturn]] void die_like(int sig) {
    // As strace does: end the way the program ended. No core file of our own.
    std::fflush(nullptr);
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    std::signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
    _exit(128 + sig);
}

} // namespace

int run_trace(const TraceCommandOptions &opts) {
    const std::string path = resolve_program(opts.argv.at(0));
    GoBinary bin = GoBinary::open(path);
    RuntimeOffsets offsets = RuntimeOffsets::from(layouts_for(bin));
    auto sites = analyze_defer_sites(bin);

    FILE *text_out = stderr;
    std::unique_ptr<FILE, int (*)(FILE *)> owned(nullptr, fclose);
    if (opts.output) {
        owned.reset(std::fopen(opts.output->c_str(), "w"));
        if (!owned)
            throw Error(ErrorKind::Io, *opts.output + ": " + std::strerror(errno));
        text_out = owned.get();
    }
    const bool color = !opts.no_color && isatty(fileno(text_out));
    TextSink text(text_out, color);
    TeeSink sinks;
    sinks.add(&text);
    std::optional<JsonSink> json;
    if (opts.json) {
        nlohmann::ordered_json header;
        header["schema"] = "deftrace.trace/1";
        header["go_version"] = bin.version().text;
        header["program"] = opts.argv;
        header["mode"] = opts.panics_only ? "panics-only" : "full";
        json.emplace(*opts.json, header);
        sinks.add(&*json);
    }

    TraceOptions topts;
    topts.panics_only = opts.panics_only;
    Tracer tracer(bin, std::move(sites), offsets, sinks, topts);
    Tracee tracee = Tracee::launch(opts.argv);
    tracer.attach(tracee);
    ExitStatus status = tracee.run(tracer);
    tracer.finish(status);
    sinks.finish();
    if (owned)
        owned.reset();
    if (status.signaled)
        die_like(status.signal);
    return status.code;
}

} // namespace deftrace
