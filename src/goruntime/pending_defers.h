// The deferred calls a goroutine still has to run: its linked _defer records and the set bits of
// every frame with open-coded defers (cmd/compile's openDeferInfo: a deferBits byte and one
// closure slot per defer, below the frame's varp), interleaved by stack position the way the
// runtime would run them (newest first).
#pragma once

#include "binary/go_binary.h"
#include "goruntime/runtime_state.h"
#include "goruntime/stack_unwind.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

// One frame's open-coded defer state.
struct OpenFrame {
    uint8_t bits = 0;
    // The funcval of each set bit's closure; nullopt when the binary records no slot for it.
    std::array<std::optional<Addr>, 8> closures;
};

// nullopt: the frame has no open-coded defers, or its deferBits byte cannot be read.
std::optional<OpenFrame> read_open_frame(const GoBinary &bin, const ProcessMemory &mem, const Frame &f);

struct PendingDefer {
    enum class Kind { Heap, Stack, Rangefunc, OpenCoded };
    Kind kind = Kind::Heap;
    std::optional<Addr> funcval; // nullopt: an open-coded defer whose closure slot is unknown
    Addr pc;                     // linked records: d.pc (run-time, a return address in the registrar)
    // The frame the defer belongs to, as the runtime tells frames apart: a linked record's d.sp
    // (its registrar's caller's SP), an open-coded defer's frame SP.
    Addr frame_sp;
    std::string frame; // open-coded: the function whose frame holds the bit
    int bit = -1;      // open-coded
};

struct PendingDefers {
    std::vector<PendingDefer> defers; // in the order they would run
    // False when the stack is deeper than the frames walked: open-coded defers further out are
    // missing (linked records are all there).
    bool complete = true;
};

PendingDefers pending_defers(const GoBinary &bin, const RuntimeState &state, const StackWalker &walker, Addr g, Addr pc,
                             Addr sp);

} // namespace deftrace
