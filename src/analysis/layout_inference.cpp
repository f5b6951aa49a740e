#include "analysis/layout_inference.h"

#include "analysis/layout_facts.h"
#include "binary/error.h"

#include <algorithm>
#include <map>
#include <memory>

namespace deftrace {

namespace layout_facts {

using Kind = MemEvent::Kind;

const MemEvent *first(const WalkResult &w, Kind kind, SymId base, int size, SymId value) {
    for (const MemEvent &e : w.mem)
        if (e.kind == kind && e.base == base && (size == 0 || e.size == size) && (value == 0 || e.value == value))
            return &e;
    return nullptr;
}

std::optional<int64_t> offset_of(const MemEvent *e) {
    return e != nullptr ? std::optional<int64_t>(e->offset) : std::nullopt;
}

SymId result_of(const WalkResult &w, std::string_view callee) {
    for (SymId id = 1; id < w.syms.size(); ++id)
        if (w.syms[id].kind == SymKind::Result && w.syms[id].callee == callee)
            return id;
    return 0;
}

std::vector<int64_t> flag_tests(const WalkResult &w, SymId base) {
    std::vector<int64_t> out;
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Compare && e.base == base && base != 0 && e.size == 1 && w.is(e.value, SymKind::Imm, 0) &&
            std::find(out.begin(), out.end(), e.offset) == out.end())
            out.push_back(e.offset);
    return out;
}

void Inference::apply(const std::string &fn, void (Inference::*fact)(const WalkResult &)) {
    current_ = fn;
    auto &slot = walks_[fn];
    if (!slot) {
        auto index = bin_.pclntab().find_by_name(fn);
        if (!index)
            return; // left out by the linker: the facts it gives come from other functions
        slot = std::make_unique<WalkResult>(walk_function(bin_, dis_, bin_.pclntab().func(*index), bin_.facts().abi));
    }
    (this->*fact)(*slot);
}

void Inference::found(const std::string &s, const std::string &f, std::optional<int64_t> off, uint64_t size) {
    if (!off)
        return;
    // No runtime structure deftrace reads is larger than a page: code that says otherwise was
    // not what the fact expects (a damaged binary), and is not believed.
    if (*off < 0 || *off >= 4096)
        throw Error(ErrorKind::UnsupportedGo, s + "." + f + ": " + current_ + " says offset " + std::to_string(*off));
    auto [it, added] = fields_.try_emplace({s, f}, Inferred{*off, size, current_});
    if (!added && it->second.offset != *off)
        throw Error(ErrorKind::UnsupportedGo, s + "." + f + ": " + it->second.from + " says offset " +
                                                  std::to_string(it->second.offset) + ", " + current_ + " says " +
                                                  std::to_string(*off));
}

std::optional<int64_t> Inference::get(const std::string &s, const std::string &f) const {
    auto it = fields_.find({s, f});
    return it == fields_.end() ? std::nullopt : std::optional<int64_t>(it->second.offset);
}

int64_t Inference::need(const std::string &s, const std::string &f) const {
    if (auto v = get(s, f))
        return *v;
    throw Error(ErrorKind::UnsupportedGo, s + "." + f + " was not found (needed by " + current_ + ")");
}

// gorecover(argp)@1.17–1.25: p := gp._panic; if p != nil && !p.goexit && !p.recovered &&
// argp == uintptr(p.argp) { p.recovered = true; return p.arg }. (1.26+ gorecover() tests the
// same two flags first and returns p.arg; it has no argp.)
void Inference::gorecover(const WalkResult &w) {
    const SymId g = w.find(SymKind::G), arg0 = w.find(SymKind::Arg, 0), one = w.find(SymKind::Imm, 1);
    const MemEvent *load = first(w, Kind::Load, g, 8);
    found("runtime.g", "_panic", offset_of(load), 8);
    const SymId p = load != nullptr ? load->value : 0;
    const std::vector<int64_t> tests = flag_tests(w, p); // !p.goexit, then !p.recovered
    if (tests.size() >= 2)
        found("runtime._panic", "goexit", tests[0], 1);
    found("runtime._panic", "recovered", offset_of(first(w, Kind::Store, p, 1, one)), 1);
    if (tests.size() >= 2)
        found("runtime._panic", "recovered", tests[1], 1);
    for (auto [a, b] : w.reg_compares)
        for (auto [field, other] : {std::pair{a, b}, std::pair{b, a}})
            if (other == arg0)
                found("runtime._panic", "argp", w.offset_in(field, p), 8);
    found("runtime._panic", "argp", offset_of(first(w, Kind::Compare, p, 8, arg0)), 8);
    for (auto [rax, rbx] : w.returns) {
        auto type = w.offset_in(rax, p), data = w.offset_in(rbx, p);
        if (type && data && *data == *type + 8) {
            found("runtime._panic", "arg", type, 16);
            found("runtime._panic", "arg._type", type, 8);
            found("runtime._panic", "arg.data", data, 8);
        }
    }
}

// deferproc(fn)@1.18–1.21: if gp.m.curg != gp { throw }; d := newdefer(); if d._panic != nil
// { throw }; d.link = gp._defer; gp._defer = d; d.fn = fn; d.pc = getcallerpc(); d.sp =
// getcallersp().
void Inference::deferproc(const WalkResult &w) {
    const SymId g = w.find(SymKind::G);
    const SymId d = result_of(w, "runtime.newdefer");
    const std::string s = "runtime._defer";
    found(s, "_panic", offset_of(first(w, Kind::Compare, d, 8, w.find(SymKind::Imm, 0))), 8);
    pushed_onto_g(w, g, d, s, "_defer");
    for (const MemEvent &e : w.mem) {
        if (e.kind != Kind::Store || e.base != d || e.size != 8)
            continue;
        if (w.is(e.value, SymKind::Arg, 0))
            found(s, "fn", e.offset, 8);
        if (w.is(e.value, SymKind::ReturnPc))
            found(s, "pc", e.offset, 8);
        if (w.is(e.value, SymKind::Stack, 8))
            found(s, "sp", e.offset, 8);
    }
}

// x.link = gp.<list>; gp.<list> = x: `x` of structure `s` pushed onto the list g keeps in field
// `list` (deferproc's _defer on g._defer, (*_panic).start's _panic on g._panic).
void Inference::pushed_onto_g(const WalkResult &w, SymId g, SymId x, const std::string &s, const std::string &list) {
    found("runtime.g", list, offset_of(first(w, Kind::Store, g, 8, x)), 8);
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Store && e.base == x && x != 0 && e.size == 8)
            if (auto from_g = w.offset_in(e.value, g)) {
                found(s, "link", e.offset, 8);
                found("runtime.g", list, from_g, 8);
            }
}

