// A version-independent, interleaving-independent view of a JSON trace for comparisons: the
// program's own events (those whose site is in the program's source directory, plus panics,
// fatal panics, Goexits and recoveries), one line each, grouped per goroutine. Goroutine 1's
// block comes first; the others are sorted by content and numbered in that order, so neither
// goroutine ids nor the scheduler's interleaving change the view. Sites are file:line (compiler
// generated wrappers are named differently across Go releases; lines are not).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace deftrace::testing {

std::string trace_view(const nlohmann::json &trace, const std::string &src_dir);

} // namespace deftrace::testing
