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

} // namespace deftrace
