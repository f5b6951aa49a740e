#include "binary/site.h"

namespace deftrace {

nlohmann::ordered_json Site::to_json() const {
    return {{"function", function}, {"file", file}, {"line", line}};
}

std::string Site::short_form() const {
    std::string base = file;
    if (auto slash = base.rfind('/'); slash != std::string::npos)
        base = base.substr(slash + 1);
    if (base.empty())
        return function;
    return function + " (" + base + ":" + std::to_string(line) + ")";
}

} // namespace deftrace
