#include "output/normalize.h"

#include "binary/error.h"
#include "binary/go_names.h"
#include "output/output_stream.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <regex>
#include <string>
#include <unistd.h>
#include <vector>

namespace deftrace {

namespace {

using json = nlohmann::ordered_json;

std::string str_or(const json &j, const char *key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

struct Paths {
    std::string module_dir, goroot, main_module;

    [[nodiscard]] std::string file(const std::string &f) const {
        auto under = [&](const std::string &dir) { return !dir.empty() && f.starts_with(dir + "/"); };
        if (under(module_dir))
            return f.substr(module_dir.size() + 1);
        if (under(goroot))
            return "$GOROOT/" + f.substr(goroot.size() + 1);
        if (auto at = f.find("/pkg/mod/"); at != std::string::npos)
            return "$GOMODCACHE/" + f.substr(at + 9);
        return f;
    }
};

void canonical_field(json &j, const char *key) {
    if (j.contains(key) && j[key].is_string())
        j[key] = canonical_function(j[key].get<std::string>());
}

// A function literal of the standard library (context.WithDeadline.func3, which 1.21 renamed
// context.WithDeadlineCause.func3) is named after where the library happens to define it: a
// program that defers cancel() should not change its trace when Go does.
void canonical_std_fn(json &j, const char *key, std::string_view main_module) {
    if (!j.contains(key) || !j[key].is_string())
        return;
    const std::string fn = j[key].get<std::string>();
    static const std::regex literal(R"(\.func\d+(\.\d+)*$)");
    if (is_std_function(fn, main_module) && std::regex_search(fn, literal))
        j[key] = std::string(package_of(fn)) + ".(func literal)";
}

std::string base_name(const std::string &path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Every 0x followed by 5 or more hex digits becomes 0x? (in one pass: a value can be hundreds
// of megabytes, where std::regex takes a minute).
std::string mask_addresses(const std::string &s) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    std::string out;
    size_t copied = 0;
    for (size_t at = s.find("0x"); at != std::string::npos; at = s.find("0x", at + 2)) {
        size_t end = at + 2;
        while (end < s.size() && hex(s[end]))
            ++end;
        if (end - at - 2 < 5)
            continue;
        if (out.empty())
            out.reserve(s.size());
        out.append(s, copied, at - copied).append("0x?");
        copied = end;
        at = end - 2;
    }
    if (copied == 0)
        return s;
    return out.append(s, copied, std::string::npos);
}

// Values may hold pointers (a panic(&T{}) prints one): addresses vary from run to run. In
// place: a value can be hundreds of megabytes.
void normalize_value(json &holder) {
    if (!holder.contains("value") || !holder["value"].is_string())
        return;
    auto &value = holder["value"].get_ref<std::string &>();
    if (value.find("0x") != std::string::npos)
        value = mask_addresses(value);
}

json normalize_pending(const json &list, const Paths &paths) {
    json out = json::array();
    for (const auto &d : list) {
        if (is_std_function(str_or(d, "function"), paths.main_module))
            continue;
        json n = d;
        n.erase("bit");
        n.erase("wrapper");
        canonical_field(n, "function");
        canonical_field(n, "fn");
        canonical_std_fn(n, "fn", paths.main_module);
        out.push_back(std::move(n));
    }
    return out;
}

// The event without what the normalized form leaves out; nullopt when the event goes.
std::optional<json> normalize_event(json &&e, const Paths &paths) {
    const std::string kind = str_or(e, "kind");
    const std::string function = e.contains("site") ? str_or(e["site"], "function") : std::string();
    const bool std_site = !function.empty() && is_std_function(function, paths.main_module);
    if (std_site && (kind == "defer" || kind == "defer_call"))
        return std::nullopt;
    if (std_site && kind == "recover" && !e.value("recovered", false))
        return std::nullopt;
    // Made when someone asked (SIGUSR1) or when a clock ran out (--leak-age): not the program's
    // story, and never the same twice.
    if (kind == "leak_report")
        return std::nullopt;
    json n;
    for (auto it = e.begin(); it != e.end(); ++it) {
        const std::string &k = it.key();
        // handle: an address; args (≤1.16 defers): their pointers differ from run to run; status (never_run): whether a
        // goroutine was still runnable or already parked when os.Exit came is a matter of scheduling; time and tid:
        // when and on which thread, never the same twice. A panic's stack: which calls the compiler inlines, and so
        // which frames a traceback shows, changes from release to release, and the library's frames with it; the
        // events' sites and order already tell the story. go_start: the wrapper a go statement starts in is named
        // differently by each release (main.main.func1, main.main.gowrap1). (A child's exit, -f, keeps its status.)
        if (k == "seq" || k == "bit" || k == "wrapper" || k == "handle" || k == "args" ||
            (k == "status" && kind != "exit") || k == "time" || k == "tid" || k == "stack" || k == "stack_truncated" ||
            k == "go_start")
            continue;
        n[k] = std::move(it.value());
    }
    if (n.contains("site")) {
        n["site"]["file"] = paths.file(str_or(n["site"], "file"));
        canonical_field(n["site"], "function");
        // Line numbers inside the standard library move with every release.
        if (std_site)
            n["site"].erase("line");
    }
    canonical_field(n, "fn");
    canonical_std_fn(n, "fn", paths.main_module);
    canonical_field(n, "resume");
    if (kind == "child") {
        // Which process it was is the pid's, never the same twice; paths in its command line (the
        // program's own, the go command's temporary files) keep only their last element.
        n.erase("child_pid");
        if (n.contains("argv") && n["argv"].is_array())
            for (auto &arg : n["argv"])
                if (arg.is_string())
                    arg = base_name(arg.get<std::string>());
    }
    normalize_value(n);
    if (n.contains("panics"))
        for (auto &p : n["panics"])
            normalize_value(p);
    if (n.contains("pending"))
        n["pending"] = normalize_pending(n["pending"], paths);
    return n;
}

// A child's event (-f): its process named by the program it runs instead of its pid; a child's
// validation without the observation count (as the trace's own, summary()).
json as_child_event(json &&n, const std::string &process) {
    json out;
    out["process"] = process;
    const bool validation = str_or(n, "kind") == "validation";
    for (auto it = n.begin(); it != n.end(); ++it)
        if (it.key() != "pid" && !(validation && (it.key() == "observations" || it.key() == "model")))
            out[it.key()] = std::move(it.value());
    return out;
}

json normalize_site(const json &site, const Paths &paths) {
    json s = site;
    s["file"] = paths.file(str_or(site, "file"));
    canonical_field(s, "function");
    if (is_std_function(str_or(site, "function"), paths.main_module))
        s.erase("line");
    return s;
}

// The leak report, with goroutines renumbered as the events are, in a canonical order.
json normalize_leaks(const json &leaks, const Paths &paths, const std::map<uint64_t, uint64_t> &renumber) {
    std::vector<json> out;
    for (const auto &l : leaks) {
        json n = l;
        const uint64_t g = l.value("goroutine", uint64_t{0});
        n["goroutine"] = renumber.contains(g) ? renumber.at(g) : 0;
        // The acquiring stack down to the program's outermost frame: the library frames that
        // called into the program (net/http's server loop) change with every release.
        json stack = json::array();
        size_t keep = 0, i = 0;
        const json acquired = l.value("acquired", json::array());
        for (const auto &s : acquired) {
            ++i;
            if (!is_std_function(str_or(s, "function"), paths.main_module))
                keep = i;
        }
        for (i = 0; i < acquired.size() && (i < keep || keep == 0); ++i)
            stack.push_back(normalize_site(acquired[i], paths));
        n["acquired"] = stack;
        if (n.contains("panic")) {
            normalize_value(n["panic"]);
            n["panic"]["site"] = normalize_site(n["panic"]["site"], paths);
            canonical_field(n["panic"], "recovered_in");
        }
        out.push_back(std::move(n));
    }
    std::sort(out.begin(), out.end(), [](const json &a, const json &b) { return a.dump() < b.dump(); });
    return json(out);
}

// An unlinked temporary file, close-on-exec.
FILE *spill_file() {
    const char *dir = std::getenv("TMPDIR");
    const std::string base = dir && *dir ? dir : "/tmp";
    int fd = ::open(base.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) { // a file system without O_TMPFILE
        std::string name = base + "/deftrace-XXXXXX";
        fd = mkostemp(name.data(), O_CLOEXEC);
        if (fd >= 0)
            ::unlink(name.c_str());
    }
    if (fd < 0)
        throw Error(ErrorKind::Io, "a temporary file in " + base + ": " + std::strerror(errno));
    FILE *f = fdopen(fd, "w+");
    if (f == nullptr) {
        ::close(fd);
        throw Error(ErrorKind::Io, std::string("fdopen: ") + std::strerror(errno));
    }
    return f;
}

std::string dump_compact(const json &j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// `text` with `indent` spaces after each newline.
std::string indented(const std::string &text, size_t indent) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        out += c;
        if (c == '\n')
            out.append(indent, ' ');
    }
    return out;
}

} // namespace

Normalizer::Normalizer(const json &header) : header_(header), spill_(spill_file()) {
    pass_through_ = header.contains("normalized") && header["normalized"] == true;
    if (header.contains("paths") && header["paths"].is_object()) {
        module_dir_ = str_or(header["paths"], "module_dir");
        goroot_ = str_or(header["paths"], "goroot");
        main_module_ = str_or(header["paths"], "main_module");
    }
}

Normalizer::~Normalizer() = default;

void Normalizer::add(json e) {
    if (layout_)
        throw std::logic_error("Normalizer::add after the events were read");
    std::optional<json> n;
    uint64_t g = e.contains("goroutine") && e["goroutine"].is_number_unsigned() ? e["goroutine"].get<uint64_t>() : 0;
    auto pid_of = [&](const char *key) {
        return e.contains(key) && e[key].is_number_integer() && e[key].get<int64_t>() > 0 ? e[key].get<uint64_t>() : 0;
    };
    if (pass_through_) {
        n = std::move(e);
    } else {
        const uint64_t pid = pid_of("pid");
        if (str_or(e, "kind") == "exit" && pid == 0)
            return; // the top-level "exit" says it
        const uint64_t child_pid = str_or(e, "kind") == "child" ? pid_of("child_pid") : 0;
        n = normalize_event(std::move(e), Paths{module_dir_, goroot_, main_module_});
        if (!n)
            return;
        if (child_pid != 0 && n->contains("argv")) {
            std::string name; // its command line as normalized: the process's name
            for (const auto &arg : (*n)["argv"])
                name += (name.empty() ? "" : " ") + (arg.is_string() ? arg.get<std::string>() : std::string());
            processes_[child_pid].name = name;
        }
        if (pid != 0) {
            // A child's goroutines are told apart from the program's, and from other children's,
            // by the child's place among the processes (high bits of the key); its events carry
            // the name of the program it runs, which orders them (layout()).
            auto &p = processes_[pid];
            if (p.index == 0)
                p.index = ++process_count_;
            n = as_child_event(std::move(*n), p.name.empty() ? "?" : p.name);
            g |= p.index << 32;
        }
    }
    n->erase("goroutine");
    const std::string line = dump_compact(*n) + "\n";
    if (std::fwrite(line.data(), 1, line.size(), spill_.get()) != line.size())
        throw Error(ErrorKind::Io, std::string("writing a temporary file: ") + std::strerror(errno));
    auto [it, fresh] = by_goroutine_.try_emplace(g);
    if (fresh)
        first_seen_.push_back(g);
    it->second.push_back({spill_size_, static_cast<uint32_t>(line.size())});
    spill_size_ += line.size();
}

std::string Normalizer::line_at(Span s) const {
    std::string line(s.length, '\0');
    if (pread(fileno(spill_.get()), line.data(), s.length, static_cast<off_t>(s.offset)) !=
        static_cast<ssize_t>(s.length))
        throw Error(ErrorKind::Io, std::string("reading a temporary file: ") + std::strerror(errno));
    return line; // with its '\n'
}

const Normalizer::Layout &Normalizer::layout() const {
    if (layout_)
        return *layout_;
    if (std::fflush(spill_.get()) != 0)
        throw Error(ErrorKind::Io, std::string("writing a temporary file: ") + std::strerror(errno));
    Layout l;
    if (pass_through_) { // already in canonical order, numbered
        for (const auto &[g, spans] : by_goroutine_) {
            l.order.push_back(g);
            l.renumber[g] = g;
            l.id_of[g] = g;
        }
        layout_ = std::make_unique<Layout>(std::move(l));
        return *layout_;
    }
    // Canonical goroutine order: goroutine 1 (runtime.main) first, the rest by their histories
    // compared as the text of their events one after the other. Comparing event by event, each
    // with its newline, orders them the same way without building that text.
    auto history_less = [&](uint64_t a, uint64_t b) {
        const auto &ha = by_goroutine_.at(a), &hb = by_goroutine_.at(b);
        for (size_t i = 0; i < ha.size() && i < hb.size(); ++i) {
            const std::string la = line_at(ha[i]), lb = line_at(hb[i]);
            if (la != lb)
                return la < lb;
        }
        return ha.size() < hb.size();
    };
    // The program's goroutines before its children's (-f), which have a process index in the
    // high bits of their keys (add()).
    auto rank = [](uint64_t key) { return key == 1 ? 0 : (key >> 32) == 0 ? 1 : 2; };
    l.order = first_seen_;
    std::stable_sort(l.order.begin(), l.order.end(), [&](uint64_t a, uint64_t b) {
        if (rank(a) != rank(b))
            return rank(a) < rank(b);
        return history_less(a, b);
    });
    uint64_t number = 0;
    for (uint64_t g : l.order) {
        // Goroutine 0 is no goroutine (a fatal error thrown by the scheduler): it stays 0.
        const uint64_t n = g == 0 ? 0 : ++number;
        l.renumber[g] = n;
        l.id_of[n] = g;
    }
    layout_ = std::make_unique<Layout>(std::move(l));
    return *layout_;
}

std::vector<uint64_t> Normalizer::numbers() const {
    std::vector<uint64_t> out;
    for (uint64_t g : layout().order)
        out.push_back(layout().renumber.at(g));
    return out;
}

size_t Normalizer::event_count(uint64_t number) const {
    const auto it = layout().id_of.find(number);
    return it == layout().id_of.end() ? 0 : by_goroutine_.at(it->second).size();
}

std::string Normalizer::event_text(uint64_t number, size_t index) const {
    std::string line = line_at(by_goroutine_.at(layout().id_of.at(number)).at(index));
    line.pop_back(); // its '\n'
    return line;
}

template <typename F> void Normalizer::for_each_event(F &&f) const {
    const Layout &l = layout();
    for (uint64_t g : l.order)
        for (const Span &s : by_goroutine_.at(g)) {
            json e = json::parse(line_at(s));
            json n;
            n["goroutine"] = l.renumber.at(g);
            for (auto it = e.begin(); it != e.end(); ++it)
                n[it.key()] = std::move(it.value());
            f(std::move(n));
        }
}

// The normalized document without its events (an empty "events" where they go).
json Normalizer::summary(const json &closing) const {
    if (pass_through_) {
        json out = header_;
        out["events"] = json::array();
        for (auto it = closing.begin(); it != closing.end(); ++it)
            out[it.key()] = it.value();
        return out;
    }
    const Layout &l = layout();
    const Paths paths{module_dir_, goroot_, main_module_};
    json out;
    out["schema"] = header_.value("schema", "deftrace.trace/1");
    out["normalized"] = true;
    if (header_.contains("program") && header_["program"].is_array() && !header_["program"].empty()) {
        json program = header_["program"];
        std::string argv0 = program[0].is_string() ? program[0].get<std::string>() : std::string();
        if (auto slash = argv0.rfind('/'); slash != std::string::npos)
            argv0 = argv0.substr(slash + 1);
        program[0] = argv0;
        // `go test` runs a test binary with flags of its own (go test -exec deftrace ...): the
        // trace is the same whichever of them a Go release adds.
        json args = json::array();
        for (const auto &a : program) {
            const std::string arg = a.is_string() ? a.get<std::string>() : std::string();
            if (arg != "-test.paniconexit0" && !arg.starts_with("-test.timeout="))
                args.push_back(a);
        }
        out["program"] = std::move(args);
    }
    if (header_.contains("mode"))
        out["mode"] = header_["mode"];
    // Only the divergence count: the number of observations moves with the standard library's
    // own defers from release to release.
    if (closing.contains("validation") && closing["validation"].is_object())
        out["validation"] = {{"divergences", closing["validation"].value("divergences", uint64_t{0})}};
    if (closing.contains("leaks"))
        out["leaks"] = normalize_leaks(closing["leaks"], paths, l.renumber);
    out["events"] = json::array();
    if (closing.contains("exit")) {
        json exit = closing["exit"];
        if (exit.is_object()) {
            exit.erase("time");
            exit.erase("tid");
        }
        out["exit"] = std::move(exit);
    }
    return out;
}

json Normalizer::document(const json &closing) const {
    json out = summary(closing);
    for_each_event([&](json &&e) { out["events"].push_back(std::move(e)); });
    return out;
}

void Normalizer::write(OutputStream &out, const json &closing) const {
    const json doc = summary(closing);
    out.write("{");
    bool first_member = true;
    for (auto it = doc.begin(); it != doc.end(); ++it) {
        out.write(std::string(first_member ? "\n" : ",\n") + "  " + dump_compact(json(it.key())) + ": ");
        first_member = false;
        if (it.key() != "events" || by_goroutine_.empty()) {
            out.write(indented(it.value().dump(2, ' ', false, json::error_handler_t::replace), 2));
            continue;
        }
        out.write("[");
        bool first_event = true;
        for_each_event([&](json &&e) {
            out.write(std::string(first_event ? "\n" : ",\n") + "    " +
                      indented(e.dump(2, ' ', false, json::error_handler_t::replace), 4));
            first_event = false;
        });
        out.write("\n  ]");
    }
    out.write("\n}\n");
    out.flush();
}

std::unique_ptr<Normalizer> normalizer_of(const json &trace, json &members) {
    members = json::object();
    for (auto it = trace.begin(); it != trace.end(); ++it)
        if (it.key() != "events")
            members[it.key()] = it.value();
    auto n = std::make_unique<Normalizer>(members);
    if (trace.contains("events") && trace["events"].is_array())
        for (const auto &e : trace["events"])
            n->add(e);
    return n;
}

json normalize_trace(const json &trace) {
    if (trace.value("normalized", false))
        return trace;
    json members;
    return normalizer_of(trace, members)->document(members);
}

} // namespace deftrace
