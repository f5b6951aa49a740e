#include "goruntime/pending_defers.h"

namespace deftrace {

std::optional<OpenFrame> read_open_frame(const GoBinary &bin, const ProcessMemory &mem, const Frame &f) {
    auto info = bin.open_defer_info(f.func);
    if (!info)
        return std::nullopt;
    auto bits = mem.read_u8(f.varp - info->deferbits_offset);
    if (!bits)
        return std::nullopt;
    OpenFrame out;
    out.bits = *bits;
    for (int b = 0; b < 8; ++b)
        if (*bits & (1u << b))
            if (auto off = info->closure_offset(b))
                out.closures[static_cast<size_t>(b)] =
                    Addr(mem.read_u64(f.varp - static_cast<uint64_t>(*off)).value_or(0));
    return out;
}

PendingDefers pending_defers(const GoBinary &bin, const RuntimeState &state, const StackWalker &walker, Addr g, Addr pc,
                             Addr sp) {
    PendingDefers out;
    const auto records = state.defers(g, 4096);
    constexpr size_t kFrames = 512; // a runaway recursion (stack overflow) has millions
    const auto frames = walker.walk(pc, sp, kFrames);
    out.complete = frames.size() < kFrames || frames.back().name == "runtime.goexit";
    size_t r = 0;
    auto linked = [&](const DeferRecord &d) {
        if (d.open_defer)
            return; // ≤1.21 open records stand for a frame whose bits are reported below
        PendingDefer p;
        p.kind = d.rangefunc ? PendingDefer::Kind::Rangefunc
                 : d.heap    ? PendingDefer::Kind::Heap
                             : PendingDefer::Kind::Stack;
        p.funcval = d.fn;
        p.pc = d.pc;
        p.frame_sp = d.sp;
        out.defers.push_back(std::move(p));
    };
    for (const auto &f : frames) {
        while (r < records.size() && records[r].sp < f.fp)
            linked(records[r++]);
        auto open = read_open_frame(bin, state.memory(), f);
        if (!open || open->bits == 0)
            continue;
        for (int b = 7; b >= 0; --b) {
            if (!(open->bits & (1u << b)))
                continue;
            PendingDefer p;
            p.kind = PendingDefer::Kind::OpenCoded;
            p.funcval = open->closures[static_cast<size_t>(b)];
            p.frame = f.name;
            p.frame_sp = f.sp;
            p.bit = b;
            out.defers.push_back(std::move(p));
        }
    }
    while (r < records.size())
        linked(records[r++]);
    return out;
}

} // namespace deftrace
