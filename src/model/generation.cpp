#include "model/generation.h"

namespace deftrace::model {

std::optional<GenerationTraits> traits_for(int major, int minor) {
    if (major != 1 || minor < 17 || minor > 27) {
        return std::nullopt;
    }
    GenerationTraits t;
    t.minor = minor;
    t.era = minor <= 21 ? Era::A : Era::B;
    t.deferproc_returns_flag = minor <= 24; // panic.go@1.25 dropped return0()
    t.panic_has_aborted = minor <= 21;      // runtime2.go@1.22 removed _panic.aborted
    t.panic_has_repanicked = minor >= 25;   // runtime2.go@1.25 added _panic.repanicked
    t.skips_older_panic_frames = minor >= 27;
    t.recover_rule = minor <= 25   ? RecoverRule::ArgpMatch
                     : minor == 26 ? RecoverRule::FrameCountFP
                                   : RecoverRule::FrameCountStart;
    return t;
}

std::string describe(const GenerationTraits &t) {
    std::string s = "go1." + std::to_string(t.minor) + (t.era == Era::A ? " (era A, " : " (era B, ");
    switch (t.recover_rule) {
    case RecoverRule::ArgpMatch: s += "argp rule)"; break;
    case RecoverRule::FrameCountFP: s += "frame-count rule, gopanicFP)"; break;
    case RecoverRule::FrameCountStart: s += "frame-count rule, startSP)"; break;
    }
    return s;
}

} // namespace deftrace::model
