#include "trace/scope.h"

#include "binary/error.h"
#include "binary/go_names.h"
#include "binary/source_paths.h"

namespace deftrace {

Scope Scope::parse(const std::string &spec, const GoBinary &bin) {
    if (spec == "all")
        return all();
    if (spec == "main") {
        Scope s(Kind::MainModule);
        s.module_ = main_module_of(bin);
        return s;
    }
    Scope s(Kind::Regex);
    s.pattern_ = spec;
    try {
        s.regex_ = std::make_shared<const std::regex>(spec, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error &) {
        throw Error(ErrorKind::Usage, "--scope: not a valid regular expression: " + spec);
    }
    return s;
}

bool Scope::contains(std::string_view function) const {
    switch (kind_) {
    case Kind::All: return true;
    case Kind::MainModule: {
        const std::string plain = canonical_function(std::string(function));
        return package_of(plain) == "main" || in_package_tree(plain, module_);
    }
    case Kind::Regex: return std::regex_search(function.begin(), function.end(), *regex_);
    }
    return false;
}

std::string Scope::describe() const {
    switch (kind_) {
    case Kind::All: return "all";
    case Kind::MainModule: return module_.empty() ? "main" : "main module " + module_;
    case Kind::Regex: return "functions matching " + pattern_;
    }
    return {};
}

} // namespace deftrace
