// The panics in progress on each goroutine, oldest first, as the tracer saw them start: what a
// recovery ends. A recovery that resumes above a panic's gopanic frame ends it: the recovered
// panic, and any older one not recovered, which was aborted (its deferred call panicked, and
// that panic's recovery unwound the frames the older one was unwinding). Depths are
// g.stack.hi - SP, which survive the runtime moving the stack.
#pragma once

#include "trace/event.h"

#include <optional>
#include <unordered_map>
#include <vector>

namespace deftrace {

class PanicBook {
public:
    struct Panic {
        uint64_t depth = 0; // g.stack.hi - SP at gopanic's entry
        PanicValue value;
        Site site;
        bool recovered = false;
    };

    void started(uint64_t goid, Panic p) { by_goroutine_[goid].push_back(std::move(p)); }
    // recover() stopped the newest panic of the goroutine.
    void recovered(uint64_t goid);

    struct Resumed {
        std::optional<PanicValue> by; // the value of the newest recovered panic that ended
        std::vector<Panic> aborted;
        uint32_t ended = 0; // the panics it ended: the recovered ones and the aborted ones
    };
    // Execution resumes in the frame at `depth`: the panics started below it are over.
    Resumed resumed(uint64_t goid, uint64_t depth);
    void clear() { by_goroutine_.clear(); }
    [[nodiscard]] bool empty() const { return by_goroutine_.empty(); }

private:
    std::unordered_map<uint64_t, std::vector<Panic>> by_goroutine_;
};

} // namespace deftrace
