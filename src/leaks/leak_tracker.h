// Follows resource handles from acquire to release and decides, when a panic is recovered and
// when the program ends, which resources were left open and why. Pure bookkeeping: the tracer
// tells it what happened (no process I/O here).
//
// A resource is "abandoned by a panic" when a frame that acquired it (or called the one that
// did) was still on the stack when the panic started and was unwound by the recovery — it lay
// below the frame that resumes — and the resource is still open at exit: whatever code would
// have committed or closed it is gone. Stack positions are depths (g.stack.hi - sp), which stay
// valid when the runtime moves a goroutine's stack.
#pragma once

#include "binary/site.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

// The physical frames of a goroutine's stack: (depth, function), innermost first.
using FrameList = std::vector<std::pair<uint64_t, std::string>>;

struct PanicSummary {
    std::string value, type;
    Site site;
    FrameList frames; // the goroutine's stack when the panic started
};

class LeakTracker {
public:
    // `stack`: the call site of the acquire function and its callers, inlined calls expanded.
    // `frames`: the physical frames at the acquisition, innermost first. `time_us`: when (wall
    // clock, µs since the epoch), for the age of what is still open.
    void acquired(const std::string &resource, uint64_t handle, uint64_t goid, FrameList frames,
                  std::vector<Site> stack, uint64_t seq, int64_t time_us);
    // Returns whether the handle was known and open (a second release, or of a handle acquired
    // before tracing started, is not an event). Of several holders (readers of one RWMutex, a
    // goroutine waiting in Lock), `goid`'s own acquisition is released, else the oldest.
    bool released(const std::string &resource, uint64_t handle, uint64_t goid);
    // A panic on `goid` was recovered and execution resumes in the frame at `resume_depth`.
    void recovered(uint64_t goid, uint64_t resume_depth, const PanicSummary &panic, const std::string &resume_function);

    struct Leak {
        std::string resource;
        uint64_t handle = 0;
        int64_t acquired_us = 0; // wall clock
        uint64_t goid = 0;
        std::vector<Site> stack; // where it was acquired, innermost first
        std::optional<PanicSummary> abandoned_by;
        std::string recovered_in; // the frame whose recovery unwound the acquiring frame
    };
    // Everything still open, oldest first.
    [[nodiscard]] std::vector<Leak> open() const;
    // What has been open for `age_us` or longer at `now_us` and was not returned by an earlier
    // call: each resource is reported once when it crosses the age (--leak-age), oldest first.
    [[nodiscard]] std::vector<Leak> newly_older_than(int64_t now_us, int64_t age_us);
    // A leak as the trace's JSON writes it. At the program's end (`now_us` unset) its state is
    // "abandoned" or "open_at_exit", and nothing run-specific is written (a checked-in
    // expectation holds no handle or time). While the program runs (a report on request, at
    // --leak-age, at detach) its state is "abandoned" or "open", with the handle and for how
    // long (seconds) it has been open.
    [[nodiscard]] static nlohmann::ordered_json to_json(const Leak &l, std::optional<int64_t> now_us = std::nullopt);

private:
    struct Held {
        std::string resource;
        uint64_t handle, goid, seq;
        int64_t time_us;
        bool age_reported = false;
        FrameList frames;
        std::vector<Site> stack;
        std::optional<PanicSummary> abandoned_by;
        std::string recovered_in;
    };
    [[nodiscard]] static Leak leak_of(const Held &h);
    std::multimap<std::pair<std::string, uint64_t>, Held> held_; // by (resource, handle)
};

} // namespace deftrace
