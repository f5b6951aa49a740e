#include "goruntime/stack_unwind.h"

namespace deftrace {

namespace {
constexpr uint8_t kFuncFlagTopFrame = 1; // abi.FuncFlagTopFrame: runtime.goexit, mstart, rt0_go
}

std::optional<FuncInfo> StackWalker::func_at(Addr pc) const {
    return bin_.pclntab().find_func(to_link(pc));
}

std::vector<Frame> StackWalker::walk(Addr pc, Addr sp, size_t limit) const {
    std::vector<Frame> frames;
    const auto &tab = bin_.pclntab();
    // The pc of the innermost frame, and of a frame the runtime made look as if it called
    // sigpanic (a fault), asyncPreempt (a preemption) or debugCallV2, is the instruction it was
    // stopped at, not a return address (the runtime's unwinder: unwindTrap, 1.17-1.27).
    bool exact = true;
    while (frames.size() < limit && !pc.is_null()) {
        // A return address may sit just past the function's last instruction (a call that never
        // returns); look the function up at pc-1 for callers. Looked up at the pc of a trap, a
        // fault at a function's first instruction would be taken for its predecessor's, and one
        // just after `sub $n, %rsp` for a frame n bytes smaller.
        const LinkAddr link = to_link(pc);
        const LinkAddr at = exact ? link : link - 1;
        auto f = tab.find_func(at);
        if (!f)
            break;
        auto spdelta = tab.pcsp(*f).at(at);
        if (!spdelta || *spdelta < 0)
            break;
        Frame fr;
        fr.func = *f;
        fr.pc = pc;
        fr.sp = sp;
        fr.fp = sp + static_cast<uint64_t>(*spdelta) + 8;
        fr.varp = fr.fp - 16;
        fr.name = std::string(tab.func_name(*f));
        frames.push_back(fr);
        if (f->flag & kFuncFlagTopFrame)
            break;
        auto ret = mem_.read_u64(fr.fp - 8);
        if (!ret)
            break;
        pc = Addr(*ret);
        sp = fr.fp;
        exact = fr.name == "runtime.sigpanic" || fr.name == "runtime.asyncPreempt" || fr.name == "runtime.debugCallV2";
    }
    return frames;
}

} // namespace deftrace
