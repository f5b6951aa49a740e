#include "trace_command.h"

#include "analysis/defer_sites.h"
#include "binary/error.h"
#include "binary/go_binary.h"
#include "binary/struct_layouts.h"
#include "exit_codes.h"
#include "goruntime/runtime_offsets.h"
#include "process/tracee.h"
#include "trace/normalize.h"
#include "trace/sinks.h"
#include "trace/trace_diff.h"
#include "trace/tracer.h"

#include <algorithm>
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

// Resource probes shipped in probes/resources.
fs::path resource_probes_dir() {
    if (const char *env = std::getenv("DEFTRACE_PROBES_DIR"))
        return fs::path(env) / "resources";
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    fs::path installed = exe.parent_path() / "../share/deftrace/probes/resources";
    return fs::is_directory(installed, ec) ? installed : fs::path(DEFTRACE_PROBES_DIR) / "resources";
}

std::vector<ResourceProbe> resource_probes(const TraceCommandOptions &opts) {
    std::vector<ResourceProbe> out;
    const fs::path dir = resource_probes_dir();
    for (const auto &p : opts.probes)
        out.push_back(find_resource_probe(p, dir));
    if (opts.leaks || (opts.fail_on_leak && opts.probes.empty()))
        for (auto &p : shipped_resource_probes(dir))
            if (std::none_of(out.begin(), out.end(), [&](const ResourceProbe &q) { return q.name == p.name; }))
                out.push_back(std::move(p));
    return out;
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

nlohmann::ordered_json read_trace(const std::string &path) {
    std::ifstream in(path);
    if (!in)
        throw Error(errno == ENOENT   ? ErrorKind::NotFound
                    : errno == EACCES ? ErrorKind::Permission
                                      : ErrorKind::Io,
                    path + ": " + std::strerror(errno));
    auto j = nlohmann::ordered_json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("events"))
        throw Error(ErrorKind::Usage, path + ": not a deftrace JSON trace");
    return j;
}

// What normalization needs to make paths relative and tell the program's functions from the
// standard library's: the main module (build info) and where its sources and GOROOT's were.
nlohmann::ordered_json source_paths(const GoBinary &bin) {
    nlohmann::ordered_json p = nlohmann::ordered_json::object();
    std::string module;
    if (const auto &bi = bin.buildinfo()) {
        // "mod\t<path>\t<version>" names the main module; "path\t<pkg>" the main package.
        for (size_t at = 0; at < bi->mod_info.size();) {
            size_t end = bi->mod_info.find('\n', at);
            std::string line = bi->mod_info.substr(at, end == std::string::npos ? std::string::npos : end - at);
            if (line.starts_with("mod\t"))
                module = line.substr(4, line.find('\t', 4) - 4);
            if (end == std::string::npos)
                break;
            at = end + 1;
        }
        if (module.empty())
            module = bi->main_path;
    }
    p["main_module"] = module;
    const Pclntab &tab = bin.pclntab();
    auto file_of = [&](std::string_view name) -> std::string {
        auto i = tab.find_by_name(name);
        if (!i)
            return {};
        FuncInfo f = tab.func(*i);
        auto pos = tab.source_at(f, f.entry);
        return pos ? std::string(pos->file) : std::string();
    };
    std::string main_file = file_of("main.main");
    p["module_dir"] = main_file.substr(0, main_file.rfind('/') == std::string::npos ? 0 : main_file.rfind('/'));
    std::string proc = file_of("runtime.main");
    const std::string tail = "/src/runtime/proc.go";
    p["goroot"] = proc.ends_with(tail) ? proc.substr(0, proc.size() - tail.size()) : std::string();
    return p;
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
    std::optional<nlohmann::ordered_json> expected;
    if (opts.expect)
        expected = read_trace(*opts.expect); // before the run: a missing file is a usage error
    std::optional<JsonSink> json;
    if (opts.json || opts.expect) {
        nlohmann::ordered_json header;
        header["schema"] = "deftrace.trace/1";
        header["go_version"] = bin.version().text;
        header["program"] = opts.argv;
        header["mode"] = opts.panics_only ? "panics-only" : "full";
        header["paths"] = source_paths(bin);
        json.emplace(header);
        sinks.add(&*json);
    }

    TraceOptions topts;
    topts.panics_only = opts.panics_only;
    topts.resources = resource_probes(opts); // before the run: a bad probe is a usage error
    topts.offsets_for = [](const GoBinary &b) { return RuntimeOffsets::from(layouts_for(b)); }; // exec
    Tracer tracer(bin, std::move(sites), offsets, sinks, topts);
    Tracee tracee = Tracee::launch(opts.argv);
    tracer.attach(tracee);
    ExitStatus status = tracee.run(tracer);
    tracer.finish(status);
    sinks.finish();
    if (opts.stats) {
        const Tracee::Stats &st = tracee.stats();
        const uint64_t reads = tracee.memory().read_syscalls();
        std::fprintf(text_out,
                     "stats: %zu breakpoints (%zu jump-patched), %llu stops, %llu breakpoint hits (%llu jump-patched), "
                     "%llu signals delivered, %llu threads, %llu events, %llu memory reads (%.2f per hit)\n",
                     tracee.breakpoints().size(), tracee.breakpoints().jump_patched(),
                     static_cast<unsigned long long>(st.stops), static_cast<unsigned long long>(st.breakpoint_hits),
                     static_cast<unsigned long long>(st.jump_patched_hits),
                     static_cast<unsigned long long>(st.signals_forwarded), static_cast<unsigned long long>(st.threads),
                     static_cast<unsigned long long>(tracer.events()), static_cast<unsigned long long>(reads),
                     st.breakpoint_hits ? static_cast<double>(reads) / static_cast<double>(st.breakpoint_hits) : 0.0);
    }
    if (owned)
        owned.reset();
    // --strict: a divergence means the trace cannot be trusted as it is (docs/validation.md); that
    // outcome replaces the program's own status, which is passed through otherwise.
    const bool diverged = opts.strict && tracer.divergences() > 0;
    if (diverged)
        std::fprintf(stderr, "deftrace: %llu divergence%s from the runtime model (--strict)\n",
                     static_cast<unsigned long long>(tracer.divergences()), tracer.divergences() == 1 ? "" : "s");
    if (json) {
        nlohmann::ordered_json doc = json->document();
        if (opts.normalize || opts.expect)
            doc = normalize_trace(doc);
        if (opts.json)
            write_json_file(*opts.json, doc);
        if (expected) {
            TraceDiff d = diff_traces(*expected, doc);
            if (!d.same) {
                std::fprintf(stderr, "deftrace: the trace differs from %s\n%s", opts.expect->c_str(), d.report.c_str());
                return kExitTraceMismatch;
            }
            return diverged ? kExitDivergence : kExitOk;
        }
    }
    if (diverged)
        return kExitDivergence;
    if (status.signaled)
        die_like(status.signal);
    if (opts.fail_on_leak && tracer.leaks_open() > 0)
        return kExitLeak;
    return status.code;
}

int run_diff(const std::string &expected, const std::string &actual) {
    TraceDiff d = diff_traces(read_trace(expected), read_trace(actual));
    if (d.same)
        return kExitOk;
    std::printf("--- %s\n+++ %s\n%s", expected.c_str(), actual.c_str(), d.report.c_str());
    return kExitTraceMismatch;
}

} // namespace deftrace