// deferproc and gopanic@1.18+ both begin with `if gp.m.curg != gp { throw }`.
void Inference::curg_check(const WalkResult &w) {
    const SymId g = w.find(SymKind::G);
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Compare && e.value == g && w.offset_in(e.base, g)) {
            found("runtime.g", "m", w.offset_in(e.base, g), 8);
            found("runtime.m", "curg", e.offset, 8);
        }
}

// printpanics(p)@1.18–1.24: if p.link != nil { printpanics(p.link); if !p.link.goexit {...} }; if
// p.goexit { return }; print("panic: "); printpanicval(p.arg); if p.recovered {...}. From 1.25
// it returns first when p.link.repanicked, and tests p.repanicked beside p.recovered (1.25:
// repanicked, then recovered; 1.26+: recovered && repanicked). Every binary has it (fatalpanic).
void Inference::printpanics(const WalkResult &w) {
    const SymId p = w.find(SymKind::Arg, 0);
    const std::string s = "runtime._panic";
    for (const CallEvent &c : w.calls) {
        if (c.callee == "runtime.printpanics" && !c.reg_args.empty())
            found(s, "link", w.offset_in(c.reg_args[0], p), 8);
        auto type = c.reg_args.size() >= 2 ? w.offset_in(c.reg_args[0], p) : std::nullopt;
        auto data = c.reg_args.size() >= 2 ? w.offset_in(c.reg_args[1], p) : std::nullopt;
        if (type && data && *data == *type + 8)
            found(s, "arg", type, 16);
    }
    const std::vector<int64_t> own = flag_tests(w, p), of_link = flag_tests(w, w.field(p, need(s, "link")));
    const bool repanics = bin_.facts().panic_has_repanicked;
    if (own.size() != (repanics ? 3u : 2u) || of_link.size() != (repanics ? 2u : 1u))
        return;
    found(s, "goexit", own[0], 1);
    found(s, "goexit", of_link.back(), 1);
    if (repanics)
        found(s, "repanicked", of_link[0], 1);
    for (size_t i = 1; i < own.size(); ++i)
        if (own[i] != get(s, "repanicked"))
            found(s, "recovered", own[i], 1);
}

