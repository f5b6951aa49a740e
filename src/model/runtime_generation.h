// One adapter per runtime generation: the pieces of panic.go whose logic differs between eras.
// The Model engine (model.h) drives an adapter; the adapter mutates GoroutineState exactly as the
// runtime mutates g._defer / g._panic at the same points.
#pragma once

#include "model/goroutine_state.h"
#include "release/go_releases.h"

#include <memory>

namespace deftrace::model {

class RuntimeGeneration {
public:
    virtual ~RuntimeGeneration() = default;
    [[nodiscard]] virtual const GoRelease &traits() const = 0;

    // gopanic / Goexit entry, after the new _panic was pushed on gs.panics.
    virtual void start(GoroutineState &gs, PanicRecord &p) const = 0;

    // The runner of p resumes after its previous deferred call returned (or starts): everything the
    // runtime does up to the next `fn()` call, the recovery, or running out of defers.
    virtual RunnerStep advance(GoroutineState &gs, PanicRecord &p) const = 0;

    // Whether the snapshot shows open-frame records (≤1.21).
    [[nodiscard]] virtual bool has_open_records() const = 0;
};

std::unique_ptr<RuntimeGeneration> make_generation(const GoRelease &t);

} // namespace deftrace::model
