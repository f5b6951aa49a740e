// What the views of a trace call its goroutines: the function each started in. The tracer says it
// on a goroutine's first event (go_start: g.startpc's function; runtime.main is called main.main
// here, the function the program wrote). A trace without it (older, or normalized) is read as far
// as it shows: a panic's stack, when it is whole, ends with that function (the outermost frame
// outside the runtime); a goroutine that never panicked is named by the first function seen on
// it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace deftrace {

class GoroutineNames {
public:
    // An event of goroutine `goid` of process `pid` (0: the program) at a site of `function`;
    // `stack_start`: a panic's outermost frame when its stack is whole ("" otherwise); `go_start`:
    // the event's go_start ("" when it has none).
    void see(int64_t pid, uint64_t goid, const std::string &function, const std::string &stack_start,
             const std::string &go_start);
    // The same from an event's JSON form.
    void see(const nlohmann::ordered_json &e);
    // "" for a goroutine not seen.
    [[nodiscard]] std::string of(int64_t pid, uint64_t goid) const;

    // A panic event's outermost frame when its stack is whole, "" otherwise.
    static std::string stack_start(const nlohmann::ordered_json &e);

private:
    struct Name {
        std::string function;
        int rank = 0; // 0: the first function seen, 1: a panic's stack, 2: go_start
    };
    std::map<std::pair<int64_t, uint64_t>, Name> names_;
};

} // namespace deftrace
