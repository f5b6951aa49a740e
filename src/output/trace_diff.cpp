#include "output/trace_diff.h"

#include "binary/fnv1a.h"
#include "output/normalize.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

namespace deftrace {

namespace {

using json = nlohmann::ordered_json;

std::string scalar(const json &v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

// A member's value as a report line shows it: a long one (a panic value of megabytes) by its
// first 120 bytes, its size and a hash of the whole (FNV-1a), so that two values that differ
// past what is shown still read differently, and the report stays a report.
std::string shown(const json &v) {
    constexpr size_t kShown = 120;
    std::string text = scalar(v);
    if (text.size() <= 2 * kShown)
        return text;
    const uint64_t h = fnv1a(text);
    size_t cut = kShown;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80)
        --cut; // not inside a UTF-8 sequence
    char tail[64];
    std::snprintf(tail, sizeof tail, "… (%zu bytes, fnv1a %016llx)", text.size(), static_cast<unsigned long long>(h));
    text.resize(cut);
    return text + tail;
}

std::string describe_exit(const json &exit) {
    if (exit.value("detached", false))
        return "detached";
    if (exit.contains("signal"))
        return "killed by " + scalar(exit.value("signal_name", json(exit["signal"])));
    if (exit.contains("status"))
        return "status " + scalar(exit["status"]);
    return "none";
}

// Longest-common-subsequence edit script between the events of goroutine `g` in two traces,
// reported as the events only in `want` ("-") and only in `got` ("+"), each with its position in
// its own list. Events compare as their compact JSON text.
void diff_events(uint64_t g, const Normalizer &want, const Normalizer &got, std::string &report) {
    const size_t n = want.event_count(g), m = got.event_count(g);
    auto describe = [](const std::string &text) { return describe_event(json::parse(text)); };
    const auto header = "goroutine " + std::to_string(g) + ":\n";
    // Too long for the quadratic table (or for holding the texts): the first difference only,
    // reading both sides event by event.
    if (n * m > 4'000'000 || n + m > 100'000) {
        size_t i = 0;
        std::string a, b;
        for (; i < n && i < m; ++i) {
            a = want.event_text(g, i);
            b = got.event_text(g, i);
            if (a != b)
                break;
        }
        if (i == n && i == m)
            return;
        report += header;
        if (i < n)
            report += "  - expected event " + std::to_string(i + 1) + ": " + describe(want.event_text(g, i)) + "\n";
        if (i < m)
            report += "  + actual   event " + std::to_string(i + 1) + ": " + describe(got.event_text(g, i)) + "\n";
        return;
    }
    std::vector<std::string> a, b;
    for (size_t i = 0; i < n; ++i)
        a.push_back(want.event_text(g, i));
    for (size_t j = 0; j < m; ++j)
        b.push_back(got.event_text(g, j));
    std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    std::string body;
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && a[i] == b[j]) {
            ++i, ++j;
        } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
            body += "  + actual   event " + std::to_string(j + 1) + ": " + describe(b[j]) + "\n";
            ++j;
        } else {
            body += "  - expected event " + std::to_string(i + 1) + ": " + describe(a[i]) + "\n";
            ++i;
        }
    }
    if (!body.empty())
        report += header + body;
}

} // namespace

std::string describe_event(const json &e) {
    std::string line = e.value("kind", "?");
    if (e.contains("site")) {
        const auto &s = e["site"];
        std::string file = s.value("file", "");
        line += " " + (file.empty() ? std::string("?") : file + ":" + scalar(s.value("line", json(0)))) + " " +
                s.value("function", "");
    }
    for (auto it = e.begin(); it != e.end(); ++it) {
        if (it.key() == "kind" || it.key() == "site" || it.key() == "goroutine" || it.key() == "seq")
            continue;
        line += (it == e.begin() ? " " : "  ") + it.key() + "=" + shown(it.value());
    }
    return line;
}

TraceDiff diff_traces(const json &expected_raw, const json &actual_raw) {
    json want_members, got_members;
    const auto want = normalizer_of(expected_raw, want_members);
    const auto got = normalizer_of(actual_raw, got_members);
    return diff_traces(*want, want_members, *got, got_members);
}

TraceDiff diff_traces(const Normalizer &want, const json &want_members, const Normalizer &got,
                      const json &got_members) {
    const json expected = want.summary(want_members), actual = got.summary(got_members);
    TraceDiff d;
    if (expected.value("mode", "full") != actual.value("mode", "full"))
        d.report +=
            "mode: expected " + expected.value("mode", "full") + ", actual " + actual.value("mode", "full") + "\n";
    // The goroutines of either side, in order: walking the numbers that occur, never the range
    // between them (a number can be anything up to 2^64-1).
    std::vector<uint64_t> ids = want.numbers();
    for (uint64_t g : got.numbers())
        if (want.event_count(g) == 0)
            ids.push_back(g);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (uint64_t g : ids)
        diff_events(g, want, got, d.report);
    // The leak report (--leaks), when either side has one.
    if (expected.contains("leaks") || actual.contains("leaks")) {
        auto describe_leak = [](const json &l) {
            std::string s = l.value("resource", "?") + " " + l.value("state", "?") + " on goroutine " +
                            scalar(l.value("goroutine", json(0))) + ", acquired at";
            for (const auto &f : l.value("acquired", json::array()))
                s += " " + f.value("function", "?") + (f.contains("line") ? ":" + scalar(f["line"]) : "");
            if (l.contains("panic"))
                s += "; panic " + scalar(l["panic"].value("value", json(""))) + " recovered in " +
                     l["panic"].value("recovered_in", "");
            return s;
        };
        const json &wl = expected.contains("leaks") ? expected["leaks"] : json::array();
        const json &gl = actual.contains("leaks") ? actual["leaks"] : json::array();
        if (wl != gl) {
            d.report += "leaks: expected " + std::to_string(wl.size()) + ", actual " + std::to_string(gl.size()) + "\n";
            for (const auto &l : wl)
                if (std::find(gl.begin(), gl.end(), l) == gl.end())
                    d.report += "  - expected " + describe_leak(l) + "\n";
            for (const auto &l : gl)
                if (std::find(wl.begin(), wl.end(), l) == wl.end())
                    d.report += "  + actual   " + describe_leak(l) + "\n";
        }
    }
    // Divergences from the runtime model (docs/validation.md), when the expectation records them;
    // an expectation made before validation existed does not.
    if (expected.contains("validation")) {
        const auto want_d = expected["validation"].value("divergences", uint64_t{0});
        const auto got_d =
            actual.contains("validation") ? actual["validation"].value("divergences", uint64_t{0}) : uint64_t{0};
        if (want_d != got_d)
            d.report += "validation: expected " + std::to_string(want_d) + " divergences, actual " +
                        std::to_string(got_d) + "\n";
    }
    const json none = json::object();
    const json &we = expected.contains("exit") ? expected["exit"] : none;
    const json &ge = actual.contains("exit") ? actual["exit"] : none;
    if (we != ge)
        d.report += "exit: expected " + describe_exit(we) + ", actual " + describe_exit(ge) + "\n";
    d.same = d.report.empty();
    return d;
}

} // namespace deftrace
