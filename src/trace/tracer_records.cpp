// Probes that record instead of stopping (arch/record_stub.h): which probes can, what each record
// captures, and how a record becomes the same events and observations a stop at that probe makes.
//
// A record is taken only by a goroutine with no panic in progress, so everything its events need
// is in hand when it is taken: the goroutine (g, goid, g.stack.hi for frame depths, g.m for the
// thread, g.startpc), the stack pointer, and per probe the registers and words its handler reads —
// a funcval with its code word and three words of what it captured (a wrapper's call target is
// read from those). Records are read in the order of their sequence numbers, before each stop is
// handled and whenever deftrace is between stops, so a stop finds everything that came before it
// already told.
#include "trace/tracer.h"

#include "trace/validator.h"

#include <algorithm>

namespace deftrace {

namespace {

// Every record starts with these words.
enum : size_t { kG, kSp, kGoid, kStackHi, kM, kStartpc, kCommonWords };

// The word at `c` + `d`, where `c` is a pointer captured; nullopt past two loads.
std::optional<Capture> deref(Capture c, int32_t d) {
    switch (c.kind) {
    case Capture::Kind::Reg:
        c.kind = Capture::Kind::Mem;
        c.off += d;
        return c;
    case Capture::Kind::Mem:
        c.kind = Capture::Kind::MemMem;
        c.off2 = d;
        return c;
    case Capture::Kind::MemMem: break;
    }
    return std::nullopt;
}

// A funcval and the four words a deferred_fn may read of it: Capture `fv`, then its words at 0..24.
// False when they would take more loads than a capture makes.
bool add_funcval(std::vector<Capture> &out, const Capture &fv) {
    out.push_back(fv);
    for (int32_t off = 0; off < 32; off += 8) {
        auto w = deref(fv, off);
        if (!w)
            return false;
        out.push_back(*w);
    }
    return true;
}

// What each register holds after `emulate` (an early site's register loads, trace/probe_plan.h),
// as captures of the registers before them; nullopt for a load a capture cannot express.
std::optional<std::unordered_map<Gpr, Capture>> symbolic_loads(const std::vector<Instruction> &emulate) {
    std::unordered_map<Gpr, Capture> sym;
    auto value_of = [&](Gpr r) {
        auto it = sym.find(r);
        return it != sym.end() ? it->second : Capture{Capture::Kind::Reg, r};
    };
    for (const Instruction &in : emulate) {
        if (in.op != Op::Mov && in.op != Op::Lea)
            continue; // a nop (is_register_load)
        const Gpr dst = in.operands[0].reg;
        const Operand &src = in.operands[1];
        if (src.kind == Operand::Kind::Reg) {
            sym[dst] = value_of(src.reg);
            continue;
        }
        if (src.mem.index != Gpr::None || src.mem.base == Gpr::Rip || src.mem.base == Gpr::None || src.mem.fs_segment ||
            src.size != 8 || in.operands[0].size != 8)
            return std::nullopt;
        Capture base = value_of(src.mem.base);
        const auto disp = static_cast<int32_t>(src.mem.disp);
        if (in.op == Op::Lea) {
            if (base.kind != Capture::Kind::Reg)
                return std::nullopt;
            base.off += disp;
            sym[dst] = base;
            continue;
        }
        auto loaded = deref(base, disp);
        if (!loaded)
            return std::nullopt;
        sym[dst] = *loaded;
    }
    return sym;
}

// `w`, a capture of the registers at a probe, as one of the registers at its early site.
std::optional<Capture> before_loads(const Capture &w, const std::unordered_map<Gpr, Capture> &sym) {
    auto it = sym.find(w.reg);
    Capture base = it != sym.end() ? it->second : Capture{Capture::Kind::Reg, w.reg};
    std::optional<Capture> out;
    switch (w.kind) {
    case Capture::Kind::Reg:
        if (base.kind != Capture::Kind::Reg && w.off != 0)
            return std::nullopt;
        base.off += base.kind == Capture::Kind::Reg ? w.off : 0;
        out = base;
        break;
    case Capture::Kind::Mem: out = deref(base, w.off); break;
    case Capture::Kind::MemMem:
        if (auto first = deref(base, w.off))
            out = deref(*first, w.off2);
        break;
    }
    if (out) {
        out->when_word = w.when_word;
        out->when_mask = w.when_mask;
    }
    return out;
}

constexpr size_t kFuncvalWords = 5;

// An open-coded bits store's record holds the slot's closure unless the store is an immediate
// without the probe's bit (no defer registered: the slot may hold anything).
bool records_slot(const Probe &p) {
    return p.has_slot && (p.source.kind != Operand::Kind::Imm || (p.source.imm & (int64_t{1} << p.bit)) != 0);
}

} // namespace

bool Tracer::recordable(const Probe &p) const {
    if (p.arming != Arming::Always)
        return false;
    switch (p.kind) {
    case ProbeKind::OpenBitsStore:
        return p.source.kind == Operand::Kind::Imm ||
               (p.source.kind == Operand::Kind::Reg && p.source.reg != Gpr::None);
    case ProbeKind::OpenSlotStore: return p.source.kind == Operand::Kind::Reg && p.source.reg != Gpr::None;
    case ProbeKind::DeferProc:
    case ProbeKind::DeferProcStack: return true;
    case ProbeKind::DeferprocCall: return !p.rangefunc;
    // recover() with no panic in progress (the record's condition): nil, told at its return.
    case ProbeKind::GorecoverEntry:
    case ProbeKind::GorecoverReturn:
    case ProbeKind::RecoverCall:
    case ProbeKind::RecoverCallReturn: return true;
    case ProbeKind::RuntimeCall: // deferreturn's, on the return path; the panics' stop
        return p.cause == "return" && p.call_reg != Gpr::None && !p.call_through_reg && !p.funcval_on_stack &&
               !p.via_reflectcall && !p.direct;
    case ProbeKind::OpenExitCall:
        // A direct call's RDX is whatever the function left there, unless the wrapper it calls
        // reads a closure: that one stops, the record would have to follow RDX.
        if (p.direct)
            return !names_->reads_closure(bias_.runtime(*p.direct));
        return p.call_reg != Gpr::None && !p.call_through_reg && !p.funcval_on_stack;
    default: return false;
    }
}

// The words probe `p` adds to its record, in the order on_recorded_probe reads them.
bool Tracer::probe_words(const Probe &p, LinkAddr at, std::vector<Capture> &out) const {
    using K = Capture::Kind;
    const bool stack =
        p.kind == ProbeKind::DeferProcStack || (p.kind == ProbeKind::DeferprocCall && p.defer_kind == DeferKind::Stack);
    switch (p.kind) {
    case ProbeKind::OpenBitsStore: {
        int value_word = -1;
        if (p.source.kind == Operand::Kind::Reg) {
            value_word = static_cast<int>(out.size());
            out.push_back({K::Reg, p.source.reg});
        }
        if (records_slot(p)) {
            // The slot holds the closure only once its bit is stored: read it only then.
            Capture slot{K::Mem, Gpr::Rsp, static_cast<int32_t>(p.slot_sp_offset)};
            slot.when_word = value_word;
            slot.when_mask = value_word >= 0 ? 1u << p.bit : 0;
            return add_funcval(out, slot);
        }
        return true;
    }
    case ProbeKind::OpenSlotStore: return add_funcval(out, {K::Reg, p.source.reg});
    case ProbeKind::DeferProc:
    case ProbeKind::DeferProcStack:
    case ProbeKind::DeferprocCall:
        if (!add_funcval(out, stack ? Capture{K::Mem, Gpr::Rax, static_cast<int32_t>(off_.defer.fn)}
                                    : Capture{K::Reg, Gpr::Rax}))
            return false;
        if (p.kind != ProbeKind::DeferprocCall)
            out.push_back({K::Mem, Gpr::Rsp, 0}); // the return address: the defer statement
        return true;
    case ProbeKind::GorecoverEntry: out.push_back({K::Mem, Gpr::Rsp, 0}); return true; // recover()'s call
    case ProbeKind::GorecoverReturn:
    case ProbeKind::RecoverCall:
    case ProbeKind::RecoverCallReturn: return true;
    case ProbeKind::RuntimeCall: {
        // runtime.deferreturn's return address, at SP + its frame's size there: the frame whose
        // defers it runs (call_cause).
        const auto f = bin_->pclntab().find_func(at);
        const auto delta = f ? bin_->pclntab().pcsp(*f).at(at) : std::nullopt;
        if (!delta || *delta < 0)
            return false;
        out.push_back({K::Reg, p.call_reg});
        if (!add_funcval(out, {K::Reg, Gpr::Rdx}))
            return false;
        out.push_back({K::Mem, Gpr::Rsp, static_cast<int32_t>(*delta)});
        return true;
    }
    case ProbeKind::OpenExitCall:
        if (p.direct) {
            out.push_back({K::Reg, Gpr::Rdx}); // not read through (recordable)
            return true;
        }
        out.push_back({K::Reg, p.call_reg});
        return add_funcval(out, {K::Reg, Gpr::Rdx}); // the closure context the call gets
    default: return false;
    }
}

std::optional<RecordSpec> Tracer::record_spec(LinkAddr at, const EarlySite *early) const {
    const std::vector<Probe> *probes = plan_->at(at);
    if (probes == nullptr || !options_.inline_probes || tracee_->record_ring() == nullptr ||
        !current_g_.r14_holds_g() || !off_.g.startpc)
        return std::nullopt;
    if (!std::all_of(probes->begin(), probes->end(), [&](const Probe &p) { return recordable(p); }))
        return std::nullopt;
    using K = Capture::Kind;
    RecordSpec spec;
    spec.g_reg = Gpr::R14;
    spec.panic_offset = static_cast<int32_t>(off_.g.panic);
    spec.words = {{K::Reg, Gpr::R14},
                  {K::Reg, Gpr::Rsp},
                  {K::Mem, Gpr::R14, static_cast<int32_t>(off_.g.goid)},
                  {K::Mem, Gpr::R14, static_cast<int32_t>(off_.g.stack_hi)},
                  {K::Mem, Gpr::R14, static_cast<int32_t>(off_.g.m)},
                  {K::Mem, Gpr::R14, static_cast<int32_t>(*off_.g.startpc)}};
    for (const Probe &p : *probes)
        if (!probe_words(p, at, spec.words))
            return std::nullopt;
    if (spec.words.size() > kMaxRecordWords)
        return std::nullopt;
    if (early != nullptr) { // caught before its register loads: the same words, loaded by the record
        const auto sym = symbolic_loads(early->emulate);
        if (!sym)
            return std::nullopt;
        for (Capture &w : spec.words) {
            auto moved = before_loads(w, *sym);
            if (!moved)
                return std::nullopt;
            w = *moved;
        }
    }
    spec.probe = static_cast<uint32_t>(record_sites_.size());
    return spec;
}

void Tracer::drain() {
    RecordRing *ring = tracee_ != nullptr ? tracee_->record_ring() : nullptr;
    if (ring == nullptr || !active_ || draining_)
        return;
    draining_ = true;
    struct Done {
        bool &flag;
        ~Done() { flag = false; }
    } done{draining_};
    for (;;) {
        std::optional<Record> r = ring->next();
        // A record taken but still being written (its thread is between the take and the commit,
        // a few dozen instructions): wait a moment for it, so that it is told in its place; then
        // go on without it (RecordRing::next), its thread may be stopped there. Only a new one is
        // waited for: one skipped already costs the drains after it nothing.
        for (int spin = 0; !r && spin < 2000 && ring->backlog(); ++spin)
            r = ring->next();
        if (!r)
            r = ring->next(true);
        if (!r)
            break;
        if (perturb_records_nth_ != 0 && ++perturb_records_count_ == perturb_records_nth_)
            continue; // DEFTRACE_TEST_PERTURB=drop-record:N: the validator must notice
        on_record(*r);
    }
}

void Tracer::on_record(const Record &r) {
    ++recorded_;
    if (r.probe >= record_sites_.size())
        return;
    const LinkAddr at = record_sites_[r.probe];
    const std::vector<Probe> *probes = plan_->at(at);
    if (probes == nullptr)
        return;
    const auto &w = r.words;
    const Stamped stamped(stamp_, thread_of(Addr(w[kM])), clock_.wall_us(r.tsc));
    const RecordContext context{w[kStartpc]};
    struct Recording { // what make_event reads while this record's events are made
        const RecordContext *&current;
        ~Recording() { current = nullptr; }
    } recording{recording_};
    recording_ = &context;
    const Addr g(w[kG]);
    const auto [stop_g, stop_hi] = validator_->stop_goroutine(); // a stop's, if one is being handled
    validator_->at_stop(g, Addr(w[kStackHi]));
    size_t next = kCommonWords;
    for (size_t i = 0; i < probes->size(); ++i) {
        const Probe &p = (*probes)[i];
        if (std::none_of(probes->begin(), probes->begin() + static_cast<ptrdiff_t>(i),
                         [&](const Probe &q) { return q.kind == p.kind; }))
            ++hits_by_kind_[static_cast<size_t>(p.kind)];
        on_recorded_probe(p, at, r, next);
    }
    recording_ = nullptr;
    validator_->at_stop(stop_g, stop_hi);
    emit_divergences();
}

void Tracer::on_recorded_probe(const Probe &p, LinkAddr at, const Record &r, size_t &next) {
    const auto &w = r.words;
    const Addr g(w[kG]), sp(w[kSp]);
    const uint64_t goid = w[kGoid];
    // A funcval's group of words (add_funcval): the funcval, then its first four words.
    auto funcval = [&](Registration &reg) {
        reg.funcval = Addr(w[next]);
        reg.code = reg.funcval.is_null() ? Addr() : Addr(w[next + 1]);
        std::copy_n(w.begin() + static_cast<ptrdiff_t>(next + 1), held_.size(), held_.begin());
        reg.held = &held_;
        next += kFuncvalWords;
    };
    Registration reg;
    reg.frame_sp = sp;
    switch (p.kind) {
    case ProbeKind::OpenBitsStore: {
        const uint64_t value = p.source.kind == Operand::Kind::Imm ? static_cast<uint64_t>(p.source.imm) : w[next++];
        if (records_slot(p))
            funcval(reg);
        if (value & (1u << p.bit))
            open_registered(p, g, goid, reg);
        break;
    }
    case ProbeKind::OpenSlotStore:
        funcval(reg);
        open_registered(p, g, goid, reg);
        break;
    case ProbeKind::DeferProc:
    case ProbeKind::DeferProcStack:
    case ProbeKind::DeferprocCall:
        funcval(reg);
        if (p.kind == ProbeKind::DeferprocCall) {
            reg.site = names_->site_at(bias_.runtime(at), false);
        } else {
            reg.site = names_->site_at(Addr(w[next++]), true);
            reg.frame_sp = sp + 8;
        }
        deferproc_registered(p, g, goid, reg);
        break;
    case ProbeKind::GorecoverEntry:
    case ProbeKind::RecoverCall: {
        // As on_recover_entry / on_recover_call find it with no panic: nothing to judge but that.
        PendingRecover pending;
        pending.site = p.kind == ProbeKind::RecoverCall ? names_->site_at(bias_.runtime(at), false)
                                                        : names_->site_at(Addr(w[next++]), true);
        recovers_[g] = pending;
        if (p.kind == ProbeKind::RecoverCall && unplaced_set_.contains(return_of_call(bias_.runtime(at))))
            recover_returned(g, goid, Addr(), Addr());
        break;
    }
    case ProbeKind::GorecoverReturn:
    case ProbeKind::RecoverCallReturn: recover_returned(g, goid, Addr(), Addr()); break;
    case ProbeKind::RuntimeCall: {
        const Addr target(w[next++]);
        funcval(reg);
        CallAt call{bias_.runtime(at), sp, target, reg.funcval, sp - 8, reg.held};
        call.caller_ret = Addr(w[next++]);
        report_defer_call(call, p, g, goid);
        break;
    }
    case ProbeKind::OpenExitCall: {
        Addr target;
        if (p.direct) {
            target = bias_.runtime(*p.direct);
            reg.funcval = Addr(w[next++]);
        } else {
            target = Addr(w[next++]);
            funcval(reg);
        }
        report_defer_call(CallAt{bias_.runtime(at), sp, target, reg.funcval, sp - 8, reg.held}, p, g, goid);
        break;
    }
    default: break;
    }
}

// The thread an M is (m.procid, which minit sets once and for all; an M never ends), or the one
// it was seen on at a stop where m.procid's offset is not known.
int32_t Tracer::thread_of(Addr m) {
    if (auto known = tid_of_m_.find(m); known != tid_of_m_.end())
        return known->second;
    if (!off_.m.procid || m.is_null())
        return 0;
    const auto procid = tracee_->memory().read_u64(m + *off_.m.procid);
    if (!procid || *procid == 0)
        return 0;
    tid_of_m_[m] = static_cast<int32_t>(*procid);
    return static_cast<int32_t>(*procid);
}

void Tracer::learn_thread(Addr g, int32_t tid) {
    if (off_.m.procid)
        return; // read where needed (thread_of)
    if (tracee_->record_ring() == nullptr || g.is_null())
        return;
    if (auto m = state_->word(g, off_.g.m); m && *m != 0)
        tid_of_m_[Addr(*m)] = tid;
}

} // namespace deftrace
