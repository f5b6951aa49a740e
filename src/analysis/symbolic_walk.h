// A symbolic walk over one function's machine code: what it loads, stores and compares, named
// by where each value came from — the function's arguments, the current g, its return address,
// its entry stack pointer, a function's result, or a word loaded at a fixed offset from one of
// these. layout_inference.h reads the runtime's structure offsets from such walks: in
// runtime.deferreturn, `cmp %rdx,0x8(%rax)` with rax = [g+0x28] and rdx = the caller's SP says
// that _defer.sp is at 8 and g._defer at 0x28.
//
// Every instruction reachable from the entry is visited once (fall-through first, then branch
// targets), with the state of the first path that reached it: enough for the straight-line
// runtime functions it is used on, and never more than one visit, so a walk always ends.
#pragma once

#include "arch/disassembler.h"
#include "binary/go_binary.h"

#include "release/go_releases.h"

#include <cstdint>
#include <string>
#include <vector>

namespace deftrace {

// The walk takes arguments as CallingConvention (release/go_releases.h) says: in registers
// (ABIInternal, RAX, RBX, RCX, RDI, RSI, R8..R11, and g in R14) or on the stack (ABI0: arg i at
// entry SP + 8 + 8i, g from TLS).

using SymId = uint32_t; // 0: nothing known

enum class SymKind : uint8_t {
    Unknown,
    G,        // the current goroutine
    Arg,      // argument n (a word)
    ReturnPc, // the return address pushed by the call
    Stack,    // the address entry SP + n (Stack 8: the caller's SP, where stack arguments start)
    Field,    // the word loaded from base + n
    Address,  // base + n, computed (lea n(base)): the address of a field
    Result,   // what `callee` returned: in RAX (n 0), or (stack ABI) the word at the call's SP + 8n
    Imm,      // the constant n
    Static,   // the link-time address n (a RIP-relative LEA)
};

struct Sym {
    SymKind kind = SymKind::Unknown;
    int64_t n = 0;
    SymId base = 0;     // Field
    std::string callee; // Result
};

struct MemEvent {
    // IndexedLoad: a load from base + offset + index*scale (an element of an array base points
    // at); the loaded value is not named.
    enum class Kind : uint8_t { Load, Store, Compare, Cmpxchg, IndexedLoad } kind;
    SymId base;     // the address register's value (never Stack: those are StackStore)
    int64_t offset; // displacement
    uint8_t size;   // bytes accessed
    SymId value;    // Load: the loaded value; Store: the stored one; Compare: the other operand
};

struct StackStore {
    int64_t slot; // entry SP + slot
    SymId value;
};

struct CallEvent {
    std::string callee;            // "" for an indirect call
    std::vector<SymId> reg_args;   // RAX, RBX, RCX, RDI at the call
    std::vector<SymId> stack_args; // the words at SP, SP+8, ... at the call (ABI0 arguments)
};

struct WalkResult {
    std::vector<Sym> syms{Sym{}}; // syms[0] is Unknown
    std::vector<MemEvent> mem;    // in visiting order
    std::vector<StackStore> stack_stores;
    std::vector<CallEvent> calls;
    std::vector<std::pair<SymId, SymId>> reg_compares; // cmp reg, reg
    std::vector<SymId> subtracted_from;                // sub reg, x: reg's value before
    std::vector<std::pair<SymId, SymId>> returns;      // RAX, RBX at each ret

    [[nodiscard]] const Sym &sym(SymId id) const { return syms[id]; }
    [[nodiscard]] bool is(SymId id, SymKind kind, int64_t n = 0) const {
        return id != 0 && syms[id].kind == kind && syms[id].n == n;
    }
    // The value loaded from base + offset, 0 when the walk never loaded it.
    [[nodiscard]] SymId field(SymId base, int64_t offset) const;
    // The id of a value with no base (G, Arg n, ReturnPc, Stack n, Imm n), 0 when never made.
    [[nodiscard]] SymId find(SymKind kind, int64_t n = 0) const;
    // The offset of `id` from `base` when id = Field(base, offset).
    [[nodiscard]] std::optional<int64_t> offset_in(SymId id, SymId base) const;
};

// Walks `f` of `bin`. Calls to functions that do not return (runtime.throw, panics, stack
// growth) end a path.
WalkResult walk_function(const GoBinary &bin, const Disassembler &dis, const FuncInfo &f, CallingConvention cc);

} // namespace deftrace
