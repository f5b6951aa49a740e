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
        MainModule m = find_main_module(bin);
        s.module_ = std::move(m.path);
        s.inferred_ = m.inferred;
        return s;
    }
    Scope s(Kind::Regex);
    s.pattern_ = NamePattern::compile(spec, "--scope"); // a bad expression fails here
    return s;
}

bool Scope::contains(std::string_view function) const {
    switch (kind_) {
    case Kind::All: return true;
    case Kind::MainModule: {
        const std::string plain = canonical_function(std::string(function));
        return package_of(plain) == "main" || in_package_tree(plain, module_);
    }
    case Kind::Regex: return pattern_->search(function);
    }
    return false;
}

std::string Scope::describe() const {
    switch (kind_) {
    case Kind::All: return "all";
    case Kind::MainModule:
        return module_.empty() ? "main"
                               : "main module " + module_ + (inferred_ ? " (inferred: no module information)" : "");
    case Kind::Regex: return "functions matching " + pattern_->text();
    }
    return {};
}

} // namespace deftrace