// mcall(fn) (asm_amd64.s): saves the caller's PC and SP in g.sched, then compares g with
// g.m.g0 (badmcall).
void Inference::mcall(const WalkResult &w) {
    const SymId g = w.find(SymKind::G);
    found("runtime.g", "sched.pc", offset_of(first(w, Kind::Store, g, 8, w.find(SymKind::ReturnPc))), 8);
    found("runtime.g", "sched.sp", offset_of(first(w, Kind::Store, g, 8, w.find(SymKind::Stack, 8))), 8);
    const SymId m = w.field(g, need("runtime.g", "m"));
    for (auto [a, b] : w.reg_compares)
        for (auto [field, other] : {std::pair{a, b}, std::pair{b, a}})
            if (other == g)
                found("runtime.m", "g0", w.offset_in(field, m), 8);
}

// deferreturn()@1.18–1.21: d := gp._defer; if d.sp != getcallersp() { return }; if
// d.openDefer {...}; fn := d.fn; d.fn = nil; gp._defer = d.link. Every binary has it (the
// compiler calls it at the end of every function with open-coded defers, runtime.main's included).
void Inference::deferreturn(const WalkResult &w) {
    const SymId g = w.find(SymKind::G);
    const std::string s = "runtime._defer";
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Compare && e.size == 8 && w.is(e.value, SymKind::Stack, 8) && w.offset_in(e.base, g)) {
            found("runtime.g", "_defer", w.offset_in(e.base, g), 8);
            found(s, "sp", e.offset, 8);
        }
    const SymId d = w.field(g, need("runtime.g", "_defer"));
    found(s, "openDefer", offset_of(first(w, Kind::Compare, d, 1, w.find(SymKind::Imm, 0))), 1);
    found(s, "fn", offset_of(first(w, Kind::Store, d, 8, w.find(SymKind::Imm, 0))), 8);
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Store && e.base == g && e.offset == need("runtime.g", "_defer"))
            found(s, "link", w.offset_in(e.value, d), 8);
}

// newdefer()@1.18–1.21: d = new(_defer) when the pools are empty, then d.heap = true; return d.
// The size of _defer is the size word of the type descriptor passed to newobject.
void Inference::newdefer(const WalkResult &w) {
    for (auto [rax, rbx] : w.returns)
        found("runtime._defer", "heap", offset_of(first(w, Kind::Store, rax, 1, w.find(SymKind::Imm, 1))), 1);
    for (const CallEvent &c : w.calls)
        if (c.callee == "runtime.newobject" && !c.reg_args.empty() && w.sym(c.reg_args[0]).kind == SymKind::Static)
            if (auto bytes = bin_.elf().bytes_at(LinkAddr(static_cast<uint64_t>(w.sym(c.reg_args[0]).n)), 8))
                defer_size_ = ByteReader(*bytes, "the _defer type descriptor").u64(0);
}

