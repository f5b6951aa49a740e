// The model's copy of one goroutine's defer/panic state: g._defer, g._panic, and the open-coded
// frames' deferBits and closure slots. Field names follow runtime._defer / runtime._panic.
#pragma once

#include "model/model_types.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace deftrace::model {

// A record on g._defer (heap, stack, rangefunc head; ≤1.21 also an open-frame record).
struct DeferRecord {
    DeferKind kind = DeferKind::Heap;
    FrameDepth frame = kUnknownDepth; // d.sp
    Callee callee;                    // d.fn (empty for OpenFrame records)
    bool started = false;             // ≤1.21 d.started
    std::optional<PanicId> panic;     // ≤1.21 d._panic
    std::vector<DeferRecord> at_list; // RangefuncHead: deferprocat records on d.head, newest first
};

// One frame's open-coded defers: the deferBits byte and its closure slots.
struct OpenFrame {
    FrameDepth frame = kUnknownDepth;
    uint8_t bits = 0;
    std::array<Callee, 8> slots{};
    [[nodiscard]] int top_bit() const; // highest set bit (the next to run), -1 if none
};

// How recovery lands in the recovering frame.
enum class ResumeVia {
    AfterDeferproc, // ≤1.24 linked defer: d.pc, after CALL deferproc*, with AX = 1
    Deferreturn,    // entry + _func.deferreturn (open-coded frames; every frame from 1.25)
    GoexitLoop,     // back into Goexit's defer loop: a Goexit below the recovering frame is not cancelled
};
const char *to_string(ResumeVia v);

struct ResumePoint {
    FrameDepth frame = kUnknownDepth;
    ResumeVia via = ResumeVia::Deferreturn;
};

// A deferred call the model expects a panic/Goexit runner to make next.
struct PredictedCall {
    Callee callee;
    FrameDepth frame = kUnknownDepth; // the frame that registered it
    DeferKind kind = DeferKind::Heap;
    CallCause cause = CallCause::Panic;
};

// What a panic/Goexit runner does next, once its previous deferred call has returned.
struct RunnerStep {
    enum class Kind { Call, Recover, Exhausted } kind = Kind::Exhausted;
    PredictedCall call; // Kind::Call
    ResumePoint resume; // Kind::Recover
};

// A _panic record and the model's view of where its runner stands.
struct PanicRecord {
    PanicId id = 0;
    std::string value;
    bool goexit = false;
    bool recovered = false;
    bool aborted = false;             // ≤1.21
    bool repanicked = false;          // 1.25+, only on the fatal path
    FrameDepth frame = kUnknownDepth; // the panicking frame (gopanic's caller); gopanic's own frame is just deeper

    // Runner cursor.
    bool in_call = false;              // a deferred call was observed and has not yet returned
    std::optional<RunnerStep> pending; // the step computed for the next observation
    // Era B: p.sp (current frame), whether p.deferBitsPtr is live, p.retpc's kind, p.lr == 0.
    std::optional<FrameDepth> current;
    bool open_active = false;
    ResumeVia retpc = ResumeVia::AfterDeferproc;
    bool exhausted = false;
    FrameDepth walk_from = 0; // nextFrame's next candidate bound (inclusive)
    // Era A: the record this panic is running (identified by frame and kind) and where in it.
    enum class AState { Idle, InLinkedCall, InOpenFrame } astate = AState::Idle;
    bool a_done = true;
};

struct GoroutineState {
    Goid goid = 0;
    std::vector<DeferRecord> defers;      // g._defer, newest first
    std::map<FrameDepth, OpenFrame> open; // live open-coded frames by depth
    std::vector<PanicRecord> panics;      // g._panic, newest first
    bool desynchronised = false;          // a divergence was reported; checks paused until a snapshot
    bool ended = false;
    std::optional<ResumePoint> last_resume; // where the last recovery resumed

    PanicRecord *top_panic() { return panics.empty() ? nullptr : &panics.front(); }
    [[nodiscard]] const PanicRecord *top_panic() const { return panics.empty() ? nullptr : &panics.front(); }
    PanicRecord *find_panic(PanicId id);
};

} // namespace deftrace::model
