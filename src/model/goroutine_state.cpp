#include "model/goroutine_state.h"
#include "model/chain_ops.h"

#include <algorithm>

namespace deftrace::model {

int OpenFrame::top_bit() const {
    for (int i = 7; i >= 0; --i) {
        if (bits & (1u << i)) {
            return i;
        }
    }
    return -1;
}

const char *to_string(ResumeVia v) {
    switch (v) {
    case ResumeVia::AfterDeferproc: return "after deferproc";
    case ResumeVia::Deferreturn: return "deferreturn";
    case ResumeVia::GoexitLoop: return "Goexit loop";
    }
    return "?";
}

PanicRecord *GoroutineState::find_panic(PanicId id) {
    for (auto &p : panics) {
        if (p.id == id) {
            return &p;
        }
    }
    return nullptr;
}

void deferconvert(GoroutineState &gs) {
    if (gs.defers.empty() || gs.defers.front().kind != DeferKind::RangefuncHead) {
        return;
    }
    DeferRecord head = std::move(gs.defers.front());
    gs.defers.erase(gs.defers.begin());
    for (auto &d : head.at_list) {
        d.frame = head.frame;
        d.kind = DeferKind::Heap; // deferprocat records are ordinary heap records once spliced in
    }
    gs.defers.insert(gs.defers.begin(), head.at_list.begin(), head.at_list.end());
}

void discard_frames_deeper_than(GoroutineState &gs, FrameDepth frame) {
    if (frame == kUnknownDepth) {
        return;
    }
    std::erase_if(gs.defers, [&](const DeferRecord &d) { return d.frame != kUnknownDepth && d.frame > frame; });
    gs.open.erase(gs.open.upper_bound(frame), gs.open.end());
}

} // namespace deftrace::model
