// The Go releases deftrace supports: one row per Go 1.x minor release, holding every fact that
// depends on the release — what the static layer needs to read the binary (src/binary) and what
// the runtime model needs to reproduce its defer/panic/recover logic (src/model). The supported
// range, and every message that names it, are derived from the rows; nothing else in deftrace
// lists releases or compares version numbers to decide what it supports.
//
// Adding a Go release 1.NN:
//   1. one row in kReleases (go_releases.cpp), its facts read from that release's runtime sources
//      (go-runtime.md says where each one lives);
//   2. its toolchain pinned in scripts/go-versions.txt, and its layout table generated with
//      scripts/gen-layouts.sh (probes/layouts/go1.NN.json, never written by hand).
// A release whose defer/panic machinery is not era A or B needs a new Era and its adapter in
// src/model (runtime_generation.cpp switches over Era, so the compiler points at the gap).
//
// This library depends on nothing, so that both src/binary and src/model can use it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace deftrace {

// FUNCDATA_OpenCodedDeferInfo payload generations (go-runtime.md §4.2).
enum class OpenDeferFormat {
    Go117, // maxargsize, deferBitsOffset, nDefers, per defer: argWidth, closureOffset, nArgs, args...
    Go118, // deferBitsOffset, nDefers, closureOffset per defer (highest index first)
    Go122, // deferBitsOffset, slotsOffset (contiguous closure slots)
};

// The two shapes of the runtime's defer/panic machinery (go-runtime.md §3).
enum class Era {
    A, // 1.14–1.21: addOneOpenDeferFrame / runOpenDeferFrame, started/aborted, recovery via sigcode0/1
    B, // 1.22+: _panic.start / nextDefer / nextFrame / initOpenCodedDefers, records popped before the call
};
// "A", "B": as scripts/go-versions.txt's era column names them.
const char *era_name(Era era);

// How Go functions take their arguments and find g (go-runtime-1.15.md §2; go-runtime.md §1).
enum class CallingConvention {
    Stack,    // ≤1.16 ABI0: arguments and results in the caller's frame from entry SP+8, g in TLS
    Register, // 1.17+ ABIInternal: RAX, RBX, RCX, RDI, RSI, R8–R11; g in R14
};

// How gorecover decides that its caller may stop the panic (go-runtime.md §2.4).
enum class RecoverRule {
    ArgpMatch,      // ≤1.25 gorecover(argp): argp == p.argp; wrapper prologues pass argp through
    FrameCountFP,   // 1.26 gorecover(): exactly one non-wrapper (inlining-aware) frame, gopanic fp == p.gopanicFP
    FrameCountStart // 1.27 gorecover(): same walk, gopanic frame sp == p.startSP
};

struct GoRelease {
    int minor; // Go 1.<minor>

    // Reading the binary (src/binary).
    uint32_t pclntab_magic; // pcHeader.magic its linker writes
    OpenDeferFormat opendefer_format;
    uint32_t moduledata_text;   // offset of moduledata.text
    uint32_t moduledata_gofunc; // offset of moduledata.gofunc; 0: none (≤1.17: funcdata are pointers)
    uint32_t moduledata_types;  // offset of moduledata.types
    uint8_t funcdata_inltree;   // FUNCDATA_InlTree: 4 before 1.16 (RegPointerMaps went), then 3
    uint8_t funcdata_opendefer; // FUNCDATA_OpenCodedDeferInfo: 5, then 4
    uint8_t funcid_gopanic;     // abi.FuncID values, renumbered over releases (§2.4)
    uint8_t funcid_wrapper;
    bool inltree_name_off; // 1.20+: runtime.inlinedCall is {funcID, _, nameOff, parentPc, startLine}
    bool name_len_varint;  // 1.17+: a type's name is {flags, uvarint length, bytes}; before, a u16 big-endian length

    // How the program runs its defers (src/analysis, src/trace).
    CallingConvention abi;
    // ≤1.17: deferproc(siz int32, fn *funcval), the deferred call's arguments following fn in the
    // caller's argument area and copied behind the _defer (deferArgs); 1.18+: deferproc(fn).
    bool deferproc_has_siz;
    // ≤1.17: deferreturn runs one deferred call and jmpdefer makes it return to the CALL
    // runtime.deferreturn, which runs again for the next; 1.18+: deferreturn loops itself.
    bool deferreturn_jmpdefer;
    // ≤1.16: gopanic and runOpenDeferFrame call a deferred function through reflectcall (callNN);
    // 1.17+: directly (a closure without arguments).
    bool panic_calls_reflectcall;

    // The runtime's defer/panic/recover logic (src/model, src/trace/validator).
    Era era;
    // deferproc* return 0, and 1 after recovery (return0 / gobuf.ret = 1); ≤1.24. Without it (1.25+)
    // recovery always jumps to entry+deferreturn of the recovering function.
    bool deferproc_returns_flag;
    bool panic_has_aborted; // _panic.aborted, ≤1.21
    // addOneOpenDeferFrame adds no record past a started one (1.18+); before, it only skips the
    // frames already recorded.
    bool open_scan_stops_at_started;
    // After a recover, gopanic drops the not-started open records only when the recovering
    // frame is done (≤1.15, from the chain's head); 1.16+ always, past the recovering record
    // when it is not done.
    bool purge_only_when_done;
    bool panic_has_repanicked;     // _panic.repanicked, set by preprintpanics, 1.25+
    bool skips_older_panic_frames; // 1.27 nextFrame jumps over frames an older panic processed
    RecoverRule recover_rule;

    // Built and traced by the test matrix (scripts/go-versions.txt), with a shipped layout table
    // for stripped binaries (probes/layouts/go1.NN.json). A release without it is read and modelled
    // from its sources, tested on real binaries (scripts/real-binaries.txt), and a stripped binary
    // of it is traced with the layout inferred from its runtime's code (analysis/layout_inference.h).
    bool in_matrix;

    [[nodiscard]] std::string name() const; // "1.22"
};

// Every supported release, oldest first, without gaps.
std::span<const GoRelease> go_releases();
const GoRelease &first_go_release();
const GoRelease &last_go_release();

// The row for Go major.minor; nullptr outside the supported range.
const GoRelease *go_release(int major, int minor);

// "1.14–1.27", from the first and last rows.
std::string supported_go_range();
// "deftrace supports 1.14–1.27": the tail of every message refusing a release or a format.
std::string supported_go_sentence();
// "unsupported Go version go1.13.15; deftrace supports 1.14–1.27".
std::string unsupported_go_message(std::string_view version);

} // namespace deftrace
