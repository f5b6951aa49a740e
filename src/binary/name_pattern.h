// A regular expression a user gives to pick functions by name (--scope, inspect --func), in RE2's
// syntax — Go's own regexp syntax, which `dlv trace` takes too. RE2 runs in time linear in the
// name whatever the pattern: an expression made to backtrack (`((a*)*)*$`) cannot hang deftrace
// before the program starts, as std::regex's backtracking did.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace deftrace {

class NamePattern {
public:
    // Throws Error(Usage) "OPTION: not a valid regular expression: TEXT (RE2's reason)".
    static NamePattern compile(const std::string &text, const std::string &option);
    // Whether the expression matches anywhere in `name` (a search, as grep does).
    [[nodiscard]] bool search(std::string_view name) const;
    [[nodiscard]] const std::string &text() const { return text_; }

private:
    NamePattern(std::string text, std::shared_ptr<const re2::RE2> re) : text_(std::move(text)), re_(std::move(re)) {}
    std::string text_;
    std::shared_ptr<const re2::RE2> re_; // shared: a Scope is copied into each child's tracer
};

} // namespace deftrace
