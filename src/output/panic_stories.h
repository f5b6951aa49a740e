// Each panic of a trace as one story, for the views that show panics as wholes (the timeline's
// slices, the report's panic list): when it started and ended and how, the deferred calls that
// ran for it, the recover() that stopped it and where execution resumed.
//
// Read from the trace's events alone, as the tracer's PanicBook sees it (trace/panic_book.h):
// a goroutine's panics in progress are a stack; recover() stops the newest one not stopped yet;
// a recovery ends the newest panics_ended of them (the tracer counts what the runtime ends: every
// panic started below the frame that resumes), the newest recovered one being the one it resumes
// from, older recovered ones superseded by a panic their deferred call raised, the rest aborted
// (an aborted event follows for each). A trace without panics_ended (older) ends the newest
// recovered panic and those after it. A fatal panic ends its goroutine's; the exit and the end of
// the trace end the rest.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

struct PanicStory {
    int64_t pid = 0; // the trace's (0: the program; -f: a child's pid)
    uint64_t goroutine = 0;
    size_t nesting = 0; // panics in progress on the goroutine when it started
    int64_t start_ts = 0, end_ts = 0;
    nlohmann::ordered_json panic;                  // the panic (or repanic) event (view_args)
    std::vector<nlohmann::ordered_json> calls;     // deferred calls run while it was the newest panic
    std::optional<nlohmann::ordered_json> recover; // the recover() that stopped it
    // recover() calls that returned nil while it was the newest panic, each with its reason (why
    // no recover stopped it: not called directly by a deferred function, ...).
    std::vector<nlohmann::ordered_json> failed_recovers;
    int64_t recover_ts = 0;
    std::optional<nlohmann::ordered_json> resume; // the recovery that resumed from it
    // "recovered", "recovered, then superseded by a panic of its deferred call", "aborted",
    // "fatal", "open at exit", "open at the end of the trace"; "" while in progress.
    std::string ended;
    std::optional<nlohmann::ordered_json> aborted_by; // an aborted event's "by"
};

class PanicStories {
public:
    // Each event of the trace, in order, at its time on the view's clock. Returns whether it
    // was part of a story (a panic, repanic, recover that stopped one, recovery, aborted, fatal).
    bool event(const nlohmann::ordered_json &e, int64_t ts);
    // The end of the trace: what is still in progress ends here.
    void finish(int64_t ts);

    // Every story, in the order the panics started.
    [[nodiscard]] const std::vector<PanicStory> &stories() const { return stories_; }

private:
    void resumed(const nlohmann::ordered_json &e, int64_t pid, uint64_t goroutine, int64_t ts);
    void end(int64_t pid, uint64_t goroutine, size_t count, int64_t ts, const std::string &how,
             std::optional<size_t> resumed_from);
    std::vector<PanicStory> stories_;
    std::map<std::pair<int64_t, uint64_t>, std::vector<size_t>> open_;  // in progress, oldest first
    std::map<std::pair<int64_t, uint64_t>, std::vector<size_t>> ended_; // by the latest recovery
};

} // namespace deftrace
