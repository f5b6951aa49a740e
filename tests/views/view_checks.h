// What every view of a trace must satisfy, checked on the view a real or synthetic trace makes
// (unit tests, and every testdata program's trace in trace.go1.NN).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace deftrace::test {

// The problems of a timeline (Trace Event Format, output/timeline.h) made from `trace` (a JSON
// trace document), none when it is right: each event has the fields its phase needs; slices nest
// on each track (no two overlap in part); every flow has both ends; timestamps never go back on a
// track; as many panic slices as the trace has panics and repanics, recover slices as recovers
// that stopped a panic, leak slices as leaks, divergence instants as divergences.
std::vector<std::string> timeline_problems(const nlohmann::ordered_json &timeline, const nlohmann::ordered_json &trace);

// The data of an HTML report (output/report.h), read back from the page: the JSON inside its
// script element "deftrace-data". Discarded JSON when the page has none.
nlohmann::ordered_json report_data(const std::string &page);

// The problems of a report's data made from `trace`: a panic entry per panic, each on a lane of
// its goroutine; as many leaks; the counts of its header equal to the trace's.
std::vector<std::string> report_problems(const nlohmann::ordered_json &data, const nlohmann::ordered_json &trace);

// The problems of a summary (output/summary.h, to_json) of `trace`: its sites' counts add up to
// the trace's defer, defer_call, panic and recover events.
std::vector<std::string> summary_problems(const nlohmann::ordered_json &summary, const nlohmann::ordered_json &trace);

// Makes the three views of the saved trace at `trace_path` (`trace`: the same, parsed) as
// `deftrace timeline|report|summary` make them, in `scratch_dir`, and returns the problems of all
// three.
std::vector<std::string> views_problems(const std::string &trace_path, const nlohmann::ordered_json &trace,
                                        const std::string &scratch_dir);

// Whether the tests that trace programs check their views too: DEFTRACE_VIEW_CHECKS, 1 unless
// set to 0 (the instrumented build, tests/CMakeLists.txt).
bool view_checks_enabled();

// Every problem, one a line, for a failure message.
std::string lines(const std::vector<std::string> &problems);

} // namespace deftrace::test
