// Go 1.14–1.21 (panic.go@1.15/1.19/1.21): gopanic and Goexit walk g._defer. Open-coded frames get a
// _defer record only during a panic/Goexit, one at a time (addOneOpenDeferFrame), and their bits
// run inside runOpenDeferFrame. A record being run is marked started with d._panic = p; a newer
// panic that reaches a started record marks the older panic aborted. After a recovering call the
// record is popped (if done), the not-started open records are purged, aborted panics are dropped,
// and recovery resumes at d.sp/d.pc (sigcode0/1): after CALL deferproc with AX=1 for a linked
// record, entry+deferreturn for an open record.
#pragma once

#include "model/runtime_generation.h"

namespace deftrace::model {

class EraA final : public RuntimeGeneration {
public:
    explicit EraA(GoRelease t) : traits_(t) {}
    [[nodiscard]] const GoRelease &traits() const override { return traits_; }
    void start(GoroutineState &gs, PanicRecord &p) const override;
    RunnerStep advance(GoroutineState &gs, PanicRecord &p) const override;
    [[nodiscard]] bool has_open_records() const override { return true; }

private:
    GoRelease traits_;
};

// addOneOpenDeferFrame: insert ONE not-yet-recorded open frame record, the innermost known open
// frame at or outside `bound` (skipping `skip`), in sp order; stop at a started open record when
// the release does (GoRelease::open_scan_stops_at_started).
void add_one_open_defer_frame(GoroutineState &gs, FrameDepth bound, FrameDepth skip, bool stop_at_started = true);

} // namespace deftrace::model
