#include "arch/displacement.h"
#include "binary/error.h"

#include <cstring>
#include <gtest/gtest.h>

namespace deftrace::testing {
namespace {

Displacement plan(std::vector<uint8_t> code, uint64_t at, uint64_t slot) {
    static Disassembler dis;
    code.resize(16, 0x90);
    return plan_displacement(dis, Bytes(code), Addr(at), Addr(slot));
}

int32_t rel32_at(const std::vector<uint8_t> &b, size_t off) {
    int32_t v;
    std::memcpy(&v, b.data() + off, 4);
    return v;
}

TEST(Displacement, PlainInstructionRunsOutOfLineAndJumpsBack) {
    // movb $0x1, 0xf(%rsp)
    auto d = plan({0xc6, 0x44, 0x24, 0x0f, 0x01}, 0x401000, 0x300000);
    ASSERT_EQ(d.kind, Displacement::Kind::OutOfLine);
    EXPECT_EQ(d.length, 5);
    ASSERT_EQ(d.stub.size(), 10u);
    EXPECT_EQ(std::vector<uint8_t>(d.stub.begin(), d.stub.begin() + 5), d.original);
    EXPECT_EQ(d.stub[5], 0xe9);
    // jmp lands on the next original instruction.
    EXPECT_EQ(0x300000 + 10 + static_cast<int64_t>(rel32_at(d.stub, 6)), 0x401005);
}

TEST(Displacement, RipRelativeOperandIsRetargeted) {
    // lea 0x100(%rip), %rax  (48 8d 05 00 01 00 00) -> addresses 0x401007 + 0x100
    auto d = plan({0x48, 0x8d, 0x05, 0x00, 0x01, 0x00, 0x00}, 0x401000, 0x300000);
    ASSERT_EQ(d.kind, Displacement::Kind::OutOfLine);
    EXPECT_EQ(0x300000 + 7 + static_cast<int64_t>(rel32_at(d.stub, 3)), 0x401107);
}

// The stub's instructions, as Capstone reads them back at the slot.
std::vector<std::string> stub_text(const Displacement &d, uint64_t slot) {
    static Disassembler dis;
    std::vector<std::string> out;
    for (const auto &in : dis.decode(Bytes(d.stub), Addr(slot)))
        out.push_back(in.text);
    return out;
}

TEST(Displacement, CallsRunOutOfLineWithTheOriginalReturnAddress) {
    // call rel32 to 0x401000 + 5 + 0x20: push the address after the call, jump to the target.
    auto d = plan({0xe8, 0x20, 0x00, 0x00, 0x00}, 0x401000, 0x300000);
    ASSERT_EQ(d.kind, Displacement::Kind::OutOfLine);
    EXPECT_EQ(stub_text(d, 0x300000), (std::vector<std::string>{"push 0x401005", "jmp 0x401025"}));
    // call *%rcx and call *%r11
    auto i = plan({0xff, 0xd1}, 0x401000, 0x300000);
    ASSERT_EQ(i.kind, Displacement::Kind::OutOfLine);
    EXPECT_EQ(stub_text(i, 0x300000), (std::vector<std::string>{"push 0x401002", "jmp rcx"}));
    auto r = plan({0x41, 0xff, 0xd3}, 0x401000, 0x300000);
    EXPECT_EQ(stub_text(r, 0x300000), (std::vector<std::string>{"push 0x401003", "jmp r11"}));
    // Above 2 GiB (PIE): the 64-bit return address is stored in two halves, flags untouched.
    auto p = plan({0xe8, 0x20, 0x00, 0x00, 0x00}, 0x555555554000, 0x555555400000);
    ASSERT_EQ(p.kind, Displacement::Kind::OutOfLine);
    EXPECT_LE(p.stub.size(), kStubSlotSize);
    EXPECT_EQ(stub_text(p, 0x555555400000),
              (std::vector<std::string>{"lea rsp, [rsp - 8]", "mov dword ptr [rsp], 0x55554005",
                                        "mov dword ptr [rsp + 4], 0x5555", "jmp 0x555555554025"}));
}

TEST(Displacement, CallsThroughMemoryAreEmulated) {
    // call *0x8(%rax): its operand may depend on %rsp, which the stub's push would move.
    auto m = plan({0xff, 0x50, 0x08}, 0x401000, 0x300000);
    EXPECT_EQ(m.kind, Displacement::Kind::CallIndirect);
    EXPECT_EQ(m.operand.kind, Operand::Kind::Mem);
    // A target out of the slot's rel32 reach: the tracer emulates it.
    auto far = plan({0xe8, 0x20, 0x00, 0x00, 0x00}, 0x401000, 0x7f0000000000);
    EXPECT_EQ(far.kind, Displacement::Kind::CallDirect);
    EXPECT_EQ(far.target, Addr(0x401025));
}

TEST(Displacement, ReturnsAreEmulatedConditionalJumpsRefused) {
    EXPECT_EQ(plan({0xc3}, 0x401000, 0x300000).kind, Displacement::Kind::Ret);
    EXPECT_THROW(plan({0x74, 0x05}, 0x401000, 0x300000), Error);       // je +5
    EXPECT_THROW(plan({0xc2, 0x08, 0x00}, 0x401000, 0x300000), Error); // ret $8
}

TEST(Displacement, SlotOutOfReachIsRefused) {
    EXPECT_THROW(plan({0x48, 0x8d, 0x05, 0x00, 0x01, 0x00, 0x00}, 0x401000, 0x7f0000000000), Error);
}

std::optional<JumpPatch> patch(std::vector<uint8_t> code, size_t patchable, uint64_t at = 0x401000,
                               uint64_t trampoline = 0x300000) {
    static Disassembler dis;
    code.resize(32, 0x90);
    return plan_jump_patch(dis, Bytes(code), Addr(at), patchable, Addr(trampoline));
}

std::vector<std::string> text_at(const std::vector<uint8_t> &code, uint64_t at) {
    static Disassembler dis;
    std::vector<std::string> out;
    for (const auto &in : dis.decode(Bytes(code), Addr(at)))
        out.push_back(in.text);
    return out;
}

TEST(JumpPatch, AFramePrologueMovesToATrampolineBehindAnInt3) {
    // push %rbp; mov %rsp,%rbp; sub $0x20,%rsp: 8 bytes, the first 5 and more needed whole.
    const std::vector<uint8_t> prologue = {0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20};
    auto p = patch(prologue, 8);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->length, 8);
    EXPECT_EQ(p->original, prologue);
    EXPECT_EQ(text_at(p->jump, 0x401000),
              (std::vector<std::string>{"jmp 0x300000", "int3", "int3", "int3"})); // the rest never runs
    EXPECT_EQ(text_at(p->trampoline, 0x300000),
              (std::vector<std::string>{"int3", "push rbp", "mov rbp, rsp", "sub rsp, 0x20", "jmp 0x401008"}));
}

TEST(JumpPatch, RipRelativeOperandsAreRetargetedAndADirectCallEndsThePatch) {
    // mov %al,0xf(%rsp); lea 0x100(%rip),%rcx: the lea still addresses 0x40100c + 0x100.
    auto p = patch({0x88, 0x44, 0x24, 0x0f, 0x48, 0x8d, 0x0d, 0x00, 0x01, 0x00, 0x00}, 16);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->length, 11);
    EXPECT_EQ(text_at(p->trampoline, 0x300000),
              (std::vector<std::string>{"int3", "mov byte ptr [rsp + 0xf], al", "lea rcx, [rip + 0x1010ff]",
                                        "jmp 0x40100b"}));
    EXPECT_EQ(0x300000 + 1 + 4 + 7 + 0x1010ff, 0x40100b + 0x100); // after the copy + disp = the same byte
    // call rel32: pushes the address after it, so the callee returns to the original code.
    auto c = patch({0xe8, 0x20, 0x00, 0x00, 0x00}, 5);
    ASSERT_TRUE(c);
    EXPECT_EQ(text_at(c->trampoline, 0x300000), (std::vector<std::string>{"int3", "push 0x401005", "jmp 0x401025"}));
}

