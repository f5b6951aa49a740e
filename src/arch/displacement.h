// How to execute an instruction that a breakpoint displaced, without removing the breakpoint.
//
// A breakpoint's int3 stays in place; when a thread stops on it, the tracer resumes the thread
// either in a stub (the original instruction, relocated, followed by a jump back) in a scratch
// page of the tracee, or — for control transfers that cannot run elsewhere — by emulating the
// instruction in the tracer. Either way the hit costs one ptrace stop.
#pragma once

#include "arch/disassembler.h"
#include "arch/record_stub.h"

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
// scratch page: those instructions relocated, with the breakpoint's trap between the ones before
// the breakpoint's own instruction (`site`) and the rest, then a jump back to address + length.
// A hit stops in the trampoline with the pc already past the trap and the registers as they are
// at `site`, so the thread continues with no register written. Tracing cost: one register read
// less than an int3 hit.
struct JumpPatch {
    Addr address; // where the jump is written: `site`, or an instruction before it
    Addr site;    // the breakpoint
    uint8_t length = 0;
    std::vector<uint8_t> original; // the bytes the jump replaces
    std::vector<uint8_t> jump;     // jmp rel32 to the trampoline, padded with int3 to `length`
    std::vector<uint8_t> trampoline;
    size_t hit_offset = 0; // the pc of a stopped hit, from the trampoline's start
};

// How a trampoline stops the thread at its hit.
struct TrampolineTrap {
    enum class Kind {
        Int3,   // an int3 (SIGTRAP): the tracer must outlive every hit
        Signal, // the thread signals itself (arch/guarded_trap.h), only while a gate allows it
    };
    Kind kind = Kind::Int3;
    // Signal:
    Addr gate; // a 32-bit word: the trap fires only while it equals `gate_open`
    uint32_t gate_open = 0;
    Addr armed;        // a byte: the trap fires only while it is not 0
    uint32_t tgid = 0; // the process (the thread's id is asked of the kernel)
    int signal = 0;
    // Either kind: record without stopping when the record's conditions hold, and trap only
    // when they do not (arch/record_stub.h). Null: always trap.
    const RecordSpec *record = nullptr;
};

// Plans a jump patch for the breakpoint at `site`, with its trampoline at `trampoline`. `code`
// holds the bytes from `from` (`site` or up to a few instructions before it) and `limit` bytes
// from `from` may be replaced: the caller knows that nothing jumps into (from, from + limit) and
// that no other breakpoint sits there. The patch starts at `site` when the instructions from
// there make 5 bytes, else at the latest earlier instruction that does. The breakpoint's own
// instruction is displaced as plan_displacement does (a call or a ret only as the last one: what
// follows is reached by a return, or by other paths); every other instruction must be plain,
// with memory operands on the stack or RIP-relative only, so that nothing in the trampoline can
// fault where a fault in the original code would have been a Go panic (`vetted_before`: the
// caller's analysis found those before `site` safe to move, memory operands included). nullopt
// when no patch fits.
std::optional<JumpPatch> plan_patch(const Disassembler &dis, Bytes code, Addr from, Addr site, size_t limit,
                                    Addr trampoline, const TrampolineTrap &trap, bool vetted_before = false);

// Whether an instruction of the file may be moved into a trampoline before its breakpoint's
// (plan_patch's test, for the analyses that bound the patches).
bool movable_before_breakpoint(const Instruction &in);

// plan_patch for an int3 trampoline whose patch starts at the breakpoint.
std::optional<JumpPatch> plan_jump_patch(const Disassembler &dis, Bytes code, Addr address, size_t patchable,
                                         Addr trampoline);

// The largest trampoline plan_patch makes: up to four instructions before the breakpoint's and
// five from it, the recording code (arch/record_stub.h), the trap (at most arch/guarded_trap.h's),
// and a call's push and jump or a jump back.
inline constexpr size_t kMaxTrampolineSize = 9 * 15 + kMaxRecordCodeSize + 160 + 25 + 5;

} // namespace deftrace