// gopanic(e)@1.18–1.21: var p _panic; p.arg = e; p.link = gp._panic; gp._panic = &p; ... for
// { d := gp._defer; if d.started { if d._panic != nil { d._panic.aborted = true } ... }
// d.started = true; d._panic = &p ...
void Inference::gopanic(const WalkResult &w) {
    const SymId g = w.find(SymKind::G), one = w.find(SymKind::Imm, 1);
    const SymId d = w.field(g, need("runtime.g", "_defer"));
    found("runtime._defer", "started", offset_of(first(w, Kind::Compare, d, 1, w.find(SymKind::Imm, 0))), 1);
    found("runtime._defer", "started", offset_of(first(w, Kind::Store, d, 1, one)), 1);
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Store && e.size == 1 && e.value == one && w.offset_in(e.base, d)) {
            found("runtime._defer", "_panic", w.offset_in(e.base, d), 8);
            found("runtime._panic", "aborted", e.offset, 1);
        }
    // After a recovery: pc := d.pc; sp := d.sp ... gp.sigcode0 = uintptr(sp); gp.sigcode1 = pc.
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Store && e.base == g && e.offset == need("runtime.g", "sigcode1"))
            for (const MemEvent &f : w.mem)
                if (f.kind == Kind::Store && f.base == g && f.offset == need("runtime.g", "sigcode0") && e.value != 0 &&
                    f.value != 0 && w.sym(e.value).base == w.sym(f.value).base &&
                    w.offset_in(f.value, w.sym(f.value).base) == need("runtime._defer", "sp"))
                    found("runtime._defer", "pc", w.offset_in(e.value, w.sym(e.value).base), 8);
    const MemEvent *set = nullptr; // gp._panic = &p: the only address on the stack gopanic stores in g
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Store && e.base == g && w.sym(e.value).kind == SymKind::Stack) {
            found("runtime.g", "_panic", e.offset, 8);
            set = &e;
        }
    if (set == nullptr)
        return;
    const int64_t p = w.sym(set->value).n;
    const SymId old = w.field(g, need("runtime.g", "_panic"));
    for (const StackStore &st : w.stack_stores) {
        // Not p: the caller's frame (gopanic spilling its own arguments) or a temporary below p.
        if (st.slot >= 0 || st.slot < p)
            continue;
        if (st.value == old && old != 0)
            found("runtime._panic", "link", st.slot - p, 8);
        if (w.is(st.value, SymKind::Arg, 0))
            found("runtime._panic", "arg", st.slot - p, 16);
    }
}

// deferCallSave(p, fn)@1.17–1.21 (reflectcallSave(p, fn, arg, argsize)@1.14–1.16): if p != nil
// { p.argp = getargp(); p.pc = getcallerpc(); p.sp = getcallersp() }.
void Inference::defer_call_save(const WalkResult &w) {
    const SymId p = w.find(SymKind::Arg, 0);
    const std::string s = "runtime._panic";
    found(s, "argp", offset_of(first(w, Kind::Store, p, 8, result_of(w, "runtime.getargp"))), 8);
    found(s, "pc", offset_of(first(w, Kind::Store, p, 8, w.find(SymKind::ReturnPc))), 8);
    found(s, "sp", offset_of(first(w, Kind::Store, p, 8, w.find(SymKind::Stack, 8))), 8);
}

// runOpenDeferFrame(d)@1.20–1.21 ((gp, d)@1.18–1.19): fd := d.fd (read first), then deferBits at
// d.varp - deferBitsOffset.
void Inference::run_open_defer_frame(const WalkResult &w) {
    const SymId a0 = w.find(SymKind::Arg, 0), a1 = w.find(SymKind::Arg, 1);
    SymId d = 0;
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Load && (e.base == a0 || e.base == a1) && d == 0) {
            d = e.base;
            found("runtime._defer", "fd", e.offset, 8);
        }
    for (SymId v : w.subtracted_from)
        if (auto off = w.offset_in(v, d)) {
            found("runtime._defer", "varp", off, 8);
            break;
        }
}

