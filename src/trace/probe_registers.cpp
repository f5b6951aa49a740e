#include "trace/probe_registers.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace deftrace {

namespace {

// Where a probe's values start on the stack (ABI0), relative to the stop's SP.
enum class Words {
    None,      // the handler reads no argument
    Entry,     // a function's entry: its arguments at entry SP + 8
    CallSite,  // a CALL in the caller: the callee's arguments at SP
    Results,   // gorecover's RET: its result after its one argument (argp)
    AfterCall, // after CALL gorecover in the caller: the result after argp at SP
    Handle     // a resource function: its arguments at entry, or at a ret its (handle, error) results
};

Words words_of(ProbeKind kind) {
    switch (kind) {
    case ProbeKind::DeferProc:
    case ProbeKind::DeferProcStack:
    case ProbeKind::Gopanic:
    case ProbeKind::GorecoverEntry:
    case ProbeKind::Recovery:
    case ProbeKind::Fatal:
    case ProbeKind::Throw:
    case ProbeKind::OsExit:
    case ProbeKind::ExecCall: return Words::Entry;
    case ProbeKind::DeferprocCall: return Words::CallSite;
    case ProbeKind::GorecoverReturn: return Words::Results;
    case ProbeKind::RecoverCallReturn: return Words::AfterCall;
    case ProbeKind::ResourceAcquire:
    case ProbeKind::ResourceRelease: return Words::Handle;
    default: return Words::None;
    }
}

// The ABIInternal integer argument registers, in order (go-runtime.md §1).
constexpr std::array kArgRegs = {Gpr::Rax, Gpr::Rbx, Gpr::Rcx, Gpr::Rdi, Gpr::Rsi,
                                 Gpr::R8,  Gpr::R9,  Gpr::R10, Gpr::R11};

} // namespace

ProbeRegisters::Frame ProbeRegisters::frame_at(LinkAddr at) const {
    if (auto it = frame_cache_.find(at); it != frame_cache_.end())
        return it->second;
    Frame frame;
    if (auto f = bin_->pclntab().find_func(at)) {
        frame.size = bin_->pclntab().pcsp(*f).at(at).value_or(0);
        frame.args = f->args;
    }
    frame_cache_.emplace(at, frame);
    return frame;
}

Registers ProbeRegisters::view(const Registers &regs, const Probe &p, LinkAddr at, Addr g,
                               const ProcessMemory &mem) const {
    Registers r = regs;
    const GoRelease &facts = bin_->facts();
    const bool heap_call = p.kind == ProbeKind::DeferprocCall && p.defer_kind == DeferKind::Heap && !p.rangefunc;
    const bool siz_first = facts.deferproc_has_siz && (p.kind == ProbeKind::DeferProc || heap_call);
    if (facts.abi == CallingConvention::Register) {
        if (siz_first) // deferproc(siz int32, fn *funcval)@1.17: fn in RBX
            r.raw.rax = r.raw.rbx;
        return r;
    }
    r.raw.r14 = g.value();
    if (p.handle_mem)
        return r; // an inlined lock's atomic instruction: the handle is its memory operand's address
    Addr base;
    switch (words_of(p.kind)) {
    case Words::None: return r;
    case Words::Entry: base = regs.sp() + static_cast<uint64_t>(frame_at(at).size) + 8; break;
    case Words::Handle: {
        // ABI0 keeps no record of where the results start among the argument words: a result
        // handle is taken as the first of (handle, error), the last three words, as every
        // acquire function of the shipped probes returns (probes/README.md).
        const Frame f = frame_at(at);
        const int64_t results = p.handle_is_result ? std::max<int64_t>(f.args - 24, 0) : 0;
        base = regs.sp() + static_cast<uint64_t>(f.size + results) + 8;
        break;
    }
    case Words::CallSite: base = regs.sp(); break;
    case Words::Results: base = regs.sp() + 16; break;
    case Words::AfterCall: base = regs.sp() + 8; break;
    }
    if (siz_first)
        base = base + 8; // siz occupies the first word
    auto bytes = mem.read_bytes(base, kArgRegs.size() * 8);
    if (!bytes)
        return r;
    for (size_t i = 0; i < kArgRegs.size() && (i + 1) * 8 <= bytes->size(); ++i) {
        uint64_t w;
        std::memcpy(&w, bytes->data() + i * 8, 8);
        r.set(kArgRegs[i], w);
    }
    return r;
}

} // namespace deftrace
