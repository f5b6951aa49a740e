// A place in the traced program: the function, and its source file and line when known. Its own
// header because the leak tracker (src/leaks) records sites too and must not need the events.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace deftrace {

struct Site {
    std::string function;
    std::string file;
    int line = 0;
    [[nodiscard]] nlohmann::ordered_json to_json() const;
    [[nodiscard]] std::string short_form() const; // "main.f (main.go:12)"
};

} // namespace deftrace
