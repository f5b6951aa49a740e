// Which goroutine a stopped thread is running, found the way the runtime finds it: the g word of
// the thread's TLS block, at fs_base + offset. runtime.rt0_go stores g0 there (`mov fs:[offset],
// reg`, asm_amd64.s), so the offset is read from its code: -8 on linux/amd64 with the internal
// and the external linker alike (go-runtime.md). Go code (ABIInternal, Go 1.17+) also keeps the
// current g in R14; at every probe, all in Go code, the two must agree, and the tracer checks it.
// Before 1.17 (ABI0) R14 is an ordinary register and only the TLS word counts.
#pragma once

#include "arch/disassembler.h"
#include "binary/go_binary.h"
#include "goruntime/runtime_state.h"
#include "process/registers.h"

#include <optional>

namespace deftrace {

class CurrentG {
public:
    // Without a recognisable TLS store in rt0_go, only R14 is used.
    static CurrentG locate(const GoBinary &bin, const Disassembler &dis);

    [[nodiscard]] std::optional<int64_t> tls_offset() const { return tls_offset_; }
    [[nodiscard]] bool r14_holds_g() const { return r14_holds_g_; }
    // The TLS word to read at a stop (to prefetch it with the rest), if the offset is known.
    [[nodiscard]] std::optional<Addr> slot(const Registers &regs) const;

    struct Found {
        Addr g;               // the thread's current g: the TLS word, or R14 if it cannot be read
        bool checked = false; // the TLS word was read
        bool r14_agrees = true;
    };
    [[nodiscard]] Found at(const Registers &regs, const ProcessMemory &mem) const;

    // A thread on its g0 stack (systemstack, mcall; g0 and gsignal have goid 0) works for its
    // m's current goroutine: g0.m.curg, nullopt when there is none.
    [[nodiscard]] static std::optional<Addr> curg_of_g0(Addr g0, const RuntimeState &state);

private:
    std::optional<int64_t> tls_offset_;
    bool r14_holds_g_ = true;
};

} // namespace deftrace
