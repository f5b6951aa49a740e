// A trace that is the same from run to run and machine to machine, for comparison in CI.
//
// The raw trace (deftrace --json) carries what a person debugging one run wants: sequence numbers
// in the order events happened, the runtime's goroutine ids, absolute file paths, the names of
// compiler-generated wrappers. normalize_trace() keeps the program's story and drops the rest:
//   - events grouped per goroutine, each goroutine's own order kept (the interleaving of
//     concurrent goroutines depends on scheduling);
//   - goroutines renumbered 1..N: the main goroutine first, then the others ordered by their
//     histories (goroutine ids and the order in which racing goroutines first appear are not
//     stable);
//   - file paths relative to the main module ($GOROOT/... for the standard library);
//   - no sequence numbers, times, thread ids, open-coded bit numbers, wrapper names or
//     hexadecimal addresses;
//   - no panic stacks (inlining, and so the frames a traceback shows, changes between releases);
//   - with -f, a child's events (JSON "pid") have "process" instead of the pid: the command line
//     it ran as its normalized child event has it ("prog child"); its goroutines come after the
//     program's, numbered on from them, ordered by their histories as the program's are (each
//     event starting with that name); its exit keeps its status, its validation only the
//     divergence count; a child event has no "child_pid" and only the last element of each
//     path in its "argv";
//   - the header's program: its file name and arguments, without the flags `go test` adds to
//     a test binary's (-test.paniconexit0, -test.timeout=...);
//   - the standard library's own defers and its recover() calls that stop nothing are left out:
//     they differ between Go releases and some depend on scheduling (sync.Pool's per-P set-up).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace deftrace {

class OutputStream;

// Normalizes a trace event by event, holding almost nothing: each normalized event goes, as
// one compact line, to an unlinked temporary file (close-on-exec: the traced program runs
// meanwhile), and only its place there is kept, per goroutine — 16 bytes an event. The
// goroutines are ordered and the document written at the end, reading the lines back.
class Normalizer {
public:
    // `header`: the raw trace's members before its events (paths, program, mode). A header that
    // says "normalized": true makes a pass-through: the events are kept as they are, with their
    // goroutine numbers.
    explicit Normalizer(const nlohmann::ordered_json &header);
    ~Normalizer();
    Normalizer(const Normalizer &) = delete;
    Normalizer &operator=(const Normalizer &) = delete;

    // One event, in the order the trace has them (taken: its values move into the normalized
    // form, which matters for a value of hundreds of megabytes).
    void add(nlohmann::ordered_json event);
    // `closing`: the raw trace's members after its events (validation, leaks, exit).
    [[nodiscard]] nlohmann::ordered_json document(const nlohmann::ordered_json &closing) const;
    // The same document, pretty-printed exactly as document().dump(2) would be, streamed.
    void write(OutputStream &out, const nlohmann::ordered_json &closing) const;
    // The normalized document without its events.
    [[nodiscard]] nlohmann::ordered_json summary(const nlohmann::ordered_json &closing) const;

    // The normalized events, goroutine by goroutine: numbers() in order, and for each number
    // its events as compact JSON without "goroutine" (one dump() each), read back one at a time.
    [[nodiscard]] std::vector<uint64_t> numbers() const;
    [[nodiscard]] size_t event_count(uint64_t number) const;
    [[nodiscard]] std::string event_text(uint64_t number, size_t index) const;

private:
    struct Span {
        uint64_t offset;
        uint32_t length;
    };
    struct Layout {
        std::vector<uint64_t> order;           // goroutine ids in canonical order
        std::map<uint64_t, uint64_t> renumber; // id -> its number in the normalized trace
        std::map<uint64_t, uint64_t> id_of;    // and back
    };
    [[nodiscard]] const Layout &layout() const;
    [[nodiscard]] std::string line_at(Span s) const;
    template <typename F> void for_each_event(F &&f) const;

    nlohmann::ordered_json header_;
    bool pass_through_ = false;
    std::string module_dir_, goroot_, main_module_;
    struct FileCloser {
        void operator()(FILE *f) const { std::fclose(f); }
    };
    std::unique_ptr<FILE, FileCloser> spill_;
    uint64_t spill_size_ = 0;
    std::map<uint64_t, std::vector<Span>> by_goroutine_;
    std::vector<uint64_t> first_seen_;
    // -f: the child processes whose events were seen (by pid): the command line each ran (its
    // child event) and its place in the order they first appeared.
    struct Process {
        std::string name;
        uint64_t index = 0;
    };
    std::map<uint64_t, Process> processes_;
    uint64_t process_count_ = 0;
    mutable std::unique_ptr<Layout> layout_; // computed once all events are in
};

// A trace document in memory as a Normalizer: `members` gets every member but "events", and
// the events go through the returned Normalizer.
std::unique_ptr<Normalizer> normalizer_of(const nlohmann::ordered_json &trace, nlohmann::ordered_json &members);

// Normalizes a raw trace; a trace that is already normalized is returned unchanged.
nlohmann::ordered_json normalize_trace(const nlohmann::ordered_json &trace);

} // namespace deftrace
