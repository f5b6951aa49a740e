#include "inspect_command.h"

#include "analysis/defer_sites.h"
#include "binary/error.h"
#include "exit_codes.h"
#include "inspect_report.h"

#include <iostream>

namespace deftrace {

int run_inspect(const InspectOptions &opts) {
    DeferAnalysisOptions aopts;
    if (opts.func_regex) {
        try {
            aopts.function_filter.emplace(*opts.func_regex, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error &e) {
            throw Error(ErrorKind::Usage, "--func: invalid regular expression '" + *opts.func_regex + "': " + e.what());
        }
    }
    GoBinary bin = GoBinary::open(opts.binary);
    auto funcs = analyze_defer_sites(bin, aopts);
    if (opts.json)
        std::cout << inspect_json_text(bin, funcs) << "\n";
    else
        inspect_text(std::cout, bin, funcs);
    std::cout.flush();
    if (!std::cout)
        throw Error(ErrorKind::Io, "writing the report to standard output failed");
    return kExitOk;
}

} // namespace deftrace
