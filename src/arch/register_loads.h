// Register moves and loads, played forward by the tracer instead of the thread: a probe placed a
// few instructions before the one it stands for (an early site, trace/probe_plan.h) sees the
// registers as they are at its own address, and computes those the instruction it stands for
// would see.
#pragma once

#include "arch/disassembler.h"

#include <functional>
#include <optional>
#include <vector>

namespace deftrace {

// Whether `in` is one emulate_loads plays: `mov r64|r32, [mem]` (8 or 4 bytes, no segment),
// `mov r64, r64`, `lea r64, [mem]` (each writes one register and reads memory at most once), or
// a nop.
bool is_register_load(const Instruction &in);

struct RegisterFile {
    std::function<uint64_t(Gpr)> get;
    std::function<void(Gpr, uint64_t)> set;
    // `size` bytes at `addr`; nullopt when unreadable.
    std::function<std::optional<uint64_t>(uint64_t addr, size_t size)> read;
};

// Plays `insns` (each is_register_load) on `regs`; `runtime` gives the run-time address of a
// file address (RIP-relative operands). Stops at a load it cannot read (the thread would fault
// there), setting its destination to 0; returns false then.
bool emulate_loads(const std::vector<Instruction> &insns, const std::function<uint64_t(LinkAddr)> &runtime,
                   const RegisterFile &regs);

} // namespace deftrace