TEST(JumpPatch, RefusedWhereTheCodeDoesNotAllowIt) {
    EXPECT_FALSE(patch({0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20}, 4)) << "a jump target within 5 bytes";
    EXPECT_FALSE(patch({0xff, 0xd2, 0x48, 0x89, 0xc1}, 8)) << "call *%rdx followed by more: its return address";
    EXPECT_FALSE(patch({0xc3, 0x90, 0x90, 0x90, 0x90}, 8)) << "a ret";
    EXPECT_FALSE(patch({0x75, 0x03, 0x90, 0x90, 0x90}, 8)) << "a conditional jump";
    // movb $1,0xf(%rsp) then mov (%rcx),%rax: a load that may be a Go nil check.
    EXPECT_FALSE(patch({0x48, 0x89, 0xc2, 0x48, 0x8b, 0x01}, 8));
    EXPECT_FALSE(patch({0x55, 0x48, 0x89, 0xe5, 0xeb, 0x00}, 8)) << "a jump after the first instruction";
    EXPECT_FALSE(patch({0x55, 0x48, 0x89, 0xe5, 0x48, 0x83, 0xec, 0x20}, 8, 0x401000, 0x7f0000000000))
        << "a trampoline out of reach";
}

TrampolineTrap guarded_trap() {
    TrampolineTrap t;
    t.kind = TrampolineTrap::Kind::Signal;
    t.gate = Addr(0x2f0000);
    t.gate_open = 4242;
    t.armed = Addr(0x2f0100);
    t.tgid = 4000;
    t.signal = 23;
    return t;
}

