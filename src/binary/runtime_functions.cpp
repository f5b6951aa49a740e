#include "binary/runtime_functions.h"

#include <unordered_map>

namespace deftrace {

const std::vector<std::string_view> &watched_runtime_functions() {
    static const std::vector<std::string_view> names = {
        // registration
        "runtime.deferproc",
        "runtime.deferprocStack",
        "runtime.deferrangefunc",
        "runtime.deferprocat",
        "runtime.deferconvert",
        "runtime.newdefer",
        // running and removal
        "runtime.deferreturn",
        "runtime.popDefer",
        "runtime.freedefer",
        "runtime.jmpdefer",
        // panics
        "runtime.gopanic",
        "runtime.gorecover",
        "runtime.recovery",
        "runtime.Goexit",
        "runtime.fatalpanic",
        "runtime.preprintpanics",
        "runtime.printpanics",
        "runtime.printPreFatalDeferPanic",
        "runtime.sigpanic",
        // Go 1.22+ panic iterator
        "runtime.(*_panic).start",
        "runtime.(*_panic).nextDefer",
        "runtime.(*_panic).nextFrame",
        "runtime.(*_panic).initOpenCodedDefers",
        // Go 1.17-1.21 open-coded machinery
        "runtime.addOneOpenDeferFrame",
        "runtime.runOpenDeferFrame",
        "runtime.deferCallSave",
        // goroutine lifecycle
        "runtime.main",
        "runtime.goexit",
        "runtime.goexit1",
        "runtime.mcall",
    };
    return names;
}

RuntimeFunctions RuntimeFunctions::resolve(const Pclntab &tab) {
    const auto &names = watched_runtime_functions();
    std::unordered_map<std::string_view, size_t> wanted;
    for (size_t i = 0; i < names.size(); ++i)
        wanted.emplace(names[i], i);
    std::vector<std::optional<FuncInfo>> hits(names.size());
    for (size_t i = 0; i < tab.num_funcs(); ++i) {
        FuncInfo f = tab.func(i);
        auto name = tab.func_name(f);
        if (!name.starts_with("runtime."))
            continue;
        if (auto it = wanted.find(name); it != wanted.end() && !hits[it->second])
            hits[it->second] = f;
    }
    RuntimeFunctions r;
    for (size_t i = 0; i < names.size(); ++i)
        if (hits[i])
            r.found_.emplace_back(names[i], *hits[i]);
    return r;
}

std::optional<FuncInfo> RuntimeFunctions::get(std::string_view name) const {
    for (const auto &[n, f] : found_)
        if (n == name)
            return f;
    return std::nullopt;
}

} // namespace deftrace
