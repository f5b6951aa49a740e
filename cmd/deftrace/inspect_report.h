// Renders `deftrace inspect` results as text (for people) or JSON (for tools; docs/inspect-json.md).
#pragma once

#include "analysis/defer_sites.h"
#include "binary/go_binary.h"

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

namespace deftrace {

nlohmann::ordered_json inspect_json(const GoBinary &bin, const std::vector<FunctionDefers> &funcs);
void inspect_text(std::ostream &os, const GoBinary &bin, const std::vector<FunctionDefers> &funcs);

} // namespace deftrace
