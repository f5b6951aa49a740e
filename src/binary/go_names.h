// Go's qualified function names as the pclntab spells them: "net/http.(*conn).serve",
// "main.f[go.shape.int]", "github.com/x/y.T.m-fm".
#pragma once

#include <string>
#include <string_view>

namespace deftrace {

// The package path of a qualified function name: "net/http.(*conn).serve" -> "net/http".
std::string_view package_of(std::string_view function);

// Instantiations of generic functions are named by their shape, which releases spell
// differently (main.f[...] in 1.19, main.f[go.shape.int] later): keep only that it is generic.
std::string canonical_function(const std::string &name);

// Whether `function` belongs to package `pkg` or to a package below it (pkg "a/b": a/b, a/b/c).
bool in_package_tree(std::string_view function, std::string_view pkg);

// Whether a function belongs to the standard library, given the main module's path: its package
// path's first element has no dot (as for `go list std`) and it is neither package main nor in
// the main module.
bool is_std_function(std::string_view function, std::string_view main_module);

} // namespace deftrace
