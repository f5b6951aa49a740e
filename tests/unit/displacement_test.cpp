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

} // namespace
} // namespace deftrace::testing
