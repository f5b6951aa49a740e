#include "analysis/displacement.h"

#include "binary/error.h"

#include <capstone/capstone.h>
#include <cstring>

namespace deftrace {

namespace {

bool fits_rel32(int64_t v) {
    return v >= INT32_MIN && v <= INT32_MAX;
}

[[noreturn]] void cannot(const Instruction &in, const std::string &why) {
    throw Error(ErrorKind::Process,
                "cannot place a breakpoint on '" + in.text + "' at " + in.address.hex() + ": " + why);
}

} // namespace

Displacement plan_displacement(const Disassembler &dis, Bytes code, Addr address, Addr slot) {
    auto decoded = dis.decode_one(code, address);
    if (!decoded)
        throw_corrupt("no valid instruction at " + address.hex() + " for a breakpoint");
    const Instruction &in = *decoded;
    Displacement d;
    d.address = address;
    d.length = in.size;
    d.text = in.text;
    d.original.assign(code.begin(), code.begin() + in.size);

    switch (in.op) {
    case Op::Call:
        if (in.branch_target) {
            d.kind = Displacement::Kind::CallDirect;
            d.target = *in.branch_target;
        } else {
            if (in.operands.size() != 1 || in.operands[0].mem.base == Gpr::Rip ||
                (in.operands[0].kind == Operand::Kind::Reg && in.operands[0].reg == Gpr::None))
                cannot(in, "unsupported indirect call form");
            d.kind = Displacement::Kind::CallIndirect;
            d.operand = in.operands[0];
        }
        return d;
    case Op::Jmp:
        if (!in.branch_target)
            cannot(in, "indirect jumps are not displaced");
        d.kind = Displacement::Kind::JmpDirect;
        d.target = *in.branch_target;
        return d;
    case Op::Ret:
        if (in.size != 1)
            cannot(in, "only a plain ret is emulated");
        d.kind = Displacement::Kind::Ret;
        return d;
    case Op::Jcc: cannot(in, "conditional jumps are not displaced");
    default: break;
    }

    // Any other instruction runs unchanged in the slot, except that a RIP-relative displacement
    // is re-targeted so it still addresses the same byte.
    d.kind = Displacement::Kind::OutOfLine;
    d.stub = d.original;
    if (in.rip_relative) {
        if (in.disp_offset == 0 || in.disp_size != 4)
            cannot(in, "RIP-relative operand without a 32-bit displacement");
        int32_t disp;
        std::memcpy(&disp, d.stub.data() + in.disp_offset, 4);
        const int64_t moved = static_cast<int64_t>(disp) + static_cast<int64_t>(address.value() - slot.value());
        if (!fits_rel32(moved))
            cannot(in, "the scratch page is too far away to re-target its RIP-relative operand");
        auto v = static_cast<int32_t>(moved);
        std::memcpy(d.stub.data() + in.disp_offset, &v, 4);
    }
    const int64_t back =
        static_cast<int64_t>((address + in.size).value()) - static_cast<int64_t>((slot + in.size + 5).value());
    if (!fits_rel32(back))
        cannot(in, "the scratch page is too far away to jump back");
    d.stub.push_back(0xe9);
    auto rel = static_cast<int32_t>(back);
    const auto *p = reinterpret_cast<const uint8_t *>(&rel);
    d.stub.insert(d.stub.end(), p, p + 4);
    return d;
}

} // namespace deftrace