// addOneOpenDeferFrame(gp, pc, sp)@1.18–1.19 ((pc, sp)@1.20–1.21), with sp == nil: pc =
// gp._defer.framepc, sp = gp._defer.sp.
void Inference::add_one_open_defer_frame(const WalkResult &w) {
    const int64_t defer_at = need("runtime.g", "_defer"), sp = need("runtime._defer", "sp");
    for (SymId gp : {w.find(SymKind::G), w.find(SymKind::Arg, 0)})
        if (SymId d = w.field(gp, defer_at))
            for (const MemEvent &e : w.mem)
                if (e.kind == Kind::Load && e.base == d && e.size == 8 && e.offset != sp)
                    found("runtime._defer", "framepc", e.offset, 8);
}

// recovery(gp)@1.18–1.21: sp := gp.sigcode0; pc := gp.sigcode1; if sp != 0 && (sp < gp.stack.lo
// || gp.stack.hi < sp) { throw }; gp.sched.sp = sp; gp.sched.pc = pc. From 1.22 sp and pc come
// from gp._panic (p.sp, p.retpc), with the same check against the stack bounds.
void Inference::recovery(const WalkResult &w) {
    const SymId gp = w.find(SymKind::Arg, 0);
    SymId sp = 0;
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Store && e.base == gp) {
            if (e.offset == need("runtime.g", "sched.sp") && sp == 0) {
                sp = e.value;
                if (bin_.facts().era == Era::A)
                    found("runtime.g", "sigcode0", w.offset_in(e.value, gp), 8);
            }
            if (e.offset == need("runtime.g", "sched.pc") && bin_.facts().era == Era::A)
                found("runtime.g", "sigcode1", w.offset_in(e.value, gp), 8);
        }
    std::vector<int64_t> bounds;
    for (auto [a, b] : w.reg_compares)
        for (auto [field, other] : {std::pair{a, b}, std::pair{b, a}})
            if (other == sp && sp != 0)
                if (auto off = w.offset_in(field, gp))
                    bounds.push_back(*off);
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Compare && e.base == gp && e.value == sp && sp != 0)
            bounds.push_back(e.offset);
    if (bounds.size() == 2) {
        found("runtime.g", "stack.lo", std::min(bounds[0], bounds[1]), 8);
        found("runtime.g", "stack.hi", std::max(bounds[0], bounds[1]), 8);
    }
}

// sigpanic()@1.18+: case _SIGBUS: if gp.sigcode0 == _BUS_ADRERR (2) && gp.sigcode1 < 0x1000
// { panicmem() }. Every binary has it.
void Inference::sigpanic(const WalkResult &w) {
    const SymId g = w.find(SymKind::G), two = w.find(SymKind::Imm, 2), page = w.find(SymKind::Imm, 0x1000);
    auto compared_with = [&](SymId imm) -> std::optional<int64_t> {
        if (imm == 0)
            return std::nullopt;
        if (const MemEvent *e = first(w, Kind::Compare, g, 8, imm))
            return e->offset;
        for (auto [a, b] : w.reg_compares)
            if (b == imm && w.offset_in(a, g))
                return w.offset_in(a, g);
        return std::nullopt;
    };
    found("runtime.g", "sigcode0", compared_with(two), 8);
    found("runtime.g", "sigcode1", compared_with(page), 8);
}

// freedefer(d)@1.18+: d.link = nil; ... if !d.heap { return }: its only byte test. ≤1.17 then
// `sc := deferclass(uintptr(d.siz))`: its only 4-byte load from d.
void Inference::freedefer(const WalkResult &w) {
    const SymId d = w.find(SymKind::Arg, 0);
    const std::vector<int64_t> tests = flag_tests(w, d);
    if (tests.size() == 1)
        found("runtime._defer", "heap", tests[0], 1);
    if (bin_.facts().deferproc_has_siz && d != 0)
        found("runtime._defer", "siz", offset_of(first(w, Kind::Load, d, 4)), 4);
}

