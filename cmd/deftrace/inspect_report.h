// Renders `deftrace inspect` results as text (for people) or JSON (for tools; docs/inspect-json.md).
#pragma once

#include "analysis/defer_sites.h"
#include "binary/go_binary.h"

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace deftrace {

nlohmann::ordered_json inspect_json(const GoBinary &bin, const std::vector<FunctionDefers> &funcs);
// inspect_json() serialised (indent 2). Names and versions come from the binary and need not be
// UTF-8; invalid sequences become U+FFFD instead of failing the whole report.
std::string inspect_json_text(const GoBinary &bin, const std::vector<FunctionDefers> &funcs);
void inspect_text(std::ostream &os, const GoBinary &bin, const std::vector<FunctionDefers> &funcs);

} // namespace deftrace
