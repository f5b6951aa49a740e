#include "trace/normalize.h"

#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace deftrace {

namespace {

using json = nlohmann::ordered_json;

std::string str_or(const json &j, const char *key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// The package path of a qualified Go function name: "net/http.(*conn).serve" -> "net/http".
std::string_view package_of(std::string_view function) {
    const size_t slash = function.rfind('/');
    const size_t dot = function.find('.', slash == std::string_view::npos ? 0 : slash);
    return dot == std::string_view::npos ? function : function.substr(0, dot);
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

// Instantiations of generic functions are named by their shape, which releases spell
// differently (main.f[...] in 1.19, main.f[go.shape.int] later): keep only that it is generic.
std::string canonical_function(const std::string &name) {
    std::string out;
    int depth = 0;
    for (char c : name) {
        if (c == '[') {
            if (depth++ == 0)
                out += "[...]";
        } else if (c == ']' && depth > 0) {
            --depth;
        } else if (depth == 0) {
            out += c;
        }
    }
    return out;
}

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

std::string mask_addresses(const std::string &s) {
    static const std::regex hex("0x[0-9a-fA-F]{5,}");
    return std::regex_replace(s, hex, "0x?");
}

// Values may hold pointers (a panic(&T{}) prints one): addresses vary from run to run.
void normalize_value(json &holder) {
    if (holder.contains("value") && holder["value"].is_string())
        holder["value"] = mask_addresses(holder["value"].get<std::string>());
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
std::optional<json> normalize_event(const json &e, const Paths &paths) {
    const std::string kind = str_or(e, "kind");
    const std::string function = e.contains("site") ? str_or(e["site"], "function") : std::string();
    const bool std_site = !function.empty() && is_std_function(function, paths.main_module);
    if (std_site && (kind == "defer" || kind == "defer_call"))
        return std::nullopt;
    if (std_site && kind == "recover" && !e.value("recovered", false))
        return std::nullopt;
    json n;
    for (auto it = e.begin(); it != e.end(); ++it) {
        const std::string &k = it.key();
        // handle: an address; status (never_run): whether a goroutine was still runnable or
        // already parked when os.Exit came is a matter of scheduling.
        if (k == "seq" || k == "bit" || k == "wrapper" || k == "handle" || k == "status")
            continue;
        n[k] = it.value();
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
    normalize_value(n);
    if (n.contains("panics"))
        for (auto &p : n["panics"])
            normalize_value(p);
    if (n.contains("pending"))
        n["pending"] = normalize_pending(n["pending"], paths);
    return n;
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

} // namespace

bool is_std_function(std::string_view function, std::string_view main_module) {
    // Type arguments may name packages of their own (go.shape.struct { net/netip.z ... }).
    const std::string plain = canonical_function(std::string(function));
    const std::string_view pkg = package_of(plain);
    if (pkg.empty() || pkg == "main")
        return false;
    if (!main_module.empty() && (pkg == main_module || pkg.starts_with(std::string(main_module) + "/")))
        return false;
    const std::string_view first = pkg.substr(0, pkg.find('/'));
    return first.find('.') == std::string_view::npos;
}

json normalize_trace(const json &trace) {
    if (trace.value("normalized", false))
        return trace;
    Paths paths;
    if (trace.contains("paths")) {
        paths.module_dir = str_or(trace["paths"], "module_dir");
        paths.goroot = str_or(trace["paths"], "goroot");
        paths.main_module = str_or(trace["paths"], "main_module");
    }

    // Per goroutine, in the goroutine's own order.
    std::map<uint64_t, std::vector<json>> by_goroutine;
    std::vector<uint64_t> first_seen;
    for (const auto &e : trace.value("events", json::array())) {
        if (str_or(e, "kind") == "exit")
            continue; // the top-level "exit" says it
        const uint64_t g = e.value("goroutine", uint64_t{0});
        auto n = normalize_event(e, paths);
        if (!n)
            continue;
        n->erase("goroutine");
        if (!by_goroutine.contains(g))
            first_seen.push_back(g);
        by_goroutine[g].push_back(std::move(*n));
    }

    // Canonical goroutine order: goroutine 1 (runtime.main) first, the rest by history.
    struct Group {
        uint64_t id;
        std::string key;
    };
    std::vector<Group> groups;
    for (uint64_t g : first_seen) {
        std::string key;
        for (const auto &e : by_goroutine[g])
            key += e.dump() + "\n";
        groups.push_back({g, std::move(key)});
    }
    std::stable_sort(groups.begin(), groups.end(), [](const Group &a, const Group &b) {
        if ((a.id == 1) != (b.id == 1))
            return a.id == 1;
        return a.key < b.key;
    });

    json out;
    out["schema"] = trace.value("schema", "deftrace.trace/1");
    out["normalized"] = true;
    if (trace.contains("program") && trace["program"].is_array() && !trace["program"].empty()) {
        json program = trace["program"];
        std::string argv0 = program[0].get<std::string>();
        if (auto slash = argv0.rfind('/'); slash != std::string::npos)
            argv0 = argv0.substr(slash + 1);
        program[0] = argv0;
        out["program"] = program;
    }
    if (trace.contains("mode"))
        out["mode"] = trace["mode"];
    // Only the divergence count: the number of observations moves with the standard library's
    // own defers from release to release.
    if (trace.contains("validation") && trace["validation"].is_object())
        out["validation"] = {{"divergences", trace["validation"].value("divergences", uint64_t{0})}};
    json events = json::array();
    uint64_t number = 0;
    std::map<uint64_t, uint64_t> renumber;
    for (const auto &grp : groups) {
        // Goroutine 0 is no goroutine (a fatal error thrown by the scheduler): it stays 0.
        const uint64_t id = renumber[grp.id] = grp.id == 0 ? 0 : ++number;
        for (auto &e : by_goroutine[grp.id]) {
            json n;
            n["goroutine"] = id;
            for (auto it = e.begin(); it != e.end(); ++it)
                n[it.key()] = it.value();
            events.push_back(std::move(n));
        }
    }
    if (trace.contains("leaks"))
        out["leaks"] = normalize_leaks(trace["leaks"], paths, renumber);
    out["events"] = std::move(events);
    if (trace.contains("exit"))
        out["exit"] = trace["exit"];
    return out;
}

} // namespace deftrace
