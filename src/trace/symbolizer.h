// Names for what a stop finds: the function at a pc, the source site of a call, the function a
// deferred func value will run (seeing through the compiler's wrappers), the program's frame
// among the runtime's and the standard library's. Answers are memoised: the same few pcs come
// back at every event.
#pragma once

#include "arch/disassembler.h"
#include "binary/go_binary.h"
#include "goruntime/stack_unwind.h"
#include "process/process_memory.h"
#include "trace/event.h"

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace deftrace {

// runtime.*, runtime/*, internal/*: the runtime's machinery, never the program's story.
bool is_runtime_function(std::string_view name);

// runtime.call16, call32, ... (≤1.16): reflectcall jumps to the one that fits the arguments, and
// it makes the call.
bool is_reflectcall_helper(std::string_view name);
// The runtime functions whose reflectcall is a deferred call (≤1.16): gopanic and Goexit for a
// linked record, reflectcallSave for runOpenDeferFrame. reflect.Value.Call and finalizers use
// reflectcall too.
bool runs_deferred_calls_by_reflectcall(std::string_view name);

// The function a deferred call runs. For a compiler-generated wrapper (deferwrap, a method
// value's -fm) `fn` is the function it calls and `wrapper` its own name; otherwise `wrapper` is
// empty. `fn` is "nil" for `defer f()` of a nil func value.
using ClosureWords = std::array<uint64_t, 4>;

struct DeferredFn {
    std::string fn;
    std::string wrapper;
};

class Symbolizer {
public:
    Symbolizer(const GoBinary &bin, const StackWalker &walker, const ProcessMemory &mem, const Disassembler &dis);

    [[nodiscard]] std::string func_name_at(Addr runtime_pc) const;
    // The source site of a run-time pc; `return_address`: the pc follows a call, name the call.
    // A wrapper's site is named by the function holding its defer statement.
    [[nodiscard]] Site site_at(Addr runtime_pc, bool return_address) const;
    // `code`: the funcval's code; `closure`: the funcval (the wrapper's context, for wrappers
    // that call through a register).
    // `held`: the closure's first words as a record captured them when the defer ran (the code
    // word and three captured variables), read instead of the closure's memory now.
    [[nodiscard]] DeferredFn deferred_fn(Addr code, Addr closure, const ClosureWords *held = nullptr) const;
    // Whether naming what `code` calls takes its closure's words (a wrapper that calls through
    // what it captured).
    [[nodiscard]] bool reads_closure(Addr code) const;
    // The innermost frame that is not the runtime's: where user code called into a runtime
    // function (or faulted, for panics raised by sigpanic).
    [[nodiscard]] Site user_site(Addr pc, Addr sp) const;

    // A frame making a call: the frame's run-time pc and sp, and the link-time pc of the call (the
    // call instruction, or the site of a call the compiler inlined).
    struct CallSite {
        Addr pc, sp;
        LinkAddr call;
    };
    // The frames from `at` outward, inlined calls expanded; innermost first.
    [[nodiscard]] std::vector<Site> call_stack(const CallSite &at) const;
    // The program's own call, below the standard library's (possibly inlined) wrappers.
    [[nodiscard]] static Site program_site(const std::vector<Site> &stack);

    // A panicking goroutine's stack, from a stop at gopanic's entry (pc, sp), as Go's traceback
    // shows it: the frames outside the runtime (runtime.*, internal/*), inlined calls expanded,
    // innermost first, a frame that faulted (entered sigpanic) at its faulting line, without the
    // compiler's wrappers that called what they wrap (as Go's traceback elides them); the standard
    // library's frames beyond the program's outermost one (the loop of net/http's server that
    // called a handler) are left out. At most `limit` physical frames are walked; `truncated`:
    // the stack goes on beyond them.
    struct PanicStack {
        std::vector<Site> frames;
        bool truncated = false;
    };
    [[nodiscard]] PanicStack panic_stack(Addr pc, Addr sp, size_t limit) const;

private:
    // Appends frame `f`'s sites making the call at link-time pc `call`: the calls inlined there,
    // innermost first, then `f`'s own function.
    void append_frame(const Frame &f, LinkAddr call, std::vector<Site> &out) const;

    const GoBinary &bin_;
    const StackWalker &walker_;
    const ProcessMemory &mem_;
    const Disassembler &dis_;
    std::string main_module_;                               // what is the program's (is_std_function)
    mutable std::unordered_map<uint64_t, Site> site_cache_; // key: run-time pc * 2 + return_address
    mutable std::unordered_map<Addr, std::string> name_cache_;
    struct CalleeNames {
        std::string raw, callee; // callee: empty unless a wrapper with a static target
        bool indirect = false;   // a wrapper that calls through a register
    };
    mutable std::unordered_map<Addr, CalleeNames> callee_cache_; // by code address
};

} // namespace deftrace
