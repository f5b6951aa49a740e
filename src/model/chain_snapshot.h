// The _defer and _panic chains of one goroutine as the tracer read them from memory. The model
// compares its own chains with a snapshot, and adopts the snapshot to resynchronise after a
// divergence (a missed event must not cascade into a divergence per later event).
#pragma once

#include "model/model_types.h"

#include <optional>
#include <vector>

namespace deftrace::model {

struct SnapshotDefer {
    DeferKind kind = DeferKind::Heap; // Heap/Stack/RangefuncHead, or OpenFrame (≤1.21 open record)
    FrameDepth frame = kUnknownDepth; // from d.sp
    CodeAddr fn = 0;                  // d.fn code address; 0 for nil (open records between calls)
    bool started = false;             // ≤1.21 d.started
    // RangefuncHead (1.22+): the deferprocat records on *d.head, newest first, by code address.
    std::vector<CodeAddr> at_list;
};

struct SnapshotPanic {
    bool recovered = false;
    bool aborted = false; // ≤1.21
    bool goexit = false;
    bool repanicked = false; // 1.25+
    // 1.22+: p.sp, the frame whose defers the panic is running now (kUnknownDepth if not read).
    FrameDepth current_frame = kUnknownDepth;
};

// An open-coded frame read from the stack (deferBits byte and closure slots); optional, because
// Era B keeps no record of them on g._defer.
struct SnapshotOpenFrame {
    FrameDepth frame = kUnknownDepth;
    uint8_t bits = 0;
    std::vector<CodeAddr> slots; // slot i = bit i's funcval code address (0 = unknown)
};

struct ChainSnapshot {
    Goid goid = 0;
    std::vector<SnapshotDefer> defers; // g._defer, newest first
    std::vector<SnapshotPanic> panics; // g._panic, newest first
    std::optional<std::vector<SnapshotOpenFrame>> open_frames;
    // false: adopt the chains without comparing them. For a tracer that does not follow
    // registrations (deftrace --panics-only), memory is the only source of the chains; the
    // deferred calls, recovers and resumes of the panic that follows are still checked.
    bool compare = true;
};

} // namespace deftrace::model
