// Defer-site classification: every `defer` statement compiled into a Go binary, with the kind
// the compiler chose for it (ssagen.(*state).stmt, case ODEFER):
//   open-coded  the frame's deferBits byte gets the statement's bit  (no runtime call)
//   stack       CALL runtime.deferprocStack                            (_defer in the frame)
//   heap        CALL runtime.deferproc, or runtime.deferprocat in a range-over-func body
// For open-coded functions it also recovers the frame layout (deferBits and closure slots as SP
// offsets in the body), the inline exit sequences that run the defers, and the out-of-line
// CALL runtime.deferreturn that a recovered panic resumes at.
#pragma once

#include "arch/disassembler.h"
#include "binary/go_binary.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deftrace {

enum class DeferKind { OpenCoded, Stack, Heap };
const char *to_string(DeferKind k); // "open-coded", "stack", "heap"

struct DeferSite {
    DeferKind kind = DeferKind::Heap;
    LinkAddr pc; // the CALL runtime.deferproc*, or the store that sets the bit
    std::string file;
    int32_t line = 0;
    std::string runtime_call; // stack/heap: the runtime function called
    int bit = -1;             // open-coded: the deferBits bit this statement sets
};

// One inline run of an open-coded defer at a function exit: test bit, clear it, call.
struct OpenCodedExit {
    int bit = -1;
    LinkAddr clear_pc;              // the store that writes the cleared deferBits
    LinkAddr call_pc;               // the call of the deferred function
    std::optional<LinkAddr> target; // direct call target; nullopt for an indirect call via the slot
    std::string target_name;
};

struct OpenCodedFrame {
    OpenDeferInfo info;
    int64_t frame_size = 0;          // varp - SP in the function body
    int64_t deferbits_sp_offset = 0; // deferBits at SP + this, in the body
    int defer_count = 0;
    std::vector<std::optional<int64_t>> slot_sp_offsets; // per bit: closure slot at SP + this
    std::vector<OpenCodedExit> exits;
};

struct FunctionDefers {
    std::string name;
    LinkAddr entry, end;
    std::string file;
    int32_t line = 0;
    std::optional<LinkAddr> deferreturn_call; // entry + _func.deferreturn
    std::vector<DeferSite> sites;
    std::optional<OpenCodedFrame> open_coded;
    std::vector<std::string> notes; // things the analysis could not explain
};

struct DeferAnalysisOptions {
    // Only functions it accepts, by full name: a trace analyses just what it will probe (a
    // function's analysis decodes all of its code, most of the start-up time on a large binary).
    std::function<bool(std::string_view)> only;
};

// Analyses every function of the binary that can hold a defer. Results are in function-table
// (address) order and contain only functions with at least one site or open-coded frame.
std::vector<FunctionDefers> analyze_defer_sites(const GoBinary &bin, const DeferAnalysisOptions &opts = {});

} // namespace deftrace