// A guarded patch may start before its breakpoint: here `mov %rax,%rdx; call *%rcx` (5 bytes),
// the breakpoint on the call (deferreturn calling a deferred function). The trampoline runs the
// mov, then the trap, then the call as a push of the original return address and a jump.
TEST(GuardedPatch, StartsBeforeACallTooShortToCarryAJump) {
    static Disassembler dis;
    const std::vector<uint8_t> code = {0x48, 0x89, 0xc2, 0xff, 0xd1};
    auto p = plan_patch(dis, Bytes(code), Addr(0x401000), Addr(0x401003), 5, Addr(0x300000), guarded_trap());
    ASSERT_TRUE(p);
    EXPECT_EQ(p->address, Addr(0x401000));
    EXPECT_EQ(p->site, Addr(0x401003));
    EXPECT_EQ(p->length, 5);
    const auto text = text_at(p->trampoline, 0x300000);
    ASSERT_GE(text.size(), 4u);
    EXPECT_EQ(text.front(), "mov rdx, rax");
    EXPECT_EQ(text[text.size() - 2], "push 0x401005");
    EXPECT_EQ(text.back(), "jmp rcx");
    // The hit's pc follows the trap's system call.
    EXPECT_EQ(p->trampoline[p->hit_offset - 2], 0x0f);
    EXPECT_EQ(p->trampoline[p->hit_offset - 1], 0x05);
    // Without room before the call, no patch.
    EXPECT_FALSE(
        plan_patch(dis, Bytes(code).subspan(3), Addr(0x401003), Addr(0x401003), 2, Addr(0x300000), guarded_trap()));
}

// The trap saves what its system calls use below the stack pointer, checks the gate and the
// armed byte (RIP-relative, so they address the given words from wherever it runs), sends the
// signal, and restores everything before the relocated code.
TEST(GuardedPatch, TheTrapChecksItsGateAndRestoresWhatItSaved) {
    static Disassembler dis;
    const std::vector<uint8_t> ret = {0x48, 0x83, 0xc4, 0x38, 0x5d, 0xc3}; // add $0x38,%rsp; pop %rbp; ret
    auto p = plan_patch(dis, Bytes(ret), Addr(0x401000), Addr(0x401005), 6, Addr(0x300000), guarded_trap());
    ASSERT_TRUE(p) << "a ret ends its patch";
    EXPECT_EQ(p->address, Addr(0x401000));
    const auto text = text_at(p->trampoline, 0x300000);
    const std::string all = [&] {
        std::string s;
        for (const auto &t : text)
            s += t + "\n";
        return s;
    }();
    EXPECT_NE(all.find("add rsp, 0x38\npop rbp\nmov qword ptr [rsp - 8], rax"), std::string::npos) << all;
    // The gate at 0x2f0000 (== 4242), the armed byte at 0x2f0100, the trampoline at 0x300000:
    // each RIP-relative displacement lands on its word.
    EXPECT_NE(all.find("pushfq\ncmp dword ptr [rip - 0x10033], 0x1092\njne 0x30006b\n"
                       "cmp byte ptr [rip - 0xff40], 0\nje 0x30006b\n"),
              std::string::npos)
        << all;
    EXPECT_EQ(0x300033 - 0x10033, 0x2f0000); // the cmp ends at 0x300033
    EXPECT_EQ(0x300040 - 0xff40, 0x2f0100);
    // The pass's mark below the saved flags, then tgkill(4000, gettid(), 23).
    EXPECT_NE(all.find("rdtsc\nmov dword ptr [rsp - 8], eax\nmov dword ptr [rsp - 4], edx\nmov eax, 0xba\nsyscall\n"
                       "mov esi, eax\nmov edi, 0xfa0\nmov edx, 0x17\nmov eax, 0xea\nsyscall\nnop\npopfq\n"),
              std::string::npos)
        << all;
    EXPECT_EQ(p->trampoline.at(p->hit_offset), 0x90) << "the hit's pc is the nop, which a skip jumps over";
    EXPECT_EQ(text.back(), "ret");
    EXPECT_EQ(text[text.size() - 2], "mov rax, qword ptr [rsp - 8]");
    // A plain load through a register before the breakpoint may be a Go nil check: never moved.
    const std::vector<uint8_t> load = {0x48, 0x8b, 0x08, 0xff, 0xd1}; // mov (%rax),%rcx; call *%rcx
    EXPECT_FALSE(plan_patch(dis, Bytes(load), Addr(0x401000), Addr(0x401003), 5, Addr(0x300000), guarded_trap()));
}

} // namespace
} // namespace deftrace::testing
