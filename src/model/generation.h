// The per-release facts of the runtime's defer/panic machinery, as data. The two adapters
// (era_a.h, era_b.h) read these flags instead of comparing version numbers.
#pragma once

#include <optional>
#include <string>

namespace deftrace::model {

enum class Era {
    A, // 1.17–1.21: addOneOpenDeferFrame / runOpenDeferFrame, started/aborted, recovery via sigcode0/1
    B, // 1.22–1.27: _panic.start / nextDefer / nextFrame / initOpenCodedDefers, records popped before the call
};

// How gorecover decides that its caller may stop the panic.
enum class RecoverRule {
    ArgpMatch,      // ≤1.25 gorecover(argp): argp == p.argp; wrapper prologues pass argp through
    FrameCountFP,   // 1.26 gorecover(): exactly one non-wrapper (inlining-aware) frame, gopanic fp == p.gopanicFP
    FrameCountStart // 1.27 gorecover(): same walk, gopanic frame sp == p.startSP
};

struct GenerationTraits {
    int minor = 0; // Go 1.<minor>
    Era era = Era::B;
    // deferproc* return 0, and 1 after recovery (return0 / gobuf.ret = 1); ≤1.24. Without it (1.25+)
    // recovery always jumps to entry+deferreturn of the recovering function.
    bool deferproc_returns_flag = true;
    bool panic_has_aborted = false;        // _panic.aborted, ≤1.21
    bool panic_has_repanicked = false;     // _panic.repanicked, set by preprintpanics, 1.25+
    bool skips_older_panic_frames = false; // 1.27 nextFrame jumps over frames an older panic processed
    RecoverRule recover_rule = RecoverRule::ArgpMatch;
};

// Traits for Go major.minor, or nullopt outside the supported 1.17–1.27.
std::optional<GenerationTraits> traits_for(int major, int minor);

std::string describe(const GenerationTraits &t); // e.g. "go1.22 (era B, argp rule)"

} // namespace deftrace::model
