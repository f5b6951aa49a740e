#include "inspect_command.h"

#include "analysis/defer_sites.h"
#include "binary/error.h"
#include "binary/name_pattern.h"
#include "exit_codes.h"
#include "inspect_report.h"
#include "shipped/shipped_data.h"

#include <iostream>

namespace deftrace {

int run_inspect(const InspectOptions &opts) {
    DeferAnalysisOptions aopts;
    if (opts.func_regex)
        aopts.only = [p = NamePattern::compile(*opts.func_regex, "--func")](std::string_view name) {
            return p.search(name);
        };
    GoBinary bin = GoBinary::open(opts.binary);
    auto funcs = analyze_defer_sites(bin, aopts);
    // What a trace would read the runtime's structures with (shipped/layouts_for).
    LayoutReport layout;
    try {
        const StructLayouts l = layouts_for(bin, ShippedData::of_this_process());
        layout.source = l.source();
        if (layout.source == "table")
            layout.detail = "go" + bin.version().minor_string() + ".json";
    } catch (const Error &e) {
        layout = {"none", e.what()};
    }
    if (opts.json)
        std::cout << inspect_json_text(bin, funcs, layout) << "\n";
    else
        inspect_text(std::cout, bin, funcs, layout);
    std::cout.flush();
    if (!std::cout)
        throw Error(ErrorKind::Io, "writing the report to standard output failed");
    return kExitOk;
}

} // namespace deftrace
