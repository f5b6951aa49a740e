// What the tracer can observe at its breakpoints, one struct per kind of stop. Each is fed to
// Model::observe, which checks it against the model's prediction and advances the model.
#pragma once

#include "model/chain_snapshot.h"
#include "model/model_types.h"

#include <optional>
#include <string>
#include <variant>

namespace deftrace::model {

// deferproc / deferprocStack / deferrangefunc / deferprocat returned, or an open-coded deferBits
// store executed.
struct DeferRegistered {
    Goid goid = 0;
    DeferKind kind = DeferKind::Heap;
    // The registering frame. For RangefuncAt: the frame owning the rangefunc head (the function
    // containing the range-over-func loop), or kUnknownDepth to use the newest head.
    FrameDepth frame = kUnknownDepth;
    Callee callee;
    int bit = -1; // OpenCoded: the deferBits bit index (0..7)
};

// A deferred function is about to be called (the runtime's `call *%rcx`, an open-coded exit call).
struct DeferredCallStarted {
    Goid goid = 0;
    CodeAddr fn = 0;
    CallCause cause = CallCause::Return;
    // Return: the frame whose exit runs the call. Panic/Goexit: the frame that registered it, if
    // known. kUnknownDepth when not known.
    FrameDepth frame = kUnknownDepth;
};

// gopanic(v) or Goexit entered.
struct PanicStarted {
    Goid goid = 0;
    std::string value; // description of the panic value ("" for Goexit)
    bool goexit = false;
    // The frame that called gopanic/Goexit (the panicking frame); kUnknownDepth if not known.
    FrameDepth frame = kUnknownDepth;
};

// Who invoked a function, looking through compiler-generated wrapper frames.
enum class Invoker {
    PanicRunner,  // gopanic's loop, or deferCallSave/runOpenDeferFrame under gopanic (≤1.21)
    GoexitRunner, // Goexit's loop (deferCallSave/runOpenDeferFrame under Goexit ≤1.21)
    Deferreturn,  // runtime.deferreturn or an inline open-coded exit: a normal function return
    Ordinary,     // a plain call from Go code
};
const char *to_string(Invoker i);

// recover() was called; gorecover's result is the outcome.
struct RecoverCalled {
    Goid goid = 0;
    FrameDepth caller_frame = kUnknownDepth; // recover's caller
    CodeAddr caller_fn = 0;
    // Who called recover's caller (wrappers skipped). The spec's "called directly by a deferred
    // function" is: invoker is PanicRunner.
    Invoker invoker = Invoker::Ordinary;
    int wrapper_frames = 0; // wrapper frames skipped between caller and invoker
    // Logical frames inlined into the caller's physical frame at the recover site (recover inside an
    // inlined helper). ≤1.25 ignores them (argp is the physical FP); 1.26+ counts them.
    int inlined_frames = 0;
    // `defer recover()`: recover itself is the deferred call, its caller is the deferwrap wrapper.
    // Up to 1.25 the wrapper passes the FP of the frame that executed the defer statement (argument
    // evaluated at the defer, escape.fixRecoverCall), so it matches iff that frame was invoked
    // directly by the panic runner: registrar_invoker says who invoked that frame.
    bool deferred_recover = false;
    Invoker registrar_invoker = Invoker::Ordinary;
    // What 1.26+ gorecover counts (its inline-aware unwinder, panic.go): the logical frames from
    // recover's caller up to the first runtime.gopanic frame, inlined calls included, FuncIDWrapper
    // frames skipped (runtime.deferreturn is one); 2 stands for "more than one",
    // -1 for no gopanic frame before the second.
    int frames_to_gopanic = -1;
    std::optional<bool> recovered; // the runtime's answer (gorecover returned non-nil), if seen
};

// recovery() is about to resume the goroutine (gogo to the recovering frame).
struct Resumed {
    Goid goid = 0;
    FrameDepth frame = kUnknownDepth; // the frame execution continues in
    CodeAddr fn = 0;                  // its function, if known (informational)
    bool in_goexit = false;           // resumed inside Goexit's loop (a Goexit below was bypassed)
};

enum class EndKind {
    Returned,    // the goroutine's function returned (goexit0)
    GoexitDone,  // runtime.Goexit ran all defers and called goexit1
    FatalPanic,  // fatalpanic: the panic was not recovered
    ProgramExit, // os.Exit / another goroutine's fatal error ended the process
};
const char *to_string(EndKind k);

struct GoroutineEnded {
    Goid goid = 0;
    EndKind kind = EndKind::Returned;
};

using Observation = std::variant<DeferRegistered, DeferredCallStarted, PanicStarted, RecoverCalled, Resumed,
                                 ChainSnapshot, GoroutineEnded>;

Goid goid_of(const Observation &o);

} // namespace deftrace::model
