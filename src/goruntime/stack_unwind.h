// Walks a goroutine's stack with the pclntab's pcsp tables (the way runtime.unwinder does on
// amd64), and finds each frame's varp, so open-coded defer state can be read from frames.
#pragma once

#include "binary/go_binary.h"
#include "binary/load_bias.h"
#include "process/process_memory.h"

#include <vector>

namespace deftrace {

struct Frame {
    FuncInfo func;
    Addr pc;   // run-time pc (for callers: the return address)
    Addr sp;   // SP while executing at pc
    Addr fp;   // caller's SP: sp + spdelta + 8
    Addr varp; // fp - 16 (frame pointers on amd64): base of the frame's locals
    std::string name;
};

class StackWalker {
public:
    StackWalker(const GoBinary &bin, const ProcessMemory &mem, LoadBias bias) : bin_(bin), mem_(mem), bias_(bias) {}

    // Frames from (pc, sp) outward, stopping at the top frame (runtime.goexit etc.), an unknown
    // pc or `limit` frames.
    [[nodiscard]] std::vector<Frame> walk(Addr pc, Addr sp, size_t limit = 512) const;
    // The function containing a run-time pc.
    [[nodiscard]] std::optional<FuncInfo> func_at(Addr pc) const;
    [[nodiscard]] LinkAddr to_link(Addr runtime_pc) const { return bias_.link(runtime_pc); }
    [[nodiscard]] Addr to_runtime(LinkAddr link_pc) const { return bias_.runtime(link_pc); }
    [[nodiscard]] LoadBias bias() const { return bias_; }

private:
    const GoBinary &bin_;
    const ProcessMemory &mem_;
    LoadBias bias_;
};

} // namespace deftrace
