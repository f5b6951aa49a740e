#include "output/panic_stories.h"

#include "output/view_text.h"

#include <algorithm>

namespace deftrace {

namespace {
using json = nlohmann::ordered_json;
} // namespace

void PanicStories::end(int64_t pid, uint64_t goroutine, size_t count, int64_t ts, const std::string &how,
                       std::optional<size_t> resumed_from) {
    auto &open = open_[{pid, goroutine}];
    auto &ended = ended_[{pid, goroutine}];
    ended.clear();
    count = std::min(count, open.size());
    for (size_t k = 0; k < count; ++k) {
        const size_t i = open.back();
        open.pop_back();
        PanicStory &s = stories_[i];
        s.end_ts = ts;
        s.ended = resumed_from == i       ? "recovered"
                  : !how.empty()          ? how
                  : s.recover.has_value() ? "recovered, then superseded by a panic of its deferred call"
                                          : "aborted";
        ended.push_back(i);
    }
}

// A recovery ends the goroutine's panics_ended newest panics; execution resumes from the newest
// recovered one among them.
void PanicStories::resumed(const json &e, int64_t pid, uint64_t goroutine, int64_t ts) {
    auto &open = open_[{pid, goroutine}];
    size_t count = 0;
    if (e.contains("panics_ended") && e["panics_ended"].is_number_integer() && e["panics_ended"].get<int64_t>() >= 0)
        count = e["panics_ended"].get<size_t>();
    else
        for (size_t k = open.size(); k-- > 0;)
            if (stories_[open[k]].recover) {
                count = open.size() - k;
                break;
            }
    count = std::min(count, open.size());
    // Execution resumes from the newest recovered panic among those it ends.
    std::optional<size_t> from;
    for (size_t k = open.size(); !from && k-- > open.size() - count;)
        if (stories_[open[k]].recover)
            from = open[k];
    if (from)
        stories_[*from].resume = view_args(e);
    end(pid, goroutine, count, ts, "", from);
}

bool PanicStories::event(const json &e, int64_t ts) {
    const std::string kind = str_of(e, "kind");
    const int64_t pid = int_of(e, "pid");
    const uint64_t goroutine =
        e.contains("goroutine") && e["goroutine"].is_number_unsigned() ? e["goroutine"].get<uint64_t>() : 0;
    auto &open = open_[{pid, goroutine}];
    if (kind == "panic" || kind == "repanic") {
        PanicStory s;
        s.pid = pid;
        s.goroutine = goroutine;
        s.nesting = open.size();
        s.start_ts = s.end_ts = ts;
        s.panic = view_args(e);
        open.push_back(stories_.size());
        stories_.push_back(std::move(s));
        return true;
    }
    if (kind == "defer_call" && str_of(e, "cause") == "panic" && !open.empty()) {
        stories_[open.back()].calls.push_back(view_args(e));
        return false;
    }
    if (kind == "recover" && !e.value("recovered", false)) {
        if (!open.empty())
            stories_[open.back()].failed_recovers.push_back(view_args(e));
        return false;
    }
    if (kind == "recover") {
        // recover() returns the goroutine's newest panic: that one is stopped.
        auto it = std::find_if(open.rbegin(), open.rend(), [&](size_t i) { return !stories_[i].recover; });
        if (it == open.rend())
            return false; // it started before the trace did (attached)
        stories_[*it].recover = view_args(e);
        stories_[*it].recover_ts = ts;
        return true;
    }
    if (kind == "recovery") {
        resumed(e, pid, goroutine, ts);
        return true;
    }
    if (kind == "aborted") {
        const std::string value = str_of(e, "value");
        for (size_t i : ended_[{pid, goroutine}])
            if (!stories_[i].recover && !stories_[i].aborted_by && str_of(stories_[i].panic, "value") == value) {
                stories_[i].ended = "aborted";
                stories_[i].aborted_by = e.contains("by") ? view_args(e["by"]) : json();
                break;
            }
        return true;
    }
    if (kind == "fatal") {
        end(pid, goroutine, open.size(), ts, "fatal", std::nullopt);
        return true;
    }
    if (kind == "exit") {
        for (auto &[key, list] : open_)
            if (key.first == pid)
                end(key.first, key.second, list.size(), ts, "open at exit", std::nullopt);
    }
    return false;
}

void PanicStories::finish(int64_t ts) {
    for (auto &[key, list] : open_)
        end(key.first, key.second, list.size(), ts, "open at the end of the trace", std::nullopt);
}

} // namespace deftrace
