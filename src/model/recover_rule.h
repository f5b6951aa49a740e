// gorecover's decision, per generation: whether a recover() call stops the newest panic, and if
// not, which of the runtime's conditions refused it.
#pragma once

#include "model/goroutine_state.h"
#include "model/observation.h"
#include "release/go_releases.h"

#include <string>

namespace deftrace::model {

enum class RecoverReason {
    Recovered,
    NoPanic,          // gp._panic == nil
    NotDirect,        // argp mismatch (≤1.25) / not exactly one non-wrapper frame to gopanic (1.26+)
    AlreadyRecovered, // p.recovered
    Goexit,           // p.goexit: Goexit cannot be recovered
};
const char *to_string(RecoverReason r); // "no panic", "not called directly by a deferred function", …

struct RecoverVerdict {
    bool recovered = false;
    RecoverReason reason = RecoverReason::NoPanic;
    PanicId panic = 0; // the panic considered (gp._panic), 0 if none
    std::string rule;  // e.g. "gorecover@1.22 argp == p.argp"
};

RecoverVerdict judge_recover(const GoRelease &t, const GoroutineState &gs, const RecoverCalled &call);

} // namespace deftrace::model
