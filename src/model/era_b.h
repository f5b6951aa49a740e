// Go 1.22–1.27 (panic.go@1.22…1.27): the _panic is an iterator over frames. (*_panic).start pushes
// it and finds the first frame; nextDefer pops a linked record or clears an open-coded bit BEFORE
// returning the call; nextFrame walks outward to the next frame that owns the top linked record or
// has pending deferBits (initOpenCodedDefers); recovery runs inside nextDefer once the recovering
// call has returned and pops every panic started below the recovering frame, stopping at a Goexit.
#pragma once

#include "model/runtime_generation.h"

namespace deftrace::model {

class EraB final : public RuntimeGeneration {
public:
    explicit EraB(GoRelease t) : traits_(t) {}
    [[nodiscard]] const GoRelease &traits() const override { return traits_; }
    void start(GoroutineState &gs, PanicRecord &p) const override;
    RunnerStep advance(GoroutineState &gs, PanicRecord &p) const override;
    [[nodiscard]] bool has_open_records() const override { return false; }

private:
    bool next_frame(GoroutineState &gs, PanicRecord &p) const;     // (*_panic).nextFrame
    RunnerStep recovery(GoroutineState &gs, PanicRecord &p) const; // recovery(gp)
    GoRelease traits_;
};

} // namespace deftrace::model
