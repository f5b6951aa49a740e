// The facts of era B (Go 1.22+): the panic iterator of runtime/panic.go — (*_panic).start,
// nextDefer, deferconvert — and the era's gopanic and preprintpanics. Sources are 1.22's unless
// a later release is named.
#include "analysis/layout_facts.h"
#include "binary/error.h"

namespace deftrace::layout_facts {

using Kind = MemEvent::Kind;

// gp._defer = d.link where d = gp._defer (nextDefer@1.22 with g = getg(); popDefer(gp)@1.23+),
// with d.fn = nil (and, in popDefer, d.link = nil) and popDefer's `if !d.heap { return }`.
void Inference::pop_defer(const WalkResult &w) {
    pop_defer_of(w, w.find(SymKind::Arg, 0));
}

void Inference::pop_defer_of(const WalkResult &w, SymId gp) {
    const std::string D = "runtime._defer";
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Store && e.base == gp && gp != 0 && e.value != 0 && w.sym(e.value).kind == SymKind::Field &&
            w.offset_in(w.sym(e.value).base, gp) == e.offset) {
            found("runtime.g", "_defer", e.offset, 8);
            found(D, "link", w.sym(e.value).n, 8);
            const SymId d = w.sym(e.value).base;
            for (const MemEvent &z : w.mem)
                if (z.kind == Kind::Store && z.base == d && z.size == 8 && w.is(z.value, SymKind::Imm, 0) &&
                    z.offset != need(D, "link"))
                    found(D, "fn", z.offset, 8);
            if (current_ == "runtime.popDefer")
                if (const auto tests = flag_tests(w, d); !tests.empty())
                    found(D, "heap", tests[0], 1);
        }
}

// (p *_panic).nextDefer()@1.22: if !p.deferreturn { ... if p.recovered { mcall(recovery) } };
// p.argp = add(p.startSP, sys.MinFrameSize) (≤1.25; MinFrameSize is 0 on amd64); for
// p.deferBitsPtr != nil { bits := *p.deferBitsPtr ... p.deferBitsPtr = nil ... return
// *(*func())(add(p.slotsPtr, i*goarch.PtrSize)) }; if d := gp._defer; d != nil && d.sp ==
// uintptr(p.sp) { if d.rangefunc {...}; fn := d.fn; d.fn = nil; p.retpc = d.pc; gp._defer =
// d.link ... }.
void Inference::next_defer(const WalkResult &w) {
    const SymId g = w.find(SymKind::G), p = w.find(SymKind::Arg, 0);
    const std::string P = "runtime._panic", D = "runtime._defer";
    pop_defer_of(w, g); // 1.22; popDefer from 1.23
    // d := gp._defer, whichever register holds g there: the word at g._defer compared with p.sp.
    SymId d = 0;
    auto is_defer = [&](SymId v) {
        return v != 0 && w.sym(v).kind == SymKind::Field && w.sym(v).n == need("runtime.g", "_defer");
    };
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Compare && is_defer(e.base) && e.size == 8 && w.offset_in(e.value, p)) {
            found(D, "sp", e.offset, 8);
            found(P, "sp", w.offset_in(e.value, p), 8);
            d = e.base;
        }
    for (auto [a, b] : w.reg_compares)
        for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}})
            if (is_defer(w.sym(x).base) && w.sym(x).kind == SymKind::Field && w.offset_in(y, p)) {
                found(D, "sp", w.sym(x).n, 8);
                found(P, "sp", w.offset_in(y, p), 8);
                d = w.sym(x).base;
            }
    if (const auto tests = flag_tests(w, d); !tests.empty())
        found(D, "rangefunc", tests[0], 1);
    if (const auto tests = flag_tests(w, p); tests.size() == 2) {
        found(P, "deferreturn", tests[0], 1);
        found(P, "recovered", tests[1], 1);
    }
    for (const MemEvent &e : w.mem) {
        if (e.kind == Kind::Store && e.base == p && e.size == 8 && w.offset_in(e.value, d)) {
            found(P, "retpc", e.offset, 8);
            found(D, "pc", w.offset_in(e.value, d), 8);
        }
        if (e.kind == Kind::Store && e.base == p && e.size == 8 && w.offset_in(e.value, p) &&
            bin_.facts().recover_rule == RecoverRule::ArgpMatch) {
            found(P, "argp", e.offset, 8);
            found(P, "startSP", w.offset_in(e.value, p), 8);
        }
        // bits := *p.deferBitsPtr: the field of p read as a pointer to a byte.
        if (e.kind == Kind::Load && e.base == p && e.size == 8 && first(w, Kind::Load, e.value, 1) != nullptr)
            found(P, "deferBitsPtr", e.offset, 8);
        // the closure slot p.slotsPtr[i]
        if (e.kind == Kind::IndexedLoad && w.offset_in(e.base, p))
            found(P, "slotsPtr", w.offset_in(e.base, p), 8);
    }
    // Built with -gcflags=all=-N -l: add(p.slotsPtr, i*goarch.PtrSize) and (≤1.25)
    // p.argp = add(p.startSP, sys.MinFrameSize) are calls.
    for (const CallEvent &c : w.calls) {
        const auto off =
            c.callee == "runtime.add" && !c.reg_args.empty() ? w.offset_in(c.reg_args[0], p) : std::nullopt;
        if (off && off != get(P, "startSP"))
            found(P, "slotsPtr", off, 8);
    }
    if (bin_.facts().recover_rule == RecoverRule::ArgpMatch)
        if (const SymId added = result_of(w, "runtime.add"))
            found(P, "argp", offset_of(first(w, Kind::Store, p, 8, added)), 8);
}

