#include "process/signal_frames.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <ucontext.h>

namespace deftrace {

namespace {

constexpr size_t kPage = 4096;

// uc_mcontext.gregs[REG_RIP] and [REG_RSP] (sys/ucontext.h) from the start of the ucontext.
constexpr uint64_t kRipAt = offsetof(ucontext_t, uc_mcontext) + REG_RIP * sizeof(greg_t);
constexpr uint64_t kRspAt = offsetof(ucontext_t, uc_mcontext) + REG_RSP * sizeof(greg_t);
static_assert(kRipAt == 168 && kRspAt == 160, "the x86-64 ucontext layout the kernel writes");

constexpr uint64_t kStackAt = offsetof(ucontext_t, uc_stack);
constexpr uint64_t kStackFlagsAt = kStackAt + offsetof(stack_t, ss_flags);
constexpr uint64_t kStackSizeAt = kStackAt + offsetof(stack_t, ss_size);

// The context of a frame whose ucontext is at `uc`, for a thread whose stack pointer is `sp`.
// uc_stack is the thread's alternate signal stack when the kernel delivered the signal: a frame
// there is this thread's only if the thread is on that stack now (Go's signal stacks, 32 KiB
// each, lie side by side: a search running past the end of one finds its neighbour's frames).
std::optional<InterruptedContext> context_at(const ProcessMemory &mem, Addr uc, Addr sp) {
    const auto rip = mem.read_u64(uc + kRipAt);
    const auto rsp = mem.read_u64(uc + kRspAt);
    if (!rip || !rsp || *rip == 0 || *rsp == 0)
        return std::nullopt;
    const auto ss_sp = mem.read_u64(uc + kStackAt);
    const auto ss_flags = mem.read_u32(uc + kStackFlagsAt);
    const auto ss_size = mem.read_u64(uc + kStackSizeAt);
    if (!ss_sp || !ss_flags || !ss_size)
        return std::nullopt;
    if ((*ss_flags & SS_DISABLE) == 0 && *ss_size != 0) {
        const Addr lo(*ss_sp), hi(*ss_sp + *ss_size);
        if (sp < lo || sp >= hi || uc >= hi)
            return std::nullopt;
    }
    return InterruptedContext{Addr(*rip), Addr(*rsp), uc};
}

} // namespace

std::vector<InterruptedContext> signal_frames(const ProcessMemory &mem, Addr pc, Addr sp,
                                              std::span<const std::pair<Addr, Addr>> restorers, size_t span) {
    std::vector<InterruptedContext> out;
    if (restorers.empty() || sp.is_null())
        return out;
    const bool returning =
        std::any_of(restorers.begin(), restorers.end(), [&](const auto &r) { return pc >= r.first && pc < r.second; });
    if (returning)
        if (auto c = context_at(mem, sp, sp))
            out.push_back(*c);
    // Page by page up to the first page that cannot be read (the end of the stack's mapping).
    const uint64_t from = sp.value() & ~uint64_t{7};
    std::vector<uint8_t> page(kPage);
    for (uint64_t at = from; at < from + span;) {
        const uint64_t end = std::min((at & ~(kPage - 1)) + kPage, from + span);
        std::span<uint8_t> chunk(page.data(), end - at);
        if (!mem.read(Addr(at), chunk))
            break;
        for (size_t off = 0; off + 8 <= chunk.size(); off += 8) {
            uint64_t word = 0;
            std::memcpy(&word, chunk.data() + off, sizeof word);
            if (std::none_of(restorers.begin(), restorers.end(),
                             [&](const auto &r) { return r.first.value() == word; }))
                continue;
            if (auto c = context_at(mem, Addr(at + off + 8), sp))
                out.push_back(*c);
        }
        at = end;
    }
    return out;
}

} // namespace deftrace