// casgstatus(gp, old, new): the compare-and-swap of gp.atomicstatus.
void Inference::casgstatus(const WalkResult &w) {
    const SymId gp = w.find(SymKind::Arg, 0);
    found("runtime.g", "atomicstatus", offset_of(first(w, Kind::Cmpxchg, gp, 4)), 4);
    // Built with -gcflags=all=-N -l, the atomic is a call: gp.atomicstatus.CompareAndSwap(...).
    for (const CallEvent &c : w.calls)
        if (c.callee.ends_with("(*Uint32).CompareAndSwap") && !c.reg_args.empty() && c.reg_args[0] != 0 &&
            w.sym(c.reg_args[0]).kind == SymKind::Address && w.sym(c.reg_args[0]).base == gp)
            found("runtime.g", "atomicstatus", w.sym(c.reg_args[0]).n, 4);
}

// goroutineheader(gp): gpstatus := readgstatus(gp) (its first 4-byte load), then print("goroutine
// ", gp.goid, ...).
void Inference::goroutine_header(const WalkResult &w) {
    const SymId gp = w.find(SymKind::Arg, 0);
    found("runtime.g", "atomicstatus", offset_of(first(w, Kind::Load, gp, 4)), 4);
    for (const CallEvent &c : w.calls)
        if ((c.callee == "runtime.printint" || c.callee == "runtime.printuint") && !c.reg_args.empty())
            if (auto off = w.offset_in(c.reg_args[0], gp)) {
                found("runtime.g", "goid", off, 8);
                break;
            }
}

// newproc1(fn, callergp, callerpc)@1.18+ (newproc1(fn, argp, narg, callergp, callerpc)@≤1.17):
// newg.gopc = callerpc; newg.startpc = fn.fn. The argument stored into the same object as fn's
// code word is callerpc (callergp and argp are never stored there). gostartcallfn, inlined, also
// stores fn.fn into newg.sched.pc: startpc is the one declared after gopc (ancestors between).
void Inference::newproc1(const WalkResult &w) {
    const SymId fn = w.find(SymKind::Arg, 0);
    for (int i = 1; i <= 5; ++i) {
        const SymId callerpc = w.find(SymKind::Arg, i);
        for (const MemEvent &e : w.mem) {
            if (e.kind != Kind::Store || e.size != 8 || e.value != callerpc || callerpc == 0)
                continue;
            std::optional<int64_t> startpc;
            for (const MemEvent &f : w.mem)
                if (f.kind == Kind::Store && f.base == e.base && f.value != 0 && w.offset_in(f.value, fn) == 0 &&
                    f.offset > e.offset && (!startpc || f.offset < *startpc))
                    startpc = f.offset;
            if (startpc) {
                found("runtime.g", "gopc", e.offset, 8);
                found("runtime.g", "startpc", startpc, 8);
            }
        }
    }
}

std::map<std::string, std::vector<std::string>> Inference::needed() const {
    const GoRelease &r = bin_.facts();
    std::map<std::string, std::vector<std::string>> out = {
        {"runtime.g",
         {"stack.lo", "stack.hi", "_panic", "_defer", "m", "sched.sp", "sched.pc", "atomicstatus", "goid", "sigcode0",
          "sigcode1", "gopc", "startpc"}},
        {"runtime.m", {"g0", "curg"}},
    };
    if (r.era == Era::A) {
        out["runtime._defer"] = {"started", "heap", "openDefer", "sp",   "pc",     "fn",
                                 "_panic",  "link", "fd",        "varp", "framepc"};
        out["runtime._panic"] = {"argp", "arg", "link", "pc", "sp", "recovered", "aborted", "goexit"};
        return out;
    }
    out["runtime._defer"] = {"heap", "rangefunc", "sp", "pc", "fn", "link", "head"};
    auto &p = out["runtime._panic"];
    p = {"arg",   "link",      "startPC", "startSP",     "sp",           "fp",
         "retpc", "recovered", "goexit",  "deferreturn", "deferBitsPtr", "slotsPtr"};
    p.push_back(r.skips_older_panic_frames ? "pc" : "lr"); // 1.27 renamed lr to pc
    if (r.recover_rule == RecoverRule::ArgpMatch)
        p.push_back("argp");
    if (r.recover_rule == RecoverRule::FrameCountFP)
        p.push_back("gopanicFP");
    if (r.panic_has_repanicked)
        p.push_back("repanicked");
    return out;
}