// (p *_panic).start(pc, sp)@1.22: p.startPC = getcallerpc(); p.startSP = getcallersp(); if
// p.deferreturn { p.sp = sp; ... return }; p.link = gp._panic; gp._panic = p; p.lr, p.fp = pc,
// sp (1.27: p.pc, p.sp = pc, sp; fp is set by nextFrame only).
void Inference::panic_start(const WalkResult &w) {
    const SymId g = w.find(SymKind::G), p = w.find(SymKind::Arg, 0);
    const SymId pc = w.find(SymKind::Arg, 1), sp = w.find(SymKind::Arg, 2);
    const std::string P = "runtime._panic";
    found(P, "startPC", offset_of(first(w, Kind::Store, p, 8, w.find(SymKind::ReturnPc))), 8);
    found(P, "startSP", offset_of(first(w, Kind::Store, p, 8, w.find(SymKind::Stack, 8))), 8);
    if (const auto tests = flag_tests(w, p); !tests.empty())
        found(P, "deferreturn", tests[0], 1);
    pushed_onto_g(w, g, p, P, "_panic");
    std::vector<int64_t> from_sp;
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Store && e.base == p && e.size == 8 && e.value == sp && sp != 0 && e.offset != get(P, "sp"))
            from_sp.push_back(e.offset);
    // sp goes to p.sp (deferreturn) and p.fp; where only p.sp takes it (1.27), pc is p.pc. Known
    // once nextDefer has named p.sp: run() reads start again after it.
    if (!get(P, "sp"))
        return;
    const MemEvent *to_pc = first(w, Kind::Store, p, 8, pc);
    if (from_sp.empty()) {
        found(P, "pc", offset_of(to_pc), 8);
    } else {
        found(P, "lr", offset_of(to_pc), 8);
        for (int64_t off : from_sp)
            found(P, "fp", off, 8);
    }
}

// recovery(gp)@1.27: pc, sp, fp := p.retpc, uintptr(p.sp), uintptr(p.fp), where no store of start
// names fp (see panic_start): of the words of p recovery reads (retpc, sp, fp, deferBitsPtr,
// slotsPtr, startSP, startPC, link), the one no other fact named.
void Inference::recovery_fp(const WalkResult &w) {
    const std::string P = "runtime._panic";
    if (get(P, "fp"))
        return;
    const SymId p = w.field(w.find(SymKind::Arg, 0), need("runtime.g", "_panic"));
    std::vector<int64_t> unnamed;
    for (const MemEvent &e : w.mem) {
        if (e.kind != Kind::Load || e.base != p || p == 0 || e.size != 8)
            continue;
        const bool named = std::any_of(fields_.begin(), fields_.end(), [&](const auto &f) {
            return f.first.first == P && f.second.offset == e.offset;
        });
        if (!named && std::find(unnamed.begin(), unnamed.end(), e.offset) == unnamed.end())
            unnamed.push_back(e.offset);
    }
    if (unnamed.size() == 1)
        found(P, "fp", unnamed[0], 8);
}

// deferconvert(d0)@1.22: head := d0.head; ... d0.rangefunc = false; ... for { d = head.Load(); if
// head.CompareAndSwap(d, badDefer()) { break } }.
void Inference::deferconvert(const WalkResult &w) {
    const SymId d0 = w.find(SymKind::Arg, 0);
    for (const MemEvent &e : w.mem)
        if (e.kind == Kind::Cmpxchg && e.offset == 0 && w.offset_in(e.base, d0))
            found("runtime._defer", "head", w.offset_in(e.base, d0), 8);
    for (const CallEvent &c : w.calls) // head.CompareAndSwap as a call (1.22: atomic.casPointer)
        if ((c.callee.ends_with("casPointer") || c.callee.ends_with("CompareAndSwap")) && !c.reg_args.empty())
            found("runtime._defer", "head", w.offset_in(c.reg_args[0], d0), 8);
    found("runtime._defer", "rangefunc", offset_of(first(w, Kind::Store, d0, 1, w.find(SymKind::Imm, 0))), 1);
}

// gopanic(e)@1.22: var p _panic; p.arg = e; ... p.start(getcallerpc(), getcallersp()); 1.26 also
// sets p.gopanicFP = getcallersp().
void Inference::gopanic_b(const WalkResult &w) {
    std::optional<int64_t> p;
    for (const CallEvent &c : w.calls)
        if (c.callee == "runtime.(*_panic).start" && !c.reg_args.empty() && c.reg_args[0] != 0 &&
            w.sym(c.reg_args[0]).kind == SymKind::Stack)
            p = w.sym(c.reg_args[0]).n;
    if (!p)
        return;
    for (const StackStore &st : w.stack_stores) {
        if (st.slot < *p || st.slot >= 0) // not in p: a temporary, or the caller's frame
            continue;
        if (w.is(st.value, SymKind::Arg, 0))
            found("runtime._panic", "arg", st.slot - *p, 16);
        if (w.is(st.value, SymKind::Stack, 8) && bin_.facts().recover_rule == RecoverRule::FrameCountFP)
            found("runtime._panic", "gopanicFP", st.slot - *p, 8);
    }
}

// preprintpanics(p)@1.25+: if p.link != nil && <same value> { p.link.repanicked = true; ... }.
void Inference::preprintpanics(const WalkResult &w) {
    if (!bin_.facts().panic_has_repanicked)
        return;
    const SymId link = w.field(w.find(SymKind::Arg, 0), need("runtime._panic", "link"));
    found("runtime._panic", "repanicked", offset_of(first(w, Kind::Store, link, 1, w.find(SymKind::Imm, 1))), 1);
}

} // namespace deftrace::layout_facts
