// `-c` / `--summary`, as `strace -c`: a trace counted instead of told. A real program's full trace
// is long (a template function's recover() returning nil a few tens of thousands of times, one
// lock's deferred Unlock per call); the summary is a table per site, sorted by count:
//   - defer statements: calls registered by kind (open-coded, stack, heap), deferred calls by
//     cause (return, panic, Goexit), and those that never ran (os.Exit, a fatal error, exec);
//   - panics, and recover() calls: those that stopped a panic, and those that returned nil, by why;
//   - per goroutine: goroutines grouped by the function they started in (goroutine_names.h).
// It is fed typed events while tracing (SummarySink: nothing formatted that only the summary
// needs) or the JSON events of a saved trace (SummaryVisitor); both end in the same table, as
// text and as the JSON trace's "summary" member.
#pragma once

#include "output/goroutine_names.h"
#include "output/trace_visitor.h"
#include "trace/event.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace deftrace {

class Summary {
public:
    // What the summary takes from one event.
    struct Fact {
        std::string kind; // the JSON trace's name of the event's kind
        int64_t pid = 0;  // -f: a child's
        uint64_t goroutine = 0;
        std::string function, file; // its site
        int64_t line = 0;
        std::string fn;                                             // defer, defer_call: the deferred function
        std::string defer_kind;                                     // defer: open-coded, stack, heap
        std::string cause;                                          // defer_call: return, panic, goexit
        std::string reason;                                         // recover() = nil: why
        bool recovered = false;                                     // recover: it stopped a panic
        std::string stack_start;                                    // panic: the outermost frame of a whole stack
        std::string go_start;                                       // where the goroutine started, on its first event
        std::vector<std::pair<std::string, std::string>> never_run; // never_run: (fn, function) each
    };
    static Fact of(const Event &e);
    static Fact of(const nlohmann::ordered_json &e);

    void add(const Fact &f);

    // {"events": N, "goroutines": N, "sites": [...], "recover_nil": {...}, "by_start": [...]}.
    [[nodiscard]] nlohmann::ordered_json to_json() const;
    // The tables, for a terminal (strings from the program made safe).
    [[nodiscard]] std::string text() const;

private:
    struct SiteKey {
        int64_t pid;
        std::string function, file;
        int64_t line;
        std::string fn;
        auto operator<=>(const SiteKey &) const = default;
    };
    struct SiteCounts {
        std::map<std::string, uint64_t> defers, calls; // by kind, by cause
        uint64_t never_run = 0, panics = 0, recovered = 0;
        std::map<std::string, uint64_t> recover_nil; // by reason
        [[nodiscard]] uint64_t total() const;
    };
    struct GoroutineCounts {
        uint64_t events = 0, defers = 0, panics = 0, recovered = 0;
    };
    std::map<SiteKey, SiteCounts> sites_;
    std::map<std::pair<int64_t, uint64_t>, GoroutineCounts> goroutines_;
    std::map<std::string, uint64_t> recover_nil_;
    GoroutineNames names_;
    uint64_t events_ = 0, divergences_ = 0;
};

// Counts the events the tracer makes.
class SummarySink : public EventSink {
public:
    explicit SummarySink(Summary &summary) : summary_(summary) {}
    void emit(const Event &e) override { summary_.add(Summary::of(e)); }

private:
    Summary &summary_;
};

// Counts the events of a saved trace.
class SummaryVisitor : public TraceVisitor {
public:
    explicit SummaryVisitor(Summary &summary) : summary_(summary) {}
    void begin(const nlohmann::ordered_json &) override {}
    void event(nlohmann::ordered_json e) override { summary_.add(Summary::of(e)); }
    void end(const nlohmann::ordered_json &) override {}

private:
    Summary &summary_;
};

} // namespace deftrace
