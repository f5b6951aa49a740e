// What each kind of trace event carries besides its goroutine and site, as typed fields. The
// tracer and the validator fill them; the text sink formats them; each payload's to_json is the
// one place that says how it appears in the JSON trace (the key names, their order, and which
// keys are left out when unset), so that the trace's format stays exactly what it is.
//
// Strings read from the program (panic values, error texts, function names) are the raw bytes:
// the sinks make them safe for their output (output/text_safety.h).
#pragma once

#include "binary/site.h"
#include "leaks/leak_tracker.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace deftrace {

// How the runtime keeps a deferred call ("defer_kind" in the trace).
enum class DeferForm { Heap, Stack, OpenCoded, Rangefunc };
const char *to_string(DeferForm f);

// The function a deferred call runs. For a compiler-generated wrapper (deferwrap, a method
// value's -fm) `fn` is the function it calls and `wrapper` its own name; otherwise `wrapper` is
// empty and not in the trace.
struct DeferTarget {
    std::string fn;
    std::string wrapper;
    void put(nlohmann::ordered_json &j) const; // "fn", and "wrapper" for a wrapper
};

// A panic's value (or a recovered one): its dynamic type and its text, none when deftrace cannot
// show it (JSON null). `error`: shown through an error type's message (in the trace only when
// true).
struct PanicValue {
    std::string type;
    std::optional<std::string> value;
    bool error = false;
    void put(nlohmann::ordered_json &j) const; // "type", "value" ["error"] into an object
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// A deferred call still pending on a goroutine's stack.
struct PendingDeferEntry {
    DeferForm form = DeferForm::Heap;
    DeferTarget fn;         // an open-coded defer whose closure slot is unknown: fn ""
    std::string function;   // the function that registered it
    std::optional<int> bit; // open-coded: its bit in the frame's deferBits
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// One panic of a chain, as the runtime prints them when it dies.
struct ChainedPanic {
    PanicValue value;
    bool recovered = false;
    bool goexit = false;                // in the trace only when true
    bool repanicked = false;            // in the trace only when true
    std::optional<std::string> printed; // the text of its Error or String method, as printed
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// defer: a defer statement registered a deferred call.
inline constexpr size_t kMaxDeferArgBytes = 256;

struct DeferPayload {
    DeferForm form = DeferForm::Heap;
    DeferTarget fn;
    std::optional<int> bit; // open-coded
    // ≤1.16: the deferred call's arguments as the runtime keeps them behind the record (at most
    // kMaxDeferArgBytes), hexadecimal bytes in memory order.
    std::optional<std::string> args;
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// defer_call: a deferred function starts running.
struct CallPayload {
    DeferTarget fn;
    std::optional<DeferForm> form; // set only at an open-coded defer's inline exit
    std::optional<int> bit;
    std::string cause; // "return", "panic", "goexit"
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// panic, repanic.
struct PanicPayload {
    PanicValue value;
    // --panics-only: the deferred calls pending when the panic started (no defer events tell).
    std::optional<std::vector<PendingDeferEntry>> pending;
    // The goroutine's stack when it panicked, as Go's traceback shows it: the frames outside the
    // runtime, inlined calls expanded, innermost first (Symbolizer::panic_stack). Always in the
    // trace ("stack", possibly empty); "stack_truncated" only when true.
    std::vector<Site> stack;
    bool stack_truncated = false; // deeper than the frames walked
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// aborted: a panic ended unrecovered because a later panic's recovery unwound its frames.
struct AbortedPayload {
    PanicValue value;
    PanicValue by;      // the recovered panic (type "unknown", no value, when not known)
    std::string resume; // where the recovery resumes ("" when not known)
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// recover: a recover() call and its result.
struct RecoverPayload {
    bool recovered = false;
    PanicValue value;   // when recovered (the trace has no "error" for it)
    std::string reason; // when not: why (model::RecoverReason's name)
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// recovery: the runtime resumed a goroutine after a recovered panic.
struct RecoveryPayload {
    std::optional<std::string> resume; // the function that continues, when known
    // How many of the goroutine's panics in progress (of those the trace shows) it ended: the
    // recovered one, older ones recovered and then superseded by a panic of their deferred call,
    // and the aborted ones (each also an aborted event after it). Unset when the frame that
    // resumes is not known. What the views of a trace (a panic's slice on the timeline) end on.
    std::optional<uint32_t> panics_ended;
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// fatal: an unrecovered panic, or a fatal error (runtime.throw / fatal), is about to end the
// program.
struct FatalPayload {
    std::vector<ChainedPanic> panics; // oldest first
    // A fatal error's message (raw). Unset for an unrecovered panic.
    std::optional<std::string> error;
    // The error was thrown while the runtime printed the fatal panic's values, after the panic
    // was taken down: the trace has it last, after the pending list, as it was learnt.
    bool error_while_printing = false;
    std::vector<PendingDeferEntry> pending;
    bool pending_truncated = false; // the stack was too deep to list every open-coded defer
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// never_run: a goroutine's deferred calls that will never run (os.Exit, a fatal error, exec).
struct NeverRunPayload {
    std::string cause;  // "os.Exit", "fatal error", "exec"
    std::string status; // the goroutine's status (RuntimeState::status_name)
    std::vector<PendingDeferEntry> pending;
    bool pending_truncated = false;
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// exec: the program replaced itself.
struct ExecPayload {
    std::string program; // the new program's file name
    bool traced = false;
    std::string note; // when not traced: why
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// child: a process the program started (fork, vfork, clone) ran a program, seen at its exec.
struct ChildPayload {
    int32_t child_pid = 0;
    std::string program;           // the file name of the executable it ran
    std::vector<std::string> argv; // its command line
    bool traced = false;           // followed (-f), its events tagged with its pid
    std::string note;              // when not traced: why; when traced otherwise than asked: how
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// acquire, release: a probed resource.
struct ResourcePayload {
    std::string resource;
    std::string handle; // hexadecimal
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// leaks: at the end, the probed resources still open, and what deftrace could not probe.
struct LeaksPayload {
    std::vector<LeakTracker::Leak> leaks;
    std::vector<std::string> probe_notes; // in the trace only when there are some
    // Attached (-p): the report made when deftrace detached, at this time; the program goes on,
    // so what is open is "open", not "open_at_exit", and each leak has its handle and age.
    std::optional<int64_t> detached_at_us;
    [[nodiscard]] nlohmann::ordered_json leaks_json() const;
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// leak_report: while the program runs, what is open now (asked for with SIGUSR1 to an attached
// deftrace), or what has just been open for --leak-age seconds.
struct LeakReportPayload {
    enum class Trigger { Signal, Age };
    Trigger trigger = Trigger::Signal;
    double age_limit_s = 0; // Age: the --leak-age crossed
    int64_t now_us = 0;     // when the report was made (wall clock)
    std::vector<LeakTracker::Leak> leaks;
    bool probing = true; // false: no resource is probed (no --leaks or --probes), so nothing is known
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// One leak of a report made while the program runs (leak_report, detach): LeakTracker's JSON and
// when the resource was acquired.
[[nodiscard]] nlohmann::ordered_json live_leak_json(const LeakTracker::Leak &l, int64_t now_us);

// exit: the program ended, with a status or killed by a signal; or, attached to with -p, deftrace
// detached from it and it goes on running.
struct ExitPayload {
    std::optional<int> signal;
    std::string signal_name; // "SIGKILL"; with a signal
    int status = 0;          // without one
    bool detached = false;   // instead of either
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// divergence: the runtime model disagrees with an observation.
struct DivergencePayload {
    std::string rule, expected, observed;
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// validation: at the end, how many observations were checked against which model.
struct ValidationPayload {
    uint64_t observations = 0;
    uint64_t divergences = 0;
    std::string model;
    [[nodiscard]] nlohmann::ordered_json to_json() const;
};

// An event's payload: std::monostate for the kinds that carry nothing (goexit).
using EventPayload =
    std::variant<std::monostate, DeferPayload, CallPayload, PanicPayload, AbortedPayload, RecoverPayload,
                 RecoveryPayload, FatalPayload, NeverRunPayload, ExecPayload, ResourcePayload, LeaksPayload,
                 LeakReportPayload, ExitPayload, DivergencePayload, ValidationPayload, ChildPayload>;

// The payload's members of the event's JSON object, in their order (none for std::monostate).
[[nodiscard]] nlohmann::ordered_json to_json(const EventPayload &p);

} // namespace deftrace
