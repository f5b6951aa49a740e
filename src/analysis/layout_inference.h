// The runtime structure offsets deftrace reads, inferred from the runtime's own machine code in
// the binary — for a stripped binary of a release with no shipped layout table (Go 1.14, 1.16,
// 1.17, 1.18 and 1.20 have no Debian toolchain to generate one from). It works for every release
// of the registry; the test matrix checks it against the DWARF of each.
//
// Each offset is read from what a runtime function does with it, as its source says (e.g.
// runtime.gorecover@1.19: `p := gp._panic; if p != nil && !p.goexit && !p.recovered && argp ==
// uintptr(p.argp) { p.recovered = true; return p.arg }` gives g._panic, _panic.goexit,
// .recovered, .argp and .arg), and most are read from two functions. The inference refuses,
// naming the field, when a function is missing, a pattern is not found, or two functions
// disagree: it never guesses.
//
// Covered: era A (Go 1.14–1.21: deferreturn, gopanic, deferCallSave or before 1.17
// reflectcallSave, runOpenDeferFrame, addOneOpenDeferFrame, ...), on the stack ABI of 1.14–1.16
// and the register ABI after (symbolic_walk.h), and era B (1.22+: the panic iterator's start and
// nextDefer, deferconvert, ...); layout_facts.h holds the inference's state, the .cpp files the
// facts of each generation.
#pragma once

#include "arch/disassembler.h"
#include "binary/go_binary.h"
#include "binary/struct_layouts.h"

namespace deftrace {

// The layouts of runtime.g, runtime.m, runtime._defer and runtime._panic as inferred, with
// source() "inferred". Throws Error(UnsupportedGo) naming the first field that could not be
// inferred, or the two functions that disagree about it (a message to follow the binary's name).
StructLayouts infer_runtime_layouts(const GoBinary &bin, const Disassembler &dis);

} // namespace deftrace
