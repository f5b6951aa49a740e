// A trace that is the same from run to run and machine to machine, for comparison in CI.
//
// The raw trace (deftrace --json) carries what a person debugging one run wants: sequence numbers
// in the order events happened, the runtime's goroutine ids, absolute file paths, the names of
// compiler-generated wrappers. normalize_trace() keeps the program's story and drops the rest:
//   - events grouped per goroutine, each goroutine's own order kept (the interleaving of
//     concurrent goroutines depends on scheduling);
//   - goroutines renumbered 1..N: the main goroutine first, then the others ordered by their
//     histories (goroutine ids and the order in which racing goroutines first appear are not
//     stable);
//   - file paths relative to the main module ($GOROOT/... for the standard library);
//   - no sequence numbers, open-coded bit numbers, wrapper names or hexadecimal addresses;
//   - the standard library's own defers and its recover() calls that stop nothing are left out:
//     they differ between Go releases and some depend on scheduling (sync.Pool's per-P set-up).
#pragma once

#include <nlohmann/json.hpp>

namespace deftrace {

// Normalizes a raw trace; a trace that is already normalized is returned unchanged.
nlohmann::ordered_json normalize_trace(const nlohmann::ordered_json &trace);

// Whether a function belongs to the standard library, given the main module's path: its package
// path's first element has no dot (as for `go list std`) and it is neither package main nor in
// the main module.
bool is_std_function(std::string_view function, std::string_view main_module);

} // namespace deftrace
