#include "output/summary.h"

#include "output/goroutine_names.h"
#include "output/text_safety.h"
#include "output/view_text.h"

#include <algorithm>
#include <cstdio>
#include <variant>

namespace deftrace {

namespace {

using json = nlohmann::ordered_json;

const char *const kDeferKinds[] = {"open-coded", "stack", "heap", "rangefunc"};
const char *const kCauses[] = {"return", "panic", "goexit"};

std::string base_name(const std::string &path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string with_commas(uint64_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return out;
}

uint64_t count_in(const std::map<std::string, uint64_t> &m, const char *key) {
    auto it = m.find(key);
    return it == m.end() ? 0 : it->second;
}

} // namespace

Summary::Fact Summary::of(const Event &e) {
    Fact f;
    f.kind = to_string(e.kind);
    f.pid = e.pid;
    f.goroutine = e.goroutine;
    f.function = e.site.function;
    f.file = e.site.file;
    f.line = e.site.line;
    f.go_start = e.go_start;
    if (const auto *d = std::get_if<DeferPayload>(&e.payload)) {
        f.fn = d->fn.fn;
        f.defer_kind = to_string(d->form);
    } else if (const auto *c = std::get_if<CallPayload>(&e.payload)) {
        f.fn = c->fn.fn;
        f.cause = c->cause;
    } else if (const auto *r = std::get_if<RecoverPayload>(&e.payload)) {
        f.recovered = r->recovered;
        f.reason = r->reason;
    } else if (const auto *p = std::get_if<PanicPayload>(&e.payload)) {
        if (!p->stack.empty() && !p->stack_truncated)
            f.stack_start = p->stack.back().function;
    } else if (const auto *n = std::get_if<NeverRunPayload>(&e.payload)) {
        for (const auto &pending : n->pending)
            f.never_run.emplace_back(pending.fn.fn, pending.function);
    }
    return f;
}

Summary::Fact Summary::of(const json &e) {
    Fact f;
    f.kind = str_of(e, "kind");
    f.pid = int_of(e, "pid");
    f.goroutine = e.contains("goroutine") && e["goroutine"].is_number_unsigned() ? e["goroutine"].get<uint64_t>() : 0;
    if (e.contains("site")) {
        f.function = str_of(e["site"], "function");
        f.file = str_of(e["site"], "file");
        f.line = int_of(e["site"], "line");
    }
    f.fn = str_of(e, "fn");
    f.defer_kind = f.kind == "defer" ? str_of(e, "defer_kind") : "";
    f.cause = str_of(e, "cause");
    f.reason = str_of(e, "reason");
    f.recovered = e.contains("recovered") && e["recovered"].is_boolean() && e["recovered"].get<bool>();
    f.stack_start = GoroutineNames::stack_start(e);
    f.go_start = str_of(e, "go_start");
    if (f.kind == "never_run" && e.contains("pending") && e["pending"].is_array())
        for (const auto &d : e["pending"])
            f.never_run.emplace_back(str_of(d, "fn"), str_of(d, "function"));
    return f;
}

uint64_t Summary::SiteCounts::total() const {
    uint64_t n = never_run + panics + recovered;
    for (const auto &m : {defers, calls, recover_nil})
        for (const auto &[k, v] : m)
            n += v;
    return n;
}

void Summary::add(const Fact &f) {
    if (f.kind == "exit" || f.kind == "validation" || f.kind == "leaks")
        return; // the end of the story, not a part of it
    ++events_;
    if (f.kind == "divergence")
        ++divergences_;
    GoroutineCounts &g = goroutines_[{f.pid, f.goroutine}];
    if (f.goroutine != 0)
        ++g.events;
    names_.see(f.pid, f.goroutine, f.function, f.stack_start, f.go_start);
    const bool site_event =
        f.kind == "defer" || f.kind == "defer_call" || f.kind == "panic" || f.kind == "repanic" || f.kind == "recover";
    if (site_event) {
        const bool deferred = f.kind == "defer" || f.kind == "defer_call";
        SiteCounts &s = sites_[SiteKey{f.pid, f.function, f.file, f.line, deferred ? f.fn : ""}];
        if (f.kind == "defer") {
            ++s.defers[f.defer_kind];
            ++g.defers;
        } else if (f.kind == "defer_call")
            ++s.calls[f.cause];
        else if (f.kind == "recover" && f.recovered) {
            ++s.recovered;
            ++g.recovered;
        } else if (f.kind == "recover") {
            ++s.recover_nil[f.reason];
            ++recover_nil_[f.reason];
        } else {
            ++s.panics;
            ++g.panics;
        }
    }
    for (const auto &[fn, function] : f.never_run) {
        // A pending call names its function, not its line: counted with the defer statement of
        // that function and deferred function when there is exactly one, on a row of its own
        // otherwise.
        std::vector<SiteCounts *> rows;
        for (auto &[key, counts] : sites_)
            if (key.pid == f.pid && key.function == function && key.fn == fn && !counts.defers.empty())
                rows.push_back(&counts);
        (rows.size() == 1 ? *rows.front() : sites_[SiteKey{f.pid, function, "", 0, fn}]).never_run += 1;
    }
    if (f.goroutine == 0)
        goroutines_.erase({f.pid, 0});
}

json Summary::to_json() const {
    std::vector<std::pair<const SiteKey *, const SiteCounts *>> rows;
    for (const auto &[k, c] : sites_)
        rows.emplace_back(&k, &c);
    std::stable_sort(rows.begin(), rows.end(),
                     [](const auto &a, const auto &b) { return a.second->total() > b.second->total(); });
    json sites = json::array();
    for (const auto &[k, c] : rows) {
        json s;
        if (k->pid != 0)
            s["pid"] = k->pid;
        s["site"] = Site{k->function, k->file, static_cast<int>(k->line)}.to_json();
        if (!k->fn.empty())
            s["fn"] = k->fn;
        s["count"] = c->total();
        if (!c->defers.empty())
            s["defers"] = c->defers;
        if (!c->calls.empty())
            s["calls"] = c->calls;
        if (c->never_run)
            s["never_run"] = c->never_run;
        if (c->panics)
            s["panics"] = c->panics;
        if (c->recovered)
            s["recovered"] = c->recovered;
        if (!c->recover_nil.empty())
            s["recover_nil"] = c->recover_nil;
        sites.push_back(std::move(s));
    }
    std::map<std::pair<int64_t, std::string>, json> starts;
    for (const auto &[key, g] : goroutines_) {
        const std::string start = names_.of(key.first, key.second);
        json &s = starts[{key.first, start}];
        if (s.is_null()) {
            s = json::object();
            if (key.first != 0)
                s["pid"] = key.first;
            s["start"] = start;
            for (const char *k : {"goroutines", "events", "defers", "panics", "recovered"})
                s[k] = 0;
        }
        s["goroutines"] = s["goroutines"].get<uint64_t>() + 1;
        s["events"] = s["events"].get<uint64_t>() + g.events;
        s["defers"] = s["defers"].get<uint64_t>() + g.defers;
        s["panics"] = s["panics"].get<uint64_t>() + g.panics;
        s["recovered"] = s["recovered"].get<uint64_t>() + g.recovered;
    }
    std::vector<json> by_start;
    for (auto &[k, s] : starts)
        by_start.push_back(std::move(s));
    std::stable_sort(by_start.begin(), by_start.end(), [](const json &a, const json &b) {
        return a["events"].get<uint64_t>() > b["events"].get<uint64_t>();
    });
    json out;
    out["events"] = events_;
    out["goroutines"] = goroutines_.size();
    out["sites"] = std::move(sites);
    out["recover_nil"] = recover_nil_;
    out["by_start"] = json(std::move(by_start));
    if (divergences_)
        out["divergences"] = divergences_;
    make_json_safe(out);
    return out;
}

std::string Summary::text() const {
    const json j = to_json();
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "summary: %s event%s on %s goroutine%s\n", with_commas(events_).c_str(),
                  events_ == 1 ? "" : "s", with_commas(goroutines_.size()).c_str(), goroutines_.size() == 1 ? "" : "s");
    out += line;
    out += "\n   count | defers: open-coded   stack    heap | calls: return   panic  goexit | never run | "
           "panics recovered recover=nil | site\n";
    for (const json &s : j["sites"]) {
        const auto defers = s.value("defers", std::map<std::string, uint64_t>{});
        const auto calls = s.value("calls", std::map<std::string, uint64_t>{});
        uint64_t nil = 0;
        for (const auto &[k, v] : s.value("recover_nil", std::map<std::string, uint64_t>{}))
            nil += v;
        std::string where = str_of(s["site"], "function");
        if (s["site"].contains("file"))
            where +=
                " (" + base_name(str_of(s["site"], "file")) + ":" + std::to_string(int_of(s["site"], "line")) + ")";
        if (s.contains("fn"))
            where += ": defer " + str_of(s, "fn");
        std::snprintf(
            line, sizeof line, "%8s | %18s %7s %7s | %13s %7s %7s | %9s | %6s %9s %11s | ",
            with_commas(s["count"].get<uint64_t>()).c_str(), with_commas(count_in(defers, kDeferKinds[0])).c_str(),
            with_commas(count_in(defers, kDeferKinds[1])).c_str(),
            with_commas(count_in(defers, kDeferKinds[2]) + count_in(defers, kDeferKinds[3])).c_str(),
            with_commas(count_in(calls, kCauses[0])).c_str(), with_commas(count_in(calls, kCauses[1])).c_str(),
            with_commas(count_in(calls, kCauses[2])).c_str(), with_commas(s.value("never_run", uint64_t{0})).c_str(),
            with_commas(s.value("panics", uint64_t{0})).c_str(), with_commas(s.value("recovered", uint64_t{0})).c_str(),
            with_commas(nil).c_str());
        out += line + terminal_safe(where) + "\n";
    }
    if (!j["recover_nil"].empty()) {
        out += "\nrecover() returned nil:\n";
        for (const auto &[reason, n] : recover_nil_) {
            std::snprintf(line, sizeof line, "%8s  ", with_commas(n).c_str());
            out += line + terminal_safe(reason) + "\n";
        }
    }
    out += "\n   goroutines     events   defers   panics recovered | started in\n";
    for (const json &s : j["by_start"]) {
        std::snprintf(
            line, sizeof line, "%13s %10s %8s %8s %9s | ", with_commas(s["goroutines"].get<uint64_t>()).c_str(),
            with_commas(s["events"].get<uint64_t>()).c_str(), with_commas(s["defers"].get<uint64_t>()).c_str(),
            with_commas(s["panics"].get<uint64_t>()).c_str(), with_commas(s["recovered"].get<uint64_t>()).c_str());
        out += line + terminal_safe(str_of(s, "start")) +
               (s.contains("pid") ? " [pid " + std::to_string(int_of(s, "pid")) + "]" : "") + "\n";
    }
    if (divergences_)
        out += "\n" + with_commas(divergences_) + (divergences_ == 1 ? " divergence" : " divergences") +
               " from the runtime model: the trace without -c, or its JSON, says where\n";
    return out;
}

} // namespace deftrace
