// Where runtime.recovery sends a goroutine after a recovered panic, read at recovery's entry.
//   1.22+ (recovery(gp)): the frame at p.sp of the recovered panic, gp._panic's head, resuming at
//   p.retpc; panics started below that frame are popped, and a Goexit among them is gone back
//   into (its loop goes on) instead.
//   ≤1.21: gopanic has stored d.sp and d.pc in gp.sigcode0/1 and already popped the recovered
//   panic; when an aborted Goexit heads the chain, gopanic sent recovery to the pc
//   deferCallSave saved, inside the runtime.
#pragma once

#include "goruntime/runtime_state.h"

#include <functional>
#include <optional>

namespace deftrace {

struct RecoveryPoint {
    std::optional<Addr> pc; // run-time pc execution continues at
    std::optional<Addr> sp; // SP of the frame that continues; everything below it is over
    bool into_goexit = false;
};

// `in_runtime(pc)`: whether a run-time pc is in the runtime's own code (the ≤1.21 Goexit case).
RecoveryPoint recovery_point(const RuntimeState &state, Addr g, const std::function<bool(Addr)> &in_runtime);

} // namespace deftrace
