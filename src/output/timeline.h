// A trace as a timeline in the Trace Event Format (its JSON object form), which Perfetto
// (ui.perfetto.dev) and chrome://tracing open: `deftrace --timeline FILE` while tracing, and
// `deftrace timeline TRACE -o FILE` from a saved --json or --jsonl trace (one cut short included).
//
//   - a process per traced process (the program, and each -f child, named by its command line);
//   - a track (thread) per goroutine, "g7 main.worker", ordered by goroutine id, named by the
//     function it started in (goroutine_names.h);
//   - a slice per panic, from the panic to the recovery that ended it (panics_ended), its abort,
//     the fatal end or the end of the trace; a repanic's slice inside the panic it re-raised;
//   - instants for defers, deferred calls, recovers that stopped nothing, Goexit, never-run lists,
//     divergences, resources; the recover that stopped a panic and the recovery are slices of no
//     length, linked to the panic by a flow (v2: bind_id, flow_out, flow_in);
//   - a "leaks" track per process: each leaked resource a slice from its acquisition to the end,
//     linked by a flow (v1: s, f) from the panic that abandoned it;
//   - each event's own members in "args". Times are microseconds from the trace's first event; a
//     trace without times (normalized) is laid out one microsecond per event, in its order.
#pragma once

#include "output/output_stream.h"
#include "output/trace_visitor.h"

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

class TimelineWriter : public TraceVisitor {
public:
    // Writes the timeline to `out` at end().
    explicit TimelineWriter(OutputStream &out);
    ~TimelineWriter() override;
    TimelineWriter(const TimelineWriter &) = delete;
    TimelineWriter &operator=(const TimelineWriter &) = delete;

    void begin(const nlohmann::ordered_json &header) override;
    void event(nlohmann::ordered_json e) override;
    void end(const nlohmann::ordered_json &members) override;

    // The document end() writes, for a caller that wants it in memory (tests).
    [[nodiscard]] nlohmann::ordered_json document(const nlohmann::ordered_json &members);

private:
    struct State;
    OutputStream &out_;
    std::unique_ptr<State> state_;
};

} // namespace deftrace
