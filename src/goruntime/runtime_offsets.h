// The byte offsets of the runtime structures the tracer reads, resolved once per binary from its
// DWARF or from the generated per-version tables (binary/struct_layouts.h). Fields that exist
// only in some releases are optional; code tests for presence, never for a version number.
#pragma once

#include <cstdint>
#include <optional>

namespace deftrace {

class StructLayouts;

struct RuntimeOffsets {
    using Opt = std::optional<uint32_t>;
    struct G {
        uint32_t stack_lo, stack_hi, panic, defer, m, sched_sp, sched_pc, atomicstatus, goid;
        Opt sigcode0, sigcode1, startpc, gopc;
    } g{};
    struct M {
        uint32_t g0, curg;
        Opt procid; // the thread's id (minit); not inferred for stripped binaries
    } m{};
    struct Defer {
        uint32_t size, heap, sp, pc, fn, link;
        Opt started, open_defer, rangefunc, panic, fd, varp, framepc, head;
        Opt siz; // ≤1.17: the size of the arguments kept right after the record
    } defer{};
    struct Panic {
        uint32_t size, arg, link, recovered, goexit;
        Opt argp, aborted, repanicked, start_pc, start_sp, sp, lr, pc, fp, retpc, deferbits_ptr, slots_ptr, deferreturn,
            gopanic_fp;
    } panic{};
    // abi.Type / runtime._type: identical offsets in every supported release.
    struct Type {
        uint32_t size = 0, tflag = 20, kind = 23, str = 40;
    } type{};

    // Throws Error(UnsupportedGo) naming the first missing required field.
    static RuntimeOffsets from(const StructLayouts &layouts);
};

} // namespace deftrace
