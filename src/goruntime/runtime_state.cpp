#include "goruntime/runtime_state.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <unordered_set>

namespace deftrace {

namespace {

// One record copied out of the tracee in a single read; fields are then taken from the copy.
class Snapshot {
public:
    Snapshot(const ProcessMemory &mem, Addr base, uint32_t size) : buf_(size) {
        ok_ = size > 0 && size <= 4096 && mem.read(base, buf_);
    }
    [[nodiscard]] bool ok() const { return ok_; }
    [[nodiscard]] std::optional<Addr> addr(std::optional<uint32_t> off) const {
        if (!off || *off + 8 > buf_.size())
            return std::nullopt;
        uint64_t v;
        std::memcpy(&v, buf_.data() + *off, 8);
        return Addr(v);
    }
    [[nodiscard]] bool flag(std::optional<uint32_t> off) const { return off && *off < buf_.size() && buf_[*off] != 0; }

private:
    std::vector<uint8_t> buf_;
    bool ok_ = false;
};

std::optional<Addr> addr_at(const ProcessMemory &mem, Addr base, uint32_t off) {
    auto v = mem.read_u64(base + off);
    return v ? std::optional(Addr(*v)) : std::nullopt;
}

} // namespace

std::optional<uint64_t> RuntimeState::goid(Addr g) const {
    return mem_.read_u64(g + off_.g.goid);
}
std::optional<GHeader> RuntimeState::header(Addr g) const {
    const uint32_t lo = std::min({off_.g.goid, off_.g.stack_lo, off_.g.stack_hi});
    const uint32_t hi = std::max({off_.g.goid, off_.g.stack_lo, off_.g.stack_hi}) + 8;
    uint8_t buf[512];
    if (hi - lo > sizeof buf) { // not expected; read the words one by one
        auto goid = mem_.read_u64(g + off_.g.goid);
        auto bounds = stack_bounds(g);
        if (!goid || !bounds)
            return std::nullopt;
        return GHeader{*goid, bounds->first, bounds->second};
    }
    if (!mem_.read(g + lo, std::span<uint8_t>(buf, hi - lo)))
        return std::nullopt;
    auto word = [&](uint32_t off) {
        uint64_t v;
        std::memcpy(&v, buf + (off - lo), 8);
        return v;
    };
    return GHeader{word(off_.g.goid), Addr(word(off_.g.stack_lo)), Addr(word(off_.g.stack_hi))};
}

std::optional<Addr> RuntimeState::defer_head(Addr g) const {
    return addr_at(mem_, g, off_.g.defer);
}
std::optional<Addr> RuntimeState::panic_head(Addr g) const {
    return addr_at(mem_, g, off_.g.panic);
}
std::optional<Addr> RuntimeState::m_of(Addr g) const {
    return addr_at(mem_, g, off_.g.m);
}
std::optional<Addr> RuntimeState::curg_of(Addr m) const {
    return addr_at(mem_, m, off_.m.curg);
}

std::optional<std::pair<Addr, Addr>> RuntimeState::stack_bounds(Addr g) const {
    auto lo = addr_at(mem_, g, off_.g.stack_lo);
    auto hi = addr_at(mem_, g, off_.g.stack_hi);
    if (!lo || !hi)
        return std::nullopt;
    return std::pair{*lo, *hi};
}

std::optional<uint64_t> RuntimeState::word(Addr g, std::optional<uint32_t> field) const {
    if (!field)
        return std::nullopt;
    return mem_.read_u64(g + *field);
}

std::optional<DeferRecord> RuntimeState::defer_at(Addr d) const {
    const auto &o = off_.defer;
    DeferRecord r;
    r.addr = d;
    // One read per record (its size comes with the layouts); an unreadable record is no record.
    if (Snapshot s(mem_, d, o.size); s.ok()) {
        auto sp = s.addr(o.sp), pc = s.addr(o.pc), fn = s.addr(o.fn), link = s.addr(o.link);
        if (!sp || !pc || !fn || !link)
            return std::nullopt;
        r.sp = *sp;
        r.pc = *pc;
        r.fn = *fn;
        r.link = *link;
        r.heap = s.flag(o.heap);
        r.rangefunc = s.flag(o.rangefunc);
        r.started = s.flag(o.started);
        r.open_defer = s.flag(o.open_defer);
        r.panic = s.addr(o.panic).value_or(Addr());
        r.varp = s.addr(o.varp).value_or(Addr());
        r.fd = s.addr(o.fd).value_or(Addr());
        r.framepc = s.addr(o.framepc).value_or(Addr());
        return r;
    }
    return std::nullopt;
}

Addr RuntimeState::defer_fn(Addr d) const {
    return Addr(mem_.read_u64(d + off_.defer.fn).value_or(0));
}

std::optional<PanicRecord> RuntimeState::panic_at(Addr p) const {
    const auto &o = off_.panic;
    PanicRecord r;
    r.addr = p;
    if (Snapshot s(mem_, p, o.size); s.ok()) {
        auto type = s.addr(o.arg), data = s.addr(o.arg + 8), link = s.addr(o.link);
        if (!type || !data || !link)
            return std::nullopt;
        r.arg_type = *type;
        r.arg_data = *data;
        r.link = *link;
        r.recovered = s.flag(o.recovered);
        r.goexit = s.flag(o.goexit);
        r.aborted = s.flag(o.aborted);
        r.repanicked = s.flag(o.repanicked);
        r.deferreturn = s.flag(o.deferreturn);
        r.argp = s.addr(o.argp);
        r.start_pc = s.addr(o.start_pc);
        r.start_sp = s.addr(o.start_sp);
        r.sp = s.addr(o.sp);
        r.lr = s.addr(o.lr);
        r.pc = s.addr(o.pc);
        r.fp = s.addr(o.fp);
        r.retpc = s.addr(o.retpc);
        r.deferbits_ptr = s.addr(o.deferbits_ptr);
        r.slots_ptr = s.addr(o.slots_ptr);
        r.gopanic_fp = s.addr(o.gopanic_fp);
        return r;
    }
    return std::nullopt;
}

std::vector<DeferRecord> RuntimeState::defers(Addr g, size_t limit) const {
    std::vector<DeferRecord> out;
    std::unordered_set<Addr> seen;
    auto d = defer_head(g);
    while (d && !d->is_null() && out.size() < limit && seen.insert(*d).second) {
        auto r = defer_at(*d);
        if (!r)
            break;
        out.push_back(*r);
        d = r->link;
    }
    return out;
}

std::vector<PanicRecord> RuntimeState::panics(Addr g, size_t limit) const {
    auto p = panic_head(g);
    if (!p)
        return {};
    return panic_chain(*p, limit);
}

std::vector<PanicRecord> RuntimeState::panic_chain(Addr first, size_t limit) const {
    std::vector<PanicRecord> out;
    std::unordered_set<Addr> seen;
    Addr p = first;
    while (!p.is_null() && out.size() < limit && seen.insert(p).second) {
        auto r = panic_at(p);
        if (!r)
            break;
        out.push_back(*r);
        p = r->link;
    }
    return out;
}

PanicHead RuntimeState::top_panic(Addr g) const {
    PanicHead h;
    if (auto head = panic_head(g); head && !head->is_null()) {
        h.addr = *head;
        h.record = panic_at(*head);
    }
    return h;
}

bool RuntimeState::is_repanic(Addr g, uint64_t type_word, uint64_t data_word) const {
    // The new _panic is not linked yet at gopanic's entry (every release): the head is the
    // panic in progress.
    const PanicHead h = top_panic(g);
    return h.record && h.record->recovered && !h.record->goexit && h.record->arg_type.value() == type_word &&
           h.record->arg_data.value() == data_word;
}

std::optional<uint32_t> RuntimeState::status(Addr g) const {
    auto st = mem_.read_u32(g + off_.g.atomicstatus);
    if (!st)
        return std::nullopt;
    return *st & ~0x1000u; // _Gscan
}

std::string RuntimeState::status_name(uint32_t status) {
    // runtime2.go's _G* states, 1.17-1.27.
    static const char *const names[] = {"idle",     "runnable", "running", "syscall",   "waiting",
                                        "moribund", "dead",     "enqueue", "copystack", "preempted"};
    return status < std::size(names) ? names[status] : std::to_string(status);
}

SavedContext RuntimeState::saved_context(Addr g) const {
    return {Addr(mem_.read_u64(g + off_.g.sched_pc).value_or(0)), Addr(mem_.read_u64(g + off_.g.sched_sp).value_or(0))};
}

std::vector<Addr> RuntimeState::all_goroutines(Addr allgs, Addr current) const {
    // runtime.allgs is a []*g: pointer, length, capacity.
    auto ptr = mem_.read_u64(allgs);
    auto len = mem_.read_u64(allgs + 8);
    auto cap = mem_.read_u64(allgs + 16);
    if (!ptr || !len || !cap || *len == 0 || *len > *cap || *len > (1u << 22))
        return {};
    std::vector<Addr> gs;
    for (uint64_t i = 0; i < *len; ++i)
        if (auto g = mem_.read_u64(Addr(*ptr) + i * 8); g && *g)
            gs.emplace_back(*g);
    // The goroutine running must be there; when none is (a throw on a g0 stack), the main
    // goroutine comes first, since runtime.newproc adds runtime.main's goroutine to allgs before
    // any other (proc.go, 1.17-1.27).
    if (!current.is_null() ? std::find(gs.begin(), gs.end(), current) == gs.end()
                           : gs.empty() || goid(gs.front()) != std::optional<uint64_t>(1))
        return {};
    return gs;
}

std::vector<DeferRecord> RuntimeState::rangefunc_list(const DeferRecord &head, size_t limit) const {
    std::vector<DeferRecord> out;
    if (!off_.defer.head)
        return out;
    // deferprocat pushes onto *d.head; deferconvert poisons it with badDefer() (1).
    Addr at(mem_.read_u64(Addr(mem_.read_u64(head.addr + *off_.defer.head).value_or(0))).value_or(0));
    for (size_t n = 0; at.value() > 1 && n < limit; ++n) {
        auto r = defer_at(at);
        if (!r)
            break;
        out.push_back(*r);
        at = r->link;
    }
    return out;
}

bool RuntimeState::rangefunc_points_at(const DeferRecord &head, Addr list_head) const {
    return off_.defer.head && mem_.read_u64(head.addr + *off_.defer.head) == list_head.value();
}

} // namespace deftrace
