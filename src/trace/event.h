// Trace events: one vocabulary for every sink (text, JSON). An event is a kind, the goroutine
// it happened on, a site, and the kind's typed payload (event_payloads.h), which says itself how
// it is written in the JSON trace; the text sink picks what a person needs.
#pragma once

#include "binary/site.h"
#include "trace/event_payloads.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace deftrace {

enum class EventKind {
    Defer,      // a defer statement registered a deferred call
    DeferCall,  // a deferred function starts running
    Panic,      // panic() called (or a runtime error raised one)
    Repanic,    // panic() called with the value just recovered, from the deferred call that recovered it
    Aborted,    // a panic ended without being recovered: a later panic's recovery unwound its frames
    Recover,    // a recover() call and its result
    Recovery,   // the runtime resumed a goroutine after a recovered panic
    Goexit,     // runtime.Goexit called
    Fatal,      // an unrecovered panic is about to kill the program
    NeverRun,   // os.Exit, a fatal error, exec: a goroutine's deferred calls that will never run
    Exec,       // the program replaced itself (execve); the new one is traced if it is a Go program
    Child,      // a process the program started ran a program (its exec); traced with -f if a Go program
    Acquire,    // a probed resource was acquired (--leaks / --probes)
    Release,    // a probed resource was released
    Leaks,      // at the end: the probed resources still open (JSON: the top-level "leaks")
    LeakReport, // while the program runs: what is open (on request), or open for too long
    Exit,       // the program ended
    // Validation against the runtime model (trace/validator.h):
    Divergence, // the model disagrees with an observation
    Validation, // at the end: observations checked, divergences (JSON: the top-level "validation")
};

const char *to_string(EventKind k);

// CLOCK_REALTIME now, in microseconds since the epoch.
int64_t wall_clock_us();
// A time as the JSON trace writes it: RFC 3339 in UTC, to the microsecond
// ("2026-12-04T22:51:07.123456Z").
std::string utc_time_text(int64_t time_us);
// The inverse of utc_time_text (what views of a saved trace read back); nullopt for any other text.
std::optional<int64_t> parse_utc_time(std::string_view text);
// A time as the text trace writes it with --timestamps: the local time of day, to the
// microsecond ("22:51:07.123456"), as strace -tt does.
std::string local_time_text(int64_t time_us);

struct Event {
    uint64_t seq = 0;
    uint64_t goroutine = 0; // 0: not tied to a goroutine (exit)
    // When and where it was observed, to match it against the program's own logs: the wall-clock
    // time (CLOCK_REALTIME) of the stop it was made at, in microseconds since the epoch (0: not
    // stamped, left out of the JSON), and the stopped thread's id (0: made at no stop of a thread,
    // like the exit and the reports at the end: left out of the JSON).
    int64_t time_us = 0;
    int32_t tid = 0;
    // With -f, the process of a child's event (0: the traced program's, left out of the JSON).
    int32_t pid = 0;
    EventKind kind = EventKind::Defer;
    Site site;
    // On the first event shown of each goroutine: the function it started in (g.startpc's;
    // runtime.main for the main goroutine; for a go statement the compiler wrapped, the function
    // the wrapper calls when it calls one directly, else the wrapper: main.main.gowrap1). Empty
    // otherwise, and left out of the JSON.
    std::string go_start;
    int depth = 0;        // panics in progress on the goroutine (for indentation)
    EventPayload payload; // the one that goes with `kind`

    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

class EventSink {
public:
    virtual ~EventSink() = default;
    virtual void emit(const Event &e) = 0;
    virtual void finish() {}
};

} // namespace deftrace
