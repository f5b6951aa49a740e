// `deftrace inspect`: the static picture of a Go binary.
#pragma once

#include <optional>
#include <string>

namespace deftrace {

struct InspectOptions {
    std::string binary;
    bool json = false;
    std::optional<std::string> func_regex;
};

int run_inspect(const InspectOptions &opts);

} // namespace deftrace
