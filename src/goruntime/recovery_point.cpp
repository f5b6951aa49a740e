#include "goruntime/recovery_point.h"

namespace deftrace {

RecoveryPoint recovery_point(const RuntimeState &state, Addr g, const std::function<bool(Addr)> &in_runtime) {
    RecoveryPoint out;
    const auto &off = state.offsets();
    const auto panics = state.panics(g, 64);
    if (state.era() == Era::B) {
        if (!panics.empty()) {
            out.pc = panics.front().retpc;
            out.sp = panics.front().sp;
            for (size_t i = 1; i < panics.size() && !out.into_goexit; ++i)
                if (panics[i].start_sp && panics.front().sp && *panics[i].start_sp < *panics.front().sp)
                    out.into_goexit = panics[i].goexit;
        }
        return out;
    }
    if (off.g.sigcode1)
        out.pc = Addr(state.word(g, off.g.sigcode1).value_or(0));
    if (off.g.sigcode0)
        if (auto w = state.word(g, off.g.sigcode0))
            out.sp = Addr(*w);
    if (!panics.empty() && out.pc && in_runtime(*out.pc))
        out.into_goexit = panics.front().goexit;
    return out;
}

} // namespace deftrace
