#include "trace_view.h"

#include <algorithm>
#include <map>
#include <vector>

namespace deftrace::testing {

namespace {

std::string str(const nlohmann::json &e, const char *k) {
    if (!e.contains(k) || e[k].is_null())
        return "nil";
    return e[k].is_string() ? e[k].get<std::string>() : e[k].dump();
}

std::string quoted(const nlohmann::json &e, const char *k) {
    if (!e.contains(k) || e[k].is_null())
        return "nil";
    return e[k].dump();
}

} // namespace

std::string trace_view(const nlohmann::json &trace, const std::string &src_dir) {
    std::map<uint64_t, std::vector<std::string>> per;
    for (const auto &e : trace["events"]) {
        const std::string kind = e["kind"];
        if (kind == "exit")
            continue;
        std::string file = e.contains("site") ? e["site"].value("file", "") : "";
        const bool own = !file.empty() && file.starts_with(src_dir + "/");
        const bool always = kind == "panic" || kind == "fatal" || kind == "goexit" ||
                            (kind == "recovery" && str(e, "resume").starts_with("main."));
        if (!own && !always)
            continue;
        std::string where =
            own ? file.substr(src_dir.size() + 1) + ":" + std::to_string(e["site"].value("line", 0)) : "-";
        std::string detail;
        if (kind == "defer")
            detail = str(e, "defer_kind");
        else if (kind == "defer_call")
            detail = str(e, "cause");
        else if (kind == "panic")
            detail = quoted(e, "value") + " " + str(e, "type");
        else if (kind == "recover")
            detail = e.value("recovered", false) ? "recovered " + quoted(e, "value") : "nil (" + str(e, "reason") + ")";
        else if (kind == "recovery")
            detail = "resume " + str(e, "resume");
        else if (kind == "fatal") {
            for (const auto &p : e["panics"])
                detail += quoted(p, "value") + (p.value("recovered", false) ? " [recovered]" : "") + "; ";
            detail += std::to_string(e["pending"].size()) + " pending";
        }
        per[e["goroutine"].get<uint64_t>()].push_back(kind + " " + where + " " + detail);
    }
    std::vector<std::string> blocks;
    std::string first;
    for (const auto &[goid, lines] : per) {
        std::string b;
        for (const auto &l : lines)
            b += l + "\n";
        if (goid == 1)
            first = b;
        else
            blocks.push_back(b);
    }
    std::sort(blocks.begin(), blocks.end());
    std::string out;
    int n = 1;
    auto emit = [&](const std::string &b) {
        size_t start = 0;
        while (start < b.size()) {
            size_t end = b.find('\n', start);
            out += "g" + std::to_string(n) + " " + b.substr(start, end - start) + "\n";
            start = end + 1;
        }
        ++n;
    };
    if (!first.empty())
        emit(first);
    for (const auto &b : blocks)
        emit(b);
    if (trace.contains("exit"))
        out += "exit " + trace["exit"].dump() + "\n";
    return out;
}

} // namespace deftrace::testing
