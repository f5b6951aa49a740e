// How to execute an instruction that a breakpoint displaced, without removing the breakpoint.
//
// A breakpoint's int3 stays in place; when a thread stops on it, the tracer resumes the thread
// either in a stub (the original instruction, relocated, followed by a jump back) in a scratch
// page of the tracee, or — for control transfers that cannot run elsewhere — by emulating the
// instruction in the tracer. Either way the hit costs one ptrace stop.
#pragma once

#include "arch/disassembler.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

struct Displacement {
    enum class Kind {
        OutOfLine,    // run `stub` at the slot address (calls too: push, then jump)
        CallDirect,   // push return address, jump to `target` (a stub's jump would not reach)
        CallIndirect, // push return address, jump to the value of `operand` (a memory operand)
        JmpDirect,    // jump to `target`
        Ret,          // pop the return address into the pc
    };
    Kind kind = Kind::OutOfLine;
    Addr address;
    uint8_t length = 0;
    std::vector<uint8_t> original; // the instruction's bytes (the first is replaced by int3)
    std::vector<uint8_t> stub;     // OutOfLine: code for the slot
    Addr target;                   // CallDirect / JmpDirect
    Operand operand;               // CallIndirect
    std::string text;              // the instruction, for messages
};

// Size reserved for one stub in the scratch page: the longest instruction (15) plus a rel32 jump,
// or a call's push of a 64-bit return address and jump (25).
inline constexpr size_t kStubSlotSize = 32;

// Plans the displacement of the instruction at `address` (whose bytes start `code`) with its stub
// at `slot`. Throws Error(Corrupt) when the bytes do not decode, Error(Process) when the
// instruction cannot be displaced (e.g. a short relative jump, or a slot out of rel32 reach).
Displacement plan_displacement(const Disassembler &dis, Bytes code, Addr address, Addr slot);

// A breakpoint carried by a jump instead of an int3: the whole instructions in
// [address, address + length), at least 5 bytes, become `jmp rel32` to a trampoline in the
// scratch page: int3, the same instructions relocated, and a jump back to address + length. A
// hit stops on the trampoline's int3 with the pc already on the relocated code, so the thread
// continues with no register written. Tracing cost: one register read less than an int3 hit.
struct JumpPatch {
    Addr address;
    uint8_t length = 0;
    std::vector<uint8_t> original; // the bytes the jump replaces
    std::vector<uint8_t> jump;     // jmp rel32 to the trampoline, padded with int3 to `length`
    std::vector<uint8_t> trampoline;
};

// Plans a jump patch at `address` with its trampoline at `trampoline`, using at most `patchable`
// bytes of `code` (the caller knows that no jump lands inside them and no other breakpoint sits
// there). The first instruction is displaced as plan_displacement does (a call only if it is the
// last one: its return address must be the end of the patch); the others must be plain
// instructions whose memory operands are on the stack or RIP-relative, so that nothing in the
// trampoline can fault where a fault in the original code would have been a Go panic. nullopt
// when no patch fits.
std::optional<JumpPatch> plan_jump_patch(const Disassembler &dis, Bytes code, Addr address, size_t patchable,
                                         Addr trampoline);

// The largest trampoline plan_jump_patch makes (int3, up to five relocated instructions and a
// call's push and jump, or a jump back).
inline constexpr size_t kMaxTrampolineSize = 1 + 4 * 15 + 25 + 5;

} // namespace deftrace
