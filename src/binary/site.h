// A place in the program's source: a function and the file and line the pc-line table gives for
// a pc in it (inlined calls expanded). Events, leak reports and the runtime model all name code
// this way.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace deftrace {

struct Site {
    std::string function;
    std::string file;
    int line = 0;
    [[nodiscard]] nlohmann::ordered_json to_json() const;
    [[nodiscard]] std::string short_form() const; // "main.f (main.go:12)", or the function alone
};

} // namespace deftrace
