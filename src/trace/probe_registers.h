// The registers a stop handler reads, as Go 1.18's register ABI has them at the probe, whatever
// the release: the handlers read a deferred function from RAX, a panic value from RAX:RBX, the
// goroutine from R14. Go 1.14–1.16 pass arguments and results on the stack (ABI0: argument word
// i at entry SP + 8 + 8i, the results after them) and keep g only in TLS; deferproc takes
// (siz, fn) up to 1.17. This adapter loads those words into the registers the handlers read, on
// a copy: the thread's own registers are never changed.
#pragma once

#include "binary/go_binary.h"
#include "process/process_memory.h"
#include "process/registers.h"
#include "trace/probe_plan.h"

#include <unordered_map>

namespace deftrace {

class ProbeRegisters {
public:
    ProbeRegisters() = default;
    explicit ProbeRegisters(const GoBinary &bin) : bin_(&bin) {}

    // True when the stop's registers are not already what the handlers read.
    [[nodiscard]] bool adapts() const {
        return bin_ != nullptr && (bin_->facts().abi == CallingConvention::Stack || bin_->facts().deferproc_has_siz);
    }

    // `regs` as the handlers of probe `p` (at link-time address `at`) read them; `g` is the
    // thread's current goroutine (the TLS word), put in R14 on the stack ABI.
    [[nodiscard]] Registers view(const Registers &regs, const Probe &p, LinkAddr at, Addr g,
                                 const ProcessMemory &mem) const;

private:
    struct Frame {
        int64_t size = 0; // entry SP - SP at the probe: the frame built so far
        int64_t args = 0; // _func.args: the bytes of arguments and results
    };
    [[nodiscard]] Frame frame_at(LinkAddr at) const;

    const GoBinary *bin_ = nullptr;
    mutable std::unordered_map<LinkAddr, Frame> frame_cache_;
};

} // namespace deftrace
