#include "trace/panic_book.h"

namespace deftrace {

void PanicBook::recovered(uint64_t goid) {
    if (auto it = by_goroutine_.find(goid); it != by_goroutine_.end() && !it->second.empty())
        it->second.back().recovered = true;
}

PanicBook::Resumed PanicBook::resumed(uint64_t goid, uint64_t depth) {
    Resumed out;
    auto it = by_goroutine_.find(goid);
    if (it == by_goroutine_.end())
        return out;
    auto &list = it->second;
    for (auto p = list.rbegin(); p != list.rend() && !out.by; ++p)
        if (p->recovered && p->depth > depth)
            out.by = p->value;
    for (auto p = list.begin(); p != list.end();) {
        if (p->depth <= depth) {
            ++p;
            continue;
        }
        if (!p->recovered)
            out.aborted.push_back(std::move(*p));
        ++out.ended;
        p = list.erase(p);
    }
    if (list.empty())
        by_goroutine_.erase(it);
    return out;
}

} // namespace deftrace
