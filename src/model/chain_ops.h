// Chain manipulations that every generation performs the same way.
#pragma once

#include "model/goroutine_state.h"

namespace deftrace::model {

// deferconvert (1.22+): replace the rangefunc head at the top of g._defer by the deferprocat
// records collected on its list, each taking the head's frame (d1.sp = d0.sp).
void deferconvert(GoroutineState &gs);

// After recovery (gogo to `frame`), every frame deeper than `frame` is gone: drop their records
// and open-coded state. No-op for kUnknownDepth.
void discard_frames_deeper_than(GoroutineState &gs, FrameDepth frame);

} // namespace deftrace::model
