// Vocabulary shared by the defer/panic/recover model: goroutine ids, frame depths, code addresses
// and the kinds of deferred calls. The model depends on nothing else in the project.
#pragma once

#include <cstdint>
#include <string>

namespace deftrace::model {

using Goid = uint64_t;
using CodeAddr = uint64_t; // code address of a deferred funcval (or of recover's caller)
using PanicId = uint64_t;  // model-assigned, 1-based, unique per Model

// A frame's position on its goroutine stack: g.stack.hi - SP of the frame body. It survives the
// runtime's stack copying (copystack keeps offsets from hi). Because the stack grows down, a
// LARGER depth is a NEWER (inner, callee) frame and a smaller one an older (outer, caller) frame;
// the runtime's "sp1 < sp2" becomes "depth1 > depth2" here. 0 means "not known".
using FrameDepth = uint64_t;
inline constexpr FrameDepth kUnknownDepth = 0;

// How the compiler registered a defer (ssagen ODEFER) or which runtime entry created the record.
enum class DeferKind {
    OpenCoded,     // deferBits bit in the frame, no runtime call
    Stack,         // runtime.deferprocStack
    Heap,          // runtime.deferproc
    RangefuncHead, // runtime.deferrangefunc (1.22+): head record of a range-over-func defer list
    RangefuncAt,   // runtime.deferprocat (1.22+): defer inside a range-over-func loop body
    OpenFrame,     // ≤1.21 only: the _defer record addOneOpenDeferFrame makes for a whole open-coded frame
};
const char *to_string(DeferKind k);

// Why the tracer believes a deferred call runs.
enum class CallCause { Return, Panic, Goexit };
const char *to_string(CallCause c);

// The function a defer will call, as the tracer named it.
struct Callee {
    CodeAddr fn = 0;
    std::string name;
    std::string site; // defer statement position or id, free-form
};

} // namespace deftrace::model
