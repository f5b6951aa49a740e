#include "output/leak_links.h"

#include "output/view_text.h"
#include "trace/event.h"

namespace deftrace {

namespace {
using json = nlohmann::ordered_json;

uint64_t goroutine_of(const json &o) {
    return o.contains("goroutine") && o["goroutine"].is_number_unsigned() ? o["goroutine"].get<uint64_t>() : 0;
}
} // namespace

void LeakLinks::event(const json &e, int64_t ts) {
    const std::string kind = str_of(e, "kind");
    if (kind != "acquire" && kind != "release")
        return;
    const std::pair<int64_t, std::string> key{int_of(e, "pid"), str_of(e, "handle")};
    if (kind == "release") {
        open_.erase(key);
        return;
    }
    const json site = e.contains("site") ? e["site"] : json::object();
    open_[key] = Acquisition{
        ts, key.first, goroutine_of(e), str_of(e, "resource"), str_of(site, "function"), int_of(site, "line")};
}

std::optional<int64_t> LeakLinks::began(const json &leak, const ViewClock &clock) {
    if (leak.contains("acquired_time") && leak["acquired_time"].is_string())
        if (auto t = parse_utc_time(leak["acquired_time"].get<std::string>()))
            return clock.of_wall_clock(*t);
    const json site = leak.contains("acquired") && leak["acquired"].is_array() && !leak["acquired"].empty()
                          ? leak["acquired"][0]
                          : json::object();
    for (auto it = open_.begin(); it != open_.end(); ++it) {
        const Acquisition &a = it->second;
        if (a.pid == int_of(leak, "pid") && a.goroutine == goroutine_of(leak) &&
            a.resource == str_of(leak, "resource") && a.function == str_of(site, "function") &&
            a.line == int_of(site, "line")) {
            const int64_t ts = a.ts;
            open_.erase(it);
            return ts;
        }
    }
    return std::nullopt;
}

std::optional<size_t> LeakLinks::abandoned_by(const json &leak, const PanicStories &panics) {
    if (!leak.contains("panic") || !leak["panic"].is_object())
        return std::nullopt;
    const json &p = leak["panic"];
    const auto &stories = panics.stories();
    for (size_t k = stories.size(); k-- > 0;) {
        const PanicStory &s = stories[k];
        if (s.pid != int_of(leak, "pid") || s.goroutine != goroutine_of(leak) ||
            str_of(s.panic, "value") != str_of(p, "value"))
            continue;
        if (p.contains("site") && s.panic.contains("site") &&
            str_of(s.panic["site"], "function") != str_of(p["site"], "function"))
            continue;
        return k;
    }
    return std::nullopt;
}

} // namespace deftrace
