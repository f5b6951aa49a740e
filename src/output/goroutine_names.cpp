#include "output/goroutine_names.h"

#include "output/view_text.h"

namespace deftrace {

void GoroutineNames::see(int64_t pid, uint64_t goid, const std::string &function, const std::string &stack_start,
                         const std::string &go_start) {
    if (goid == 0)
        return;
    Name &n = names_[{pid, goid}];
    if (!go_start.empty() && n.rank < 2)
        n = Name{go_start == "runtime.main" ? "main.main" : go_start, 2};
    else if (!stack_start.empty() && n.rank < 1)
        n = Name{stack_start, 1};
    else if (n.function.empty())
        n.function = function;
}

void GoroutineNames::see(const nlohmann::ordered_json &e) {
    const uint64_t goid =
        e.contains("goroutine") && e["goroutine"].is_number_unsigned() ? e["goroutine"].get<uint64_t>() : 0;
    see(int_of(e, "pid"), goid, e.contains("site") ? str_of(e["site"], "function") : "", stack_start(e),
        str_of(e, "go_start"));
}

std::string GoroutineNames::of(int64_t pid, uint64_t goid) const {
    auto it = names_.find({pid, goid});
    return it == names_.end() ? "" : it->second.function;
}

std::string GoroutineNames::stack_start(const nlohmann::ordered_json &e) {
    const std::string kind = str_of(e, "kind");
    if ((kind != "panic" && kind != "repanic") || !e.contains("stack") || !e["stack"].is_array() ||
        e["stack"].empty() || e.contains("stack_truncated"))
        return "";
    return str_of(e["stack"].back(), "function");
}

} // namespace deftrace
