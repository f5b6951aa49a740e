// A probe that records instead of stopping: code a trampoline runs at its breakpoint that writes
// a fixed-size record into a ring shared with the tracer and goes on, with no trap and no system
// call (process/record_ring.h holds the ring's layout; the tracer turns records into events).
//
// The code
//   1. saves RAX, RCX, RDX and the flags just below the stack pointer (0x20 bytes: the same room
//      a guarded trap takes, arch/guarded_trap.h; Go code keeps nothing below SP, and signal
//      handlers run on their own stack);
//   2. gives up — falls through to the trap that follows it in the trampoline, registers and flags
//      as they came — when the gate (attached) is closed, when the goroutine is panicking (g._panic
//      is not nil: what a stop then reads is a chain that changes), or when the ring is too full
//      to take a record (the tracer has not drained it: never a record lost);
//   3. takes the next sequence number (lock xadd: one counter for every thread) and fills the
//      record it selects: the number, the probe's id, the time-stamp counter, then each captured
//      word — a register as at the breakpoint, or a word at an offset from one (after a nil
//      check, or a test of a bit of a word captured before it), or one more load through that;
//   4. publishes the record by writing its commit word (sequence + 1) last: x86 keeps stores in
//      order, so a reader that sees the commit word sees the rest;
//   5. restores what it saved and jumps past the trap to the relocated instructions.
// Nothing in it can fault: every load is from the stack, the goroutine's g (R14), or a pointer
// checked for nil that the program's own code was about to use.
#pragma once

#include "arch/gpr.h"
#include "binary/address.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace deftrace {

// One word a record captures, into the record's words in the order given.
struct Capture {
    enum class Kind {
        Reg,    // the register's value at the breakpoint (RSP: the stack pointer there), plus off
        Mem,    // the word at reg + off; 0 when reg is 0
        MemMem, // the word at [reg + off] + off2; 0 when either pointer is 0
    };
    Kind kind = Kind::Reg;
    Gpr reg = Gpr::None;
    int32_t off = 0, off2 = 0;
    // Load only when word `when_word` (captured earlier in this record) has a bit of `when_mask`
    // set, 0 otherwise: a conditional open-coded defer's slot holds a closure only when its bit
    // is stored.
    int when_word = -1;
    uint32_t when_mask = 0;
};

struct RecordSpec {
    uint32_t probe = 0; // the tracer's id of the breakpoint, in the record
    std::vector<Capture> words;
    // The goroutine's g is in `g_reg` (R14 on the register ABI): no record while g._panic
    // (g + panic_offset) is not nil.
    Gpr g_reg = Gpr::R14;
    int32_t panic_offset = 0;
    // The ring, in the tracee (process/record_ring.h): the producers' counter, the consumer's,
    // the first record; `capacity` records (a power of two) of `record_size` bytes, of which at
    // most capacity - `slack` may be in use when a record is taken (threads between the test and
    // the take cannot overrun the consumer).
    Addr head, tail, records;
    uint32_t capacity = 0, record_size = 0, slack = 0;
    // Attached: the gate a guarded trap checks too (arch/guarded_trap.h); null when launched.
    Addr gate;
    uint32_t gate_open = 0;
};

// Words a record holds after its header (sequence, probe, time-stamp counter) and the offset of
// the first: the record layout process/record_ring.h reads.
inline constexpr size_t kRecordHeaderWords = 4; // commit, sequence, probe, tsc
inline constexpr size_t kMaxRecordWords = 28;

// Appends the recording code for a trampoline being built at `at` (its current end) to `out`.
// On success it jumps to a place not known yet: `done_fixup` is the offset in `out` of that
// jump's rel32 (relative to the jump's end, `done_fixup` + 4), to be patched once the trap that
// follows is appended. nullopt when a RIP-relative operand would not reach the ring, or the
// spec is not one this code can record (too many words, a register it cannot read).
std::optional<size_t> append_record(std::vector<uint8_t> &out, Addr at, const RecordSpec &spec);

// The longest code append_record writes: about 200 bytes around the captures, and at most 55 for
// one (a bit test, two nil-checked loads, the store).
inline constexpr size_t kMaxRecordCodeSize = 256 + kMaxRecordWords * 56;

} // namespace deftrace
