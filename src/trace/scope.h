// Which functions' defers a trace follows (--scope). Out of scope, a defer statement costs no
// stop: its function gets no probe, and the runtime's entry points that every defer goes through
// are probed only while an in-scope frame needs them. Panics, recovers that stop a panic, fatal
// errors and never_run reports are traced in every scope.
#pragma once

#include "binary/go_binary.h"
#include "binary/name_pattern.h"

#include <optional>
#include <string>
#include <string_view>

namespace deftrace {

class Scope {
public:
    // `spec`: "all", "main" (package main and the main module's packages), or a regular
    // expression (RE2, binary/name_pattern.h) searched in each function's full name, as `dlv
    // trace` takes one.
    // Throws Error(Usage) for a bad expression.
    static Scope parse(const std::string &spec, const GoBinary &bin);
    static Scope all() { return Scope(Kind::All); }

    [[nodiscard]] bool is_all() const { return kind_ == Kind::All; }
    [[nodiscard]] bool contains(std::string_view function) const;
    // For the trace header: "all", "main module example.com/app", "functions matching RE".
    [[nodiscard]] std::string describe() const;
    // The default scope of a binary without module information: its main module was inferred
    // (binary/source_paths.h), and deftrace says which it chose.
    [[nodiscard]] bool module_inferred() const { return kind_ == Kind::MainModule && inferred_; }
    [[nodiscard]] const std::string &module() const { return module_; }

private:
    enum class Kind { All, MainModule, Regex };
    explicit Scope(Kind k) : kind_(k) {}
    Kind kind_;
    std::string module_;
    bool inferred_ = false;
    std::optional<NamePattern> pattern_;
};

} // namespace deftrace
