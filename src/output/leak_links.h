// Where each leak of a trace's "leaks" begins on a view's clock, and which panic abandoned it,
// for the views that draw leaks (timeline, report). A leak at the end of a run has no time of its
// own: it began at the acquire event still unreleased with its goroutine, resource and site. A
// leak of a report made attached has its "acquired_time". Its "panic" names the panic that
// abandoned it by value and site: the last such panic of its goroutine.
#pragma once

#include "output/panic_stories.h"
#include "output/view_clock.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace deftrace {

class LeakLinks {
public:
    // Each event of the trace, at its time on the view's clock.
    void event(const nlohmann::ordered_json &e, int64_t ts);
    // When `leak` began (each acquire event answers one leak); nullopt when the trace does not say.
    [[nodiscard]] std::optional<int64_t> began(const nlohmann::ordered_json &leak, const ViewClock &clock);
    // The index in stories() of the panic that abandoned `leak`.
    [[nodiscard]] static std::optional<size_t> abandoned_by(const nlohmann::ordered_json &leak,
                                                            const PanicStories &panics);

private:
    struct Acquisition {
        int64_t ts = 0;
        int64_t pid = 0;
        uint64_t goroutine = 0;
        std::string resource, function;
        int64_t line = 0;
    };
    std::map<std::pair<int64_t, std::string>, Acquisition> open_; // by pid and handle
};

} // namespace deftrace
