#include "arch/guarded_trap.h"

#include <cstring>
#include <stdexcept>

namespace deftrace {

namespace {

constexpr long kSysGettid = 186, kSysTgkill = 234;

void put(std::vector<uint8_t> &out, std::initializer_list<uint8_t> bytes) {
    out.insert(out.end(), bytes);
}

void put32(std::vector<uint8_t> &out, uint32_t v) {
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    out.insert(out.end(), b, b + 4);
}

// The rel32 from the end of an instruction that ends at `end` to `target`.
std::optional<uint32_t> rel32(Addr end, Addr target) {
    const int64_t d = static_cast<int64_t>(target.value()) - static_cast<int64_t>(end.value());
    if (d < INT32_MIN || d > INT32_MAX)
        return std::nullopt;
    return static_cast<uint32_t>(static_cast<int32_t>(d));
}

} // namespace

std::optional<size_t> append_guarded_trap(std::vector<uint8_t> &out, Addr at, const TrampolineTrap &trap) {
    const size_t base = out.size();
    auto here = [&] { return at + (out.size() - base); };
    // Save what the system calls clobber or take as arguments, then the flags; no instruction
    // here touches the flags before pushfq (mov, lea).
    put(out, {0x48, 0x89, 0x44, 0x24, 0xf8}); // mov %rax,-0x8(%rsp)
    put(out, {0x48, 0x89, 0x4c, 0x24, 0xf0}); // mov %rcx,-0x10(%rsp)
    put(out, {0x48, 0x89, 0x54, 0x24, 0xe8}); // mov %rdx,-0x18(%rsp)
    put(out, {0x48, 0x89, 0x74, 0x24, 0xe0}); // mov %rsi,-0x20(%rsp)
    put(out, {0x48, 0x89, 0x7c, 0x24, 0xd8}); // mov %rdi,-0x28(%rsp)
    put(out, {0x4c, 0x89, 0x5c, 0x24, 0xd0}); // mov %r11,-0x30(%rsp)
    put(out, {0x48, 0x8d, 0x64, 0x24, 0xd0}); // lea -0x30(%rsp),%rsp
    put(out, {0x9c});                         // pushfq
    // The gate, then the armed byte; each `jne/je skip` is patched once `skip` is known.
    put(out, {0x81, 0x3d}); // cmpl $gate_open, gate(%rip)
    auto gate = rel32(here() + 8, trap.gate);
    if (!gate)
        return std::nullopt;
    put32(out, *gate);
    put32(out, trap.gate_open);
    put(out, {0x0f, 0x85}); // jne skip
    const size_t to_skip1 = out.size();
    put32(out, 0);
    put(out, {0x80, 0x3d}); // cmpb $0, armed(%rip)
    auto armed = rel32(here() + 5, trap.armed);
    if (!armed)
        return std::nullopt;
    put32(out, *armed);
    put(out, {0x00});
    put(out, {0x0f, 0x84}); // je skip
    const size_t to_skip2 = out.size();
    put32(out, 0);
    // This pass's mark: the time-stamp counter, just below the saved flags.
    put(out, {0x0f, 0x31});             // rdtsc
    put(out, {0x89, 0x44, 0x24, 0xf8}); // mov %eax,-0x8(%rsp)
    put(out, {0x89, 0x54, 0x24, 0xfc}); // mov %edx,-0x4(%rsp)
    // tgkill(tgid, gettid(), signal)
    put(out, {0xb8}); // mov $SYS_gettid,%eax
    put32(out, kSysGettid);
    put(out, {0x0f, 0x05}); // syscall
    put(out, {0x89, 0xc6}); // mov %eax,%esi
    put(out, {0xbf});       // mov $tgid,%edi
    put32(out, trap.tgid);
    put(out, {0xba}); // mov $signal,%edx
    put32(out, static_cast<uint32_t>(trap.signal));
    put(out, {0xb8}); // mov $SYS_tgkill,%eax
    put32(out, kSysTgkill);
    put(out, {0x0f, 0x05}); // syscall
    // The hit's pc: only the system call above returns here (a skip lands on the next byte).
    const size_t hit = out.size() - base;
    put(out, {0x90}); // nop
    const size_t skip = out.size();
    for (size_t from : {to_skip1, to_skip2}) {
        const auto d = static_cast<uint32_t>(static_cast<int32_t>(skip - (from + 4)));
        std::memcpy(out.data() + from, &d, 4);
    }
    put(out, {0x9d});                         // popfq
    put(out, {0x48, 0x8d, 0x64, 0x24, 0x30}); // lea 0x30(%rsp),%rsp
    put(out, {0x4c, 0x8b, 0x5c, 0x24, 0xd0}); // mov -0x30(%rsp),%r11
    put(out, {0x48, 0x8b, 0x7c, 0x24, 0xd8}); // mov -0x28(%rsp),%rdi
    put(out, {0x48, 0x8b, 0x74, 0x24, 0xe0}); // mov -0x20(%rsp),%rsi
    put(out, {0x48, 0x8b, 0x54, 0x24, 0xe8}); // mov -0x18(%rsp),%rdx
    put(out, {0x48, 0x8b, 0x4c, 0x24, 0xf0}); // mov -0x10(%rsp),%rcx
    put(out, {0x48, 0x8b, 0x44, 0x24, 0xf8}); // mov -0x8(%rsp),%rax
    if (out.size() - base > kMaxGuardedTrapSize)
        throw std::logic_error("append_guarded_trap: the trap outgrew kMaxGuardedTrapSize");
    return hit;
}

} // namespace deftrace