StructLayouts Inference::assemble() const {
    StructLayouts out;
    for (const auto &[s, fields] : needed()) {
        StructLayout layout;
        for (const auto &f : fields)
            if (!get(s, f))
                throw Error(ErrorKind::UnsupportedGo, s + "." + f + " was not found in the runtime's code");
        for (const auto &[key, v] : fields_)
            if (key.first == s) {
                layout.fields.push_back({key.second, static_cast<uint64_t>(v.offset), v.size});
                layout.size = std::max(layout.size, (static_cast<uint64_t>(v.offset) + v.size + 7) / 8 * 8);
            }
        // _defer's size is its type's (newdefer allocates it); _panic is read whole and is as long
        // as its last field reaches. g and m are read field by field: their size is not needed
        // and not inferred (0).
        if (s == "runtime.g" || s == "runtime.m")
            layout.size = 0;
        if (s == "runtime._defer" && defer_size_) {
            if (*defer_size_ < layout.size || *defer_size_ > 4096)
                throw Error(ErrorKind::UnsupportedGo, "runtime._defer: newdefer allocates " +
                                                          std::to_string(*defer_size_) +
                                                          " bytes, fewer than its fields span");
            layout.size = *defer_size_;
        }
        out.add(s, std::move(layout));
    }
    return out;
}

StructLayouts Inference::run() {
    apply("runtime.gopanic", &Inference::curg_check);
    apply("runtime.deferproc", &Inference::curg_check);
    apply("runtime.mcall", &Inference::mcall);
    apply("runtime.sigpanic", &Inference::sigpanic);
    if (bin_.facts().era == Era::A) {
        apply("runtime.deferreturn", &Inference::deferreturn);
        apply("runtime.recovery", &Inference::recovery);
        apply("runtime.gopanic", &Inference::gopanic);
        apply("runtime.printpanics", &Inference::printpanics);
        apply("runtime.gorecover", &Inference::gorecover);
        apply("runtime.deferproc", &Inference::deferproc);
        apply("runtime.deferCallSave", &Inference::defer_call_save);
        apply("runtime.reflectcallSave", &Inference::defer_call_save);
        apply("runtime.runOpenDeferFrame", &Inference::run_open_defer_frame);
        apply("runtime.addOneOpenDeferFrame", &Inference::add_one_open_defer_frame);
    } else {
        // start is read again once nextDefer has named p.sp (see panic_start).
        apply("runtime.(*_panic).start", &Inference::panic_start);
        apply("runtime.popDefer", &Inference::pop_defer);
        apply("runtime.(*_panic).nextDefer", &Inference::next_defer);
        apply("runtime.(*_panic).start", &Inference::panic_start);
        apply("runtime.deferconvert", &Inference::deferconvert);
        apply("runtime.recovery", &Inference::recovery);
        apply("runtime.recovery", &Inference::recovery_fp);
        apply("runtime.gopanic", &Inference::gopanic_b);
        apply("runtime.preprintpanics", &Inference::preprintpanics);
        apply("runtime.printpanics", &Inference::printpanics);
        apply("runtime.gorecover", &Inference::gorecover);
    }
    apply("runtime.newdefer", &Inference::newdefer);
    apply("runtime.freedefer", &Inference::freedefer);
    apply("runtime.casgstatus", &Inference::casgstatus);
    apply("runtime.goroutineheader", &Inference::goroutine_header);
    apply("runtime.newproc1", &Inference::newproc1);
    StructLayouts out = assemble();
    out.set_source("inferred");
    out.set_go_version(bin_.version().text);
    return out;
}

} // namespace layout_facts

StructLayouts infer_runtime_layouts(const GoBinary &bin, const Disassembler &dis) {
    try {
        return layout_facts::Inference(bin, dis).run();
    } catch (const Error &e) {
        throw Error(ErrorKind::UnsupportedGo,
                    std::string("the runtime's layout could not be inferred from its code: ") + e.what());
    }
}

} // namespace deftrace
