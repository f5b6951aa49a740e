#include "binary/go_names.h"

namespace deftrace {

std::string_view package_of(std::string_view function) {
    const size_t slash = function.rfind('/');
    const size_t dot = function.find('.', slash == std::string_view::npos ? 0 : slash);
    return dot == std::string_view::npos ? function : function.substr(0, dot);
}

std::string canonical_function(const std::string &name) {
    std::string out;
    int depth = 0;
    for (char c : name) {
        if (c == '[') {
            if (depth++ == 0)
                out += "[...]";
        } else if (c == ']' && depth > 0) {
            --depth;
        } else if (depth == 0) {
            out += c;
        }
    }
    return out;
}

bool in_package_tree(std::string_view function, std::string_view pkg) {
    // Type arguments may name packages of their own (go.shape.struct { net/netip.z ... }).
    const std::string plain = canonical_function(std::string(function));
    const std::string_view p = package_of(plain);
    return !pkg.empty() && (p == pkg || (p.size() > pkg.size() && p.starts_with(pkg) && p[pkg.size()] == '/'));
}

bool is_std_function(std::string_view function, std::string_view main_module) {
    // Type arguments may name packages of their own (go.shape.struct { net/netip.z ... }).
    const std::string plain = canonical_function(std::string(function));
    const std::string_view pkg = package_of(plain);
    if (pkg.empty() || pkg == "main")
        return false;
    if (in_package_tree(plain, main_module))
        return false;
    const std::string_view first = pkg.substr(0, pkg.find('/'));
    return first.find('.') == std::string_view::npos;
}

} // namespace deftrace
