#include "leaks/leak_tracker.h"

#include <algorithm>
#include <cstdio>

namespace deftrace {

void LeakTracker::acquired(const std::string &resource, uint64_t handle, uint64_t goid, FrameList frames,
                           std::vector<Site> stack, uint64_t seq, int64_t time_us) {
    // A handle reused after its release (the allocator gave the address back) is a new resource;
    // one acquired twice by the same goroutine without release (BeginTx reached through Begin)
    // keeps its first record. Another goroutine's acquisition is a holder of its own: a second
    // reader, or a goroutine that will hold the lock once it is free.
    const auto key = std::make_pair(resource, handle);
    auto [lo, hi] = held_.equal_range(key);
    if (std::any_of(lo, hi, [&](const auto &kv) { return kv.second.goid == goid; }))
        return;
    held_.emplace(
        key, Held{resource, handle, goid, seq, time_us, false, std::move(frames), std::move(stack), std::nullopt, {}});
}

bool LeakTracker::released(const std::string &resource, uint64_t handle, uint64_t goid) {
    auto [lo, hi] = held_.equal_range(std::make_pair(resource, handle));
    if (lo == hi)
        return false;
    auto own = std::find_if(lo, hi, [&](const auto &kv) { return kv.second.goid == goid; });
    if (own == hi) // equal keys keep their insertion order: lo is the oldest holder
        own = lo;
    held_.erase(own);
    return true;
}

void LeakTracker::recovered(uint64_t goid, uint64_t resume_depth, const PanicSummary &panic,
                            const std::string &resume_function) {
    for (auto &[handle, h] : held_) {
        if (h.goid != goid || h.abandoned_by)
            continue;
        // A frame of the acquisition, below the resumed frame, that the panic found on the stack
        // (same depth, same function) and the recovery unwound.
        const bool unwound = std::any_of(h.frames.begin(), h.frames.end(), [&](const auto &f) {
            return f.first > resume_depth &&
                   std::find(panic.frames.begin(), panic.frames.end(), f) != panic.frames.end();
        });
        if (unwound) {
            h.abandoned_by = panic;
            h.abandoned_by->frames.clear();
            h.recovered_in = resume_function;
        }
    }
}

LeakTracker::Leak LeakTracker::leak_of(const Held &h) {
    return Leak{h.resource, h.handle, h.time_us, h.goid, h.stack, h.abandoned_by, h.recovered_in};
}

std::vector<LeakTracker::Leak> LeakTracker::open() const {
    std::vector<const Held *> by_age;
    for (const auto &[handle, h] : held_)
        by_age.push_back(&h);
    std::sort(by_age.begin(), by_age.end(), [](const Held *a, const Held *b) { return a->seq < b->seq; });
    std::vector<Leak> out;
    for (const Held *h : by_age)
        out.push_back(leak_of(*h));
    return out;
}

std::vector<LeakTracker::Leak> LeakTracker::newly_older_than(int64_t now_us, int64_t age_us) {
    std::vector<Held *> crossed;
    for (auto &[handle, h] : held_)
        if (!h.age_reported && now_us - h.time_us >= age_us)
            crossed.push_back(&h);
    std::sort(crossed.begin(), crossed.end(), [](const Held *a, const Held *b) { return a->seq < b->seq; });
    std::vector<Leak> out;
    for (Held *h : crossed) {
        h->age_reported = true;
        out.push_back(leak_of(*h));
    }
    return out;
}

nlohmann::ordered_json LeakTracker::to_json(const Leak &l, std::optional<int64_t> now_us) {
    nlohmann::ordered_json j;
    j["resource"] = l.resource;
    j["state"] = l.abandoned_by ? "abandoned" : now_us ? "open" : "open_at_exit";
    j["goroutine"] = l.goid;
    if (now_us) {
        char hex[24];
        std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(l.handle));
        j["handle"] = hex;
        j["open_for_s"] = static_cast<double>(*now_us - l.acquired_us) / 1e6;
    }
    auto stack = nlohmann::ordered_json::array();
    for (const auto &s : l.stack)
        stack.push_back(s.to_json());
    j["acquired"] = stack;
    if (l.abandoned_by) {
        nlohmann::ordered_json p;
        p["value"] = l.abandoned_by->value;
        p["type"] = l.abandoned_by->type;
        p["site"] = l.abandoned_by->site.to_json();
        p["recovered_in"] = l.recovered_in;
        j["panic"] = p;
    }
    return j;
}

} // namespace deftrace
