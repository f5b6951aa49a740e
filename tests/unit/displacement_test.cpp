#include "analysis/displacement.h"
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

} // namespace
} // namespace deftrace::testing
