// What a compiler-generated defer wrapper calls. `defer f(args)` with arguments (and, before Go
// 1.22, most defer statements) is compiled into a wrapper closure that holds the evaluated
// arguments and calls f: main.g.funcN up to 1.21, main.g.deferwrapN from 1.22, both marked
// abi.FuncIDWrapper (walk.wrapGoDefer / ssagen "deferwrap"). Users want to see f, and the name
// of f is stable across releases where the wrapper's name is not.
#pragma once

#include "arch/disassembler.h"
#include "binary/go_binary.h"

#include <functional>
#include <optional>
#include <string>

namespace deftrace {

// Whether `f` is a compiler-generated function that a defer statement defers in place of what it
// names: marked abi.FuncIDWrapper, or (≤1.16) a print wrapper pkg.wrap·N.
bool is_defer_wrapper(const GoBinary &bin, const FuncInfo &f);

// The function a wrapper calls: the outermost function inlined into the wrapper's body, or the
// first direct call's target. nullopt when `f` is not a wrapper or calls through a register
// (a deferred func value: the real target is only known at run time).
std::optional<std::string> wrapped_callee(const GoBinary &bin, const Disassembler &dis, const FuncInfo &f);

// Before Go 1.17 a builtin with arguments is deferred directly, its arguments copied behind the
// _defer: `defer close(ch)` defers runtime.closechan itself. The builtin the program wrote when
// `runtime_fn` implements one alone (closechan, gopanic, gorecover, mapdelete*), else nullopt.
std::optional<std::string> builtin_deferred_directly(std::string_view runtime_fn);

// For a wrapper that calls through a register (an interface method, a func value), the code
// address it will call, found by evaluating its straight-line loads from the closure context
// (RDX on entry, ABIInternal) with `read` (run-time memory). nullopt when the loads are not that
// simple or memory is unreadable.
using ReadWord = std::function<std::optional<uint64_t>(uint64_t)>;
std::optional<uint64_t> wrapper_call_target(const GoBinary &bin, const Disassembler &dis, const FuncInfo &f,
                                            uint64_t closure, const ReadWord &read);

} // namespace deftrace
