// Which functions' defers a trace follows (--scope). Out of scope, a defer statement costs no
// stop: its function gets no probe, and the runtime's entry points that every defer goes through
// are probed only while an in-scope frame needs them. Panics, recovers that stop a panic, fatal
// errors and never_run reports are traced in every scope.
#pragma once

#include "binary/go_binary.h"

#include <memory>
#include <regex>
#include <string>
#include <string_view>

namespace deftrace {

class Scope {
public:
    // `spec`: "all", "main" (package main and the main module's packages), or a regular
    // expression (ECMAScript) searched in each function's full name, as `dlv trace` takes one.
    // Throws Error(Usage) for a bad expression.
    static Scope parse(const std::string &spec, const GoBinary &bin);
    static Scope all() { return Scope(Kind::All); }

    [[nodiscard]] bool is_all() const { return kind_ == Kind::All; }
    [[nodiscard]] bool contains(std::string_view function) const;
    // For the trace header: "all", "main module example.com/app", "functions matching RE".
    [[nodiscard]] std::string describe() const;

private:
    enum class Kind { All, MainModule, Regex };
    explicit Scope(Kind k) : kind_(k) {}
    Kind kind_;
    std::string module_, pattern_;
    std::shared_ptr<const std::regex> regex_;
};

} // namespace deftrace
