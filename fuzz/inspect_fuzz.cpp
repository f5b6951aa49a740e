// The whole `deftrace inspect` on an arbitrary file: GoBinary (ELF, build info, pclntab,
// moduledata, version), the defer-site analysis, both reports, and the inline-tree and
// open-coded-defer queries the tracer makes of the same binary.
#include "analysis/defer_sites.h"
#include "binary/go_binary.h"
#include "fuzz_common.h"
#include "inspect_report.h"

#include <sstream>

using namespace deftrace;

namespace {

constexpr size_t kMaxFuncs = 64;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::run_reader([&] {
        const GoBinary bin = GoBinary::from_bytes(fuzz::input(data, size), "fuzz");
        const auto funcs = analyze_defer_sites(bin);
        (void)inspect_json_text(bin, funcs);
        std::ostringstream text;
        inspect_text(text, bin, funcs);
        (void)bin.inlined_into({"runtime.deferproc", "main.inl"});
        const size_t n = std::min(bin.pclntab().num_funcs(), kMaxFuncs);
        for (size_t i = 0; i < n; ++i) {
            fuzz::run_reader([&] {
                const FuncInfo f = bin.pclntab().func(i);
                (void)bin.open_defer_info(f);
                (void)bin.inlined_calls(f, f.entry + 4);
                (void)bin.outermost_inlined(f, f.entry);
                (void)bin.code(f);
            });
        }
    });
    return 0;
}
