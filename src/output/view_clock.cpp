#include "output/view_clock.h"

#include "trace/event.h"

#include <algorithm>
#include <optional>
#include <string>

namespace deftrace {

int64_t ViewClock::at(const nlohmann::ordered_json &e) {
    ++events_;
    auto it = e.find("time");
    const std::optional<int64_t> t =
        it != e.end() && it->is_string() ? parse_utc_time(it->get<std::string>()) : std::nullopt;
    if (t && !timed_) {
        timed_ = true;
        origin_ = *t;
    }
    if (!timed_)
        return last_ = events_;
    return last_ = std::max(last_, t ? *t - origin_ : last_);
}

int64_t ViewClock::of_wall_clock(int64_t time_us) const {
    return timed_ ? std::max<int64_t>(0, time_us - origin_) : 0;
}

} // namespace deftrace
