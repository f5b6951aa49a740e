// Renders `deftrace inspect` results as text (for people) or JSON (for tools; docs/inspect-json.md).
#pragma once

#include "analysis/defer_sites.h"
#include "binary/go_binary.h"

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace deftrace {

// Where a trace would take the runtime's structure layout from: "dwarf", "table" (`detail`: the
// file), "inferred" (from the runtime's code), or "none" (`detail`: why; the binary cannot be
// traced). Empty `source`: not looked at (the report leaves it out).
struct LayoutReport {
    std::string source, detail;
};

nlohmann::ordered_json inspect_json(const GoBinary &bin, const std::vector<FunctionDefers> &funcs,
                                    const LayoutReport &layout = {});
// inspect_json() serialised (indent 2). Names and versions come from the binary and need not be
// UTF-8; invalid sequences become U+FFFD instead of failing the whole report.
std::string inspect_json_text(const GoBinary &bin, const std::vector<FunctionDefers> &funcs,
                              const LayoutReport &layout = {});
void inspect_text(std::ostream &os, const GoBinary &bin, const std::vector<FunctionDefers> &funcs,
                  const LayoutReport &layout = {});

} // namespace deftrace
