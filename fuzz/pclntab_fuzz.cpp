// Pclntab::parse on arbitrary bytes, then every query GoBinary and the analysis make: function
// records, names, lookups by pc and name, pc-value tables, files and lines, pcdata/funcdata.
#include "binary/pclntab.h"
#include "fuzz_common.h"

using namespace deftrace;

namespace {

// Bounds the work per input: a table may declare thousands of functions.
constexpr size_t kMaxFuncs = 256;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const Bytes bytes = fuzz::input(data, size);
    (void)Pclntab::looks_like_header(bytes);
    fuzz::run_reader([&] {
        const LinkAddr table_addr(0x4c0040);
        Pclntab tab = Pclntab::parse(bytes, table_addr);
        if (tab.header_text_start().is_null()) // Go 1.26+: entries relative to moduledata.text
            tab = Pclntab::parse(bytes, table_addr, LinkAddr(0x401000));
        (void)tab.find_func(tab.text_start());
        (void)tab.find_func(tab.text_start() + 0x20);
        (void)tab.find_by_name("runtime.gopanic");
        const size_t n = std::min(tab.num_funcs(), kMaxFuncs);
        for (size_t i = 0; i < n; ++i) {
            fuzz::run_reader([&] {
                const FuncInfo f = tab.func(i);
                (void)tab.func_name(f);
                (void)tab.find_func(f.entry);
                (void)tab.pcdata_offset(f, kPcdataInlTreeIndex);
                for (uint32_t k : {3u, 4u, 5u}) // the inline tree and open-coded defer slots of every release
                    (void)tab.funcdata(f, k, LinkAddr(0x500000));
                const PcValueTable sp = tab.pcsp(f);
                (void)sp.at(f.entry);
                (void)tab.source_at(f, f.entry);
                if (f.end > f.entry)
                    (void)tab.source_at(f, f.end - 1);
                (void)tab.file_name(f, 0);
                (void)tab.name_at(f.name_off);
                if (auto idx = tab.pcdata_offset(f, kPcdataInlTreeIndex))
                    (void)tab.pc_table(f, *idx).at(f.entry + 4);
            });
        }
    });
    return 0;
}
