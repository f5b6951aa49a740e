// The runtime functions deftrace watches, resolved by name from the pclntab (so stripped binaries
// work as well as binaries with a symbol table).
#pragma once

#include "binary/pclntab.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deftrace {

// Every runtime function deftrace may use, in report order. Which exist depends on the release
// and on what the linker kept (e.g. deferprocat only with range-over-func defers).
const std::vector<std::string_view> &watched_runtime_functions();

class RuntimeFunctions {
public:
    // One pass over the function table.
    static RuntimeFunctions resolve(const Pclntab &tab);

    [[nodiscard]] std::optional<FuncInfo> get(std::string_view name) const;
    [[nodiscard]] bool has(std::string_view name) const { return get(name).has_value(); }
    // The functions that were found, in watched_runtime_functions() order.
    [[nodiscard]] const std::vector<std::pair<std::string_view, FuncInfo>> &found() const { return found_; }

private:
    std::vector<std::pair<std::string_view, FuncInfo>> found_;
};

} // namespace deftrace
