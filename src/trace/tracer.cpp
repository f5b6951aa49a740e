#include "trace/tracer.h"

#include "analysis/analysis_cache.h"
#include "arch/register_loads.h"

#include "binary/error.h"
#include "trace/validator.h"

#include <algorithm>
#include <cstdlib>
#include <elf.h>

namespace deftrace {

// GoBinary::open refuses a release without a registry row (UnsupportedGo), and every row has its
// model adapter (model/runtime_generation.cpp), so the row is the model's generation.
GoRelease Tracer::traits_of(const GoBinary &bin) {
    return bin.facts();
}

Tracer::Tracer(const GoBinary &bin, std::vector<FunctionDefers> sites, RuntimeOffsets offsets, EventSink &sink,
               TraceOptions options)
    : bin_(&bin), sites_(std::move(sites)), off_(offsets), traits_(traits_of(bin)), sink_(sink),
      options_(std::move(options)) {}

Tracer::~Tracer() = default;

std::vector<FunctionDefers> Tracer::sites_needed(const GoBinary &bin, const TraceOptions &options, bool *from_cache) {
    if (options.panics_only)
        return {};
    const Scope scope = Scope::parse(options.scope, bin);
    // What the scope expression selects depends on the binary alone: with it, the key.
    const AnalysisCache cache = AnalysisCache::for_user();
    const std::string what = "scope=" + (scope.is_all() ? std::string("all") : options.scope);
    if (auto cached = cache.load(bin, what)) {
        if (from_cache != nullptr)
            *from_cache = true;
        return std::move(*cached);
    }
    std::vector<FunctionDefers> sites;
    if (scope.is_all()) {
        sites = analyze_defer_sites(bin);
    } else {
        DeferAnalysisOptions only_in_scope;
        only_in_scope.only = [&scope](std::string_view function) { return scope.contains(function); };
        sites = analyze_defer_sites(bin, only_in_scope);
    }
    cache.store(bin, what, sites);
    return sites;
}

// The readers of the live program: load bias, stack walker, runtime state, types, names.
void Tracer::open_readers(Tracee &tracee) {
    tracee_ = &tracee;
    const auto &elf = bin_->elf();
    bias_ = LoadBias();
    if (elf.is_pie()) {
        auto entry = tracee.auxv(AT_ENTRY);
        if (!entry)
            throw Error(ErrorKind::Process, "cannot read the program's entry point (AT_ENTRY)");
        bias_ = LoadBias::between(elf.entry(), Addr(*entry));
    }
    walker_ = std::make_unique<StackWalker>(*bin_, tracee.memory(), bias_);
    state_ = std::make_unique<RuntimeState>(tracee.memory(), off_, bin_->facts().era);
    current_g_ = CurrentG::locate(*bin_, tracee.disassembler());
    probe_regs_ = ProbeRegisters(*bin_);
    types_ = std::make_unique<TypeReader>(tracee.memory(), bias_.runtime(bin_->moduledata().types),
                                          bin_->facts().name_len_varint);
    funcvals_ = std::make_unique<FuncvalReader>(*bin_, tracee.memory());
    names_ = std::make_unique<Symbolizer>(*bin_, *walker_, tracee.memory(), tracee.disassembler());
}

void Tracer::attach(Tracee &tracee) {
    open_readers(tracee);
    // An idle Go thread waits in runtime.futex, which ignores what the call returns: the thread
    // deftrace may borrow for the system calls it runs in the program (Tracee::inject_syscall).
    if (auto futex = bin_->pclntab().find_by_name("runtime.futex")) {
        const FuncInfo f = bin_->pclntab().func(*futex);
        tracee.set_parking(bias_.runtime(f.entry), bias_.runtime(f.end));
    }
    if (tracee.attached())
        tracee.leave_signal_handlers();
    map_scratch();
    scope_ = Scope::parse(options_.scope, *bin_);
    whole_program_ = !options_.panics_only && scope_.is_all();
    if (validator_) { // the program an exec replaced: its counts go on into the summary
        retired_observations_ += validator_->observations();
        retired_divergences_ += validator_->divergences();
    }
    const Perturbation perturb = Perturbation::from_environment();
    validator_ = std::make_unique<Validator>(*bin_, *walker_, *state_, traits_, whole_program_, perturb);
    perturb_records_nth_ = perturb.kind == Perturbation::Kind::DropRecord ? perturb.nth : 0;
    const PlanOptions plan{options_.panics_only, &options_.resources, &scope_, options_.all_recovers};
    plan_ = std::make_unique<ProbePlan>(ProbePlan::build(*bin_, sites_, tracee.disassembler(), plan));
    for (LinkAddr a : plan_->exit_returns())
        validator_->note_exit_return(a);
    // Once: a program that execs itself is analysed again.
    for (const auto &note : plan_->notes())
        if (std::find(probe_notes_.begin(), probe_notes_.end(), note) == probe_notes_.end())
            probe_notes_.push_back(note);
    // Attached: where every goroutine is, read once (the process stays stopped until run()).
    std::vector<Addr> interrupted; // where signal handlers return to
    const std::vector<StoppedGoroutine> stopped =
        tracee.attached() ? stopped_goroutines(tracee, &interrupted) : std::vector<StoppedGoroutine>();
    tracee.keep_unpatched(resume_pcs(stopped));
    tracee.keep_unpatched(interrupted);
    unplaced_.clear();
    unplaced_set_.clear();
    early_hits_.clear();
    placed_at_.clear();
    // Launched, the program cannot run while its probes are planted: their code changes are
    // staged and written back a page at a time (WriteBatch), not probe by probe.
    std::optional<WriteBatch> batch;
    if (!tracee.attached())
        batch.emplace(tracee.memory());
    for (const auto &b : plan_->breakpoints())
        place(tracee, b);
    // Off until needed: int3s (a jump patch cannot be switched while threads run), or guarded
    // trampolines (their armed byte switches them).
    recovers_armed_ = deferreturns_armed_ = false;
    for (Arming when : {Arming::DuringPanics, Arming::InScopeDeferreturn})
        for (LinkAddr a : plan_->on_demand(when)) {
            PlannedBreakpoint w = plan_->window(a);
            if (!tracee.guarded())
                w.patchable = w.before = 0;
            if (place(tracee, w))
                tracee.set_breakpoint_enabled(bias_.runtime(placed_at(a)), false);
        }
    if (batch)
        batch->flush();
    // Read again: a thread stopped inside a patch was stepped out of it (Tracee::step_out_of),
    // past what the probes would have seen (a deferBits store, say), so what the model learns
    // must be where each goroutine is now.
    seed_attached(tracee.attached() ? stopped_goroutines(tracee) : stopped);
}

// A breakpoint where the plan says, or, guarded and where no trampoline fits, at its early site
// (trace/probe_plan.h); false when neither could be placed. Where the probes can, the trampoline
// records their hits instead of stopping (tracer_records.cpp), at the early site too.
bool Tracer::place(Tracee &tracee, const PlannedBreakpoint &b) {
    const std::optional<RecordSpec> record = record_spec(b.link_addr);
    // Launched, a probe whose own instruction takes no trampoline (a 2-byte `call *%rax` after a
    // load that may fault) records at its early site rather than stopping at an int3 there.
    const EarlySite *early_site = plan_->early(b.link_addr);
    const std::optional<RecordSpec> early_record = early_site ? record_spec(b.link_addr, early_site) : std::nullopt;
    const bool early_first = !tracee.attached() && record && early_record;
    if (tracee.insert_breakpoint(bias_.runtime(b.link_addr), b.patchable, b.before, record ? &*record : nullptr,
                                 !early_first)) {
        if (record) { // its id, whether its trampoline records or not
            record_sites_.push_back(b.link_addr);
            if (tracee.records(bias_.runtime(b.link_addr)))
                recording_at_.insert(b.link_addr);
        }
        return true;
    }
    if (const EarlySite *early = early_site; early != nullptr) {
        if (tracee.insert_breakpoint(bias_.runtime(early->at), b.link_addr - early->at, 0,
                                     early_record ? &*early_record : nullptr)) {
            early_hits_.emplace(early->at, b.link_addr);
            placed_at_.emplace(b.link_addr, early->at);
            if (early_record) {
                record_sites_.push_back(b.link_addr);
                if (tracee.records(bias_.runtime(early->at)))
                    recording_at_.insert(early->at);
            }
            return true;
        }
    }
    if (early_first && tracee.insert_breakpoint(bias_.runtime(b.link_addr), b.patchable, b.before))
        return true; // an int3 after all
    unplaced_.push_back(b.link_addr);
    unplaced_set_.insert(b.link_addr);
    return false;
}

LinkAddr Tracer::return_of_call(Addr call) const {
    const LinkAddr at = walker_->to_link(call);
    auto f = bin_->pclntab().find_func(at);
    if (!f)
        return LinkAddr();
    auto in = tracee_->disassembler().decode_one(bin_->code(*f).subspan(at - f->entry), at);
    return in ? in->next() : LinkAddr();
}

LinkAddr Tracer::placed_at(LinkAddr probe) const {
    auto it = placed_at_.find(probe);
    return it == placed_at_.end() ? probe : it->second;
}

void Tracer::arm(Arming when, bool on) {
    bool &armed = when == Arming::DuringPanics ? recovers_armed_ : deferreturns_armed_;
    if (armed == on)
        return;
    armed = on;
    for (LinkAddr a : plan_->on_demand(when))
        tracee_->set_breakpoint_enabled(bias_.runtime(placed_at(a)), on);
}

void Tracer::update_recover_arming() {
    arm(Arming::DuringPanics, !panics_.empty() || !goexiting_.empty());
}

// The scratch page for breakpoint stubs must be within ±2 GiB of the code: try just below the
// lowest segment, then further down, then above the highest, at 1 MiB steps. A page stays mapped
// after each detach (a thread may still be in one of its stubs), so a process attached to again
// and again needs a fresh place each time: 32 above the code, besides those below.
void Tracer::map_scratch() {
    LinkAddr lo(~uint64_t{0}), hi;
    for (const auto &seg : bin_->elf().segments())
        if (seg.type == PT_LOAD) {
            lo = std::min(lo, seg.vaddr);
            hi = std::max(hi, seg.vaddr + seg.memsz);
        }
    const size_t scratch = 2 * 1024 * 1024; // recording trampolines take a few hundred bytes each
    auto page = [](uint64_t a) { return Addr(a & ~uint64_t{0xfff}); };
    std::vector<Addr> hints;
    for (uint64_t down : {0x100000ull, 0x400000ull, 0x1000000ull})
        if (bias_.runtime(lo).value() > down + scratch)
            hints.push_back(page(bias_.runtime(lo).value() - down - scratch));
    for (uint64_t k = 0; k < 32; ++k)
        hints.push_back(page(bias_.runtime(hi).value() + 0x1000000 + k * 0x100000));
    map_record_ring(tracee_->map_scratch(scratch, hints));
}

// The record ring within rel32 reach of every trampoline in the scratch area: just above or below
// it. Without one every probe stops, as with --no-inline-probes.
void Tracer::map_record_ring(Addr scratch) {
    record_sites_.clear();
    recording_at_.clear();
    if (!options_.inline_probes || !current_g_.r14_holds_g())
        return;
    std::vector<Addr> hints;
    for (uint64_t k = 1; k <= 16; ++k) {
        hints.push_back(scratch + k * 0x400000);
        if (scratch.value() > k * 0x400000 + RecordRing::kSize)
            hints.push_back(Addr(scratch.value() - k * 0x400000 - RecordRing::kSize));
    }
    // DEFTRACE_TEST_RING_RECORDS=N: a ring of N records, for tests that fill it.
    uint32_t capacity = RecordRing::kCapacity;
    if (const char *n = std::getenv("DEFTRACE_TEST_RING_RECORDS"))
        capacity = static_cast<uint32_t>(std::strtoul(n, nullptr, 10));
    try {
        tracee_->map_record_ring(hints, capacity);
    } catch (const Error &) {
        // No ring (no memfd, a file size limit on its size...): every probe stops, as it can.
    }
}

DeferTarget Tracer::deferred_target(Addr code, Addr closure, const ClosureWords *held) const {
    DeferredFn fn = names_->deferred_fn(code, closure, held);
    return {std::move(fn.fn), std::move(fn.wrapper)};
}

PanicValue Tracer::panic_value(Addr type, Addr data) const {
    auto v = render_any(*types_, type, data);
    // The raw bytes: the text sink escapes them for the terminal, the JSON sinks for JSON.
    return {v.type, v.value, v.is_error};
}

Event Tracer::make_event(EventKind kind, uint64_t goid, Addr g) {
    Event e;
    e.kind = kind;
    e.goroutine = goid;
    e.time_us = stamp_.time_us;
    e.tid = stamp_.tid;
    // A record is taken only while the goroutine has no panic (arch/record_stub.h), and carries
    // the goroutine's startpc as it was.
    if (recording_ != nullptr)
        e.depth = 0;
    else if (!g.is_null())
        e.depth = static_cast<int>(state_->panics(g, 64).size());
    // Where the goroutine started, until an event of it that says so is shown (emit): for a go
    // statement with arguments, the function the compiler's wrapper calls (the wrapper is a
    // FuncIDWrapper like a defer's: main.main.func1 up to 1.21, main.main.gowrap1 from 1.22).
    if (goid != 0 && !g.is_null() && !started_.contains(goid))
        if (auto pc = recording_ != nullptr ? std::optional(recording_->startpc) : state_->word(g, off_.g.startpc);
            pc && *pc != 0)
            e.go_start = names_->deferred_fn(Addr(*pc), Addr()).fn;
    return e;
}

bool Tracer::shown(const Event &e) const {
    // The runtime's own defers (runtime.main's deferred unlock, internal/poll's deferred
    // unlocks) are machinery, not the program's story: shown only to a scope that names them
    // (all, or an expression that matches them), which pays their stops anyway. Its recovers
    // (preprintpanics recovering from a panicking Error method, which the program never sees as
    // a recover) are never shown.
    const bool defers = e.kind == EventKind::Defer || e.kind == EventKind::DeferCall;
    const bool runtime_site = is_runtime_function(e.site.function);
    const bool runtime_asked = runtime_site && scope_.contains(e.site.function);
    if (runtime_site && ((defers && !runtime_asked) || e.kind == EventKind::Recover))
        return false;
    // A deferred runtime function (not a wrapper around one: `defer close(ch)` is the program's).
    if (const auto *call = std::get_if<CallPayload>(&e.payload);
        call && call->fn.wrapper.empty() && is_runtime_function(call->fn.fn) && !runtime_asked)
        return false;
    if (defers && !scope_.contains(e.site.function))
        return false;
    if (const auto *r = std::get_if<RecoverPayload>(&e.payload); r && !r->recovered) {
        // Where gorecover is armed during panics only, a recover() with no panic is seen only
        // when some other goroutine panics: never shown, so that the trace does not depend on it.
        const bool on_demand = options_.panics_only && !options_.all_recovers;
        if (!scope_.contains(e.site.function) || (on_demand && r->reason == "no panic"))
            return false;
    }
    return true;
}

void Tracer::emit(Event e) {
    // Whatever made this event (a stop, a child's exec, the end), what the probes recorded before
    // it comes first.
    if (recording_ == nullptr)
        drain();
    if (!shown(e))
        return;
    if (e.time_us == 0) { // not made by make_event: a divergence, the exec, the end of the trace
        e.time_us = stamp_.time_us != 0 ? stamp_.time_us : wall_clock_us();
        e.tid = stamp_.tid;
    }
    e.seq = ++seq_;
    if (!e.go_start.empty()) {
        // Goroutine ids are never reused, and a service makes millions: forgetting them all now
        // and then costs one more go_start per goroutine still running, not a growing set.
        if (started_.size() >= (size_t{1} << 20))
            started_.clear();
        started_.insert(e.goroutine);
    }
    sink_.emit(e);
}

void Tracer::emit_divergences() {
    if (validator_->has_divergences())
        for (auto &e : validator_->take_divergences())
            emit(std::move(e));
}

// One syscall for what nearly every stop reads: the goroutine's g (the header, _panic, _defer),
// the top of its stack (return address, arguments, stack-allocated records), the TLS word and,
// where RAX is the pointer the probe reads (a funcval, a _defer, the panic value's type, the
// goroutine given to recovery), what it points to. Last: an unreadable RAX only cuts the
// prefetch short there.
void Tracer::prefetch(const ThreadStop &stop, ProbeKind first) {
    // Without the register ABI R14 is not g: the TLS word comes first instead.
    const bool abi_regs = current_g_.r14_holds_g();
    const Addr r14 = abi_regs ? Addr(stop.regs.raw.r14) : Addr();
    const bool rax_points =
        abi_regs && (first == ProbeKind::DeferProc || first == ProbeKind::DeferProcStack ||
                     first == ProbeKind::DeferProcAt || first == ProbeKind::Gopanic || first == ProbeKind::Recovery);
    const Addr around[] = {r14, abi_regs ? r14 + off_.g.goid : Addr(), stop.regs.sp(),
                           current_g_.slot(stop.regs).value_or(Addr()), rax_points ? Addr(stop.regs.raw.rax) : Addr()};
    tracee_->memory().prefetch(around);
}

void Tracer::on_breakpoint(ThreadStop &stop, Addr addr) {
    if (!active_)
        return;
    drain(); // every record taken before this stop is told before it
    const LinkAddr at = walker_->to_link(addr);
    if (recording_at_.contains(at))
        ++recording_stops_;
    if (auto early = early_hits_.find(at); early != early_hits_.end()) {
        // Caught at its early site: the registers its probe's own instruction would see.
        Registers regs = registers_at_probe(stop.regs, early->second);
        ThreadStop moved{stop.tracee, stop.tid, regs};
        if (const std::vector<Probe> *probes = plan_->at(early->second))
            on_probes(moved, *probes);
        return;
    }
    if (const std::vector<Probe> *probes = plan_->at(at))
        on_probes(stop, *probes);
    else
        ++unplanned_hits_;
}

Registers Tracer::registers_at_probe(const Registers &regs, LinkAddr probe) const {
    Registers r = regs;
    const ProcessMemory &mem = tracee_->memory();
    RegisterFile file{[&](Gpr g) { return r.get(g); }, [&](Gpr g, uint64_t v) { r.set(g, v); },
                      [&](uint64_t a, size_t size) -> std::optional<uint64_t> {
                          if (size == 8)
                              return mem.read_u64(Addr(a));
                          auto v = mem.read_u32(Addr(a));
                          return v ? std::optional<uint64_t>(*v) : std::nullopt;
                      }};
    emulate_loads(
        plan_->early(probe)->emulate, [&](LinkAddr a) { return bias_.runtime(a).value(); }, file);
    r.set_pc(bias_.runtime(probe));
    return r;
}

void Tracer::on_probes(ThreadStop &stop, const std::vector<Probe> &probes) {
    const Stamped stamped(stamp_, stop.tid);
    for (size_t i = 0; i < probes.size(); ++i)
        if (std::none_of(probes.begin(), probes.begin() + static_cast<ptrdiff_t>(i),
                         [&](const Probe &q) { return q.kind == probes[i].kind; }))
            ++hits_by_kind_[static_cast<size_t>(probes[i].kind)];
    prefetch(stop, probes.front().kind);
    // The current g is the thread's TLS word, which Go code also keeps in R14 (ABIInternal;
    // goruntime/current_g.h); recovery runs on g0 and gets the user g in RAX instead.
    const CurrentG::Found current = current_g_.at(stop.regs, tracee_->memory());
    learn_thread(current.g, stop.tid);
    validator_->at_stop({}, {}); // nothing read yet at this stop (recovery runs on g0)
    if (current.checked && current_g_.r14_holds_g())
        validator_->current_g(current.g, Addr(stop.regs.raw.r14));
    const LinkAddr at = walker_->to_link(stop.regs.pc());
    for (const Probe &p : probes) {
        if (!probe_regs_.adapts()) {
            handle(stop, p, current.g);
            continue;
        }
        Registers regs = probe_regs_.view(stop.regs, p, at, current.g, tracee_->memory());
        ThreadStop seen{stop.tracee, stop.tid, regs};
        handle(seen, p, current.g);
    }
    emit_divergences();
}

std::optional<Tracer::OnGoroutine> Tracer::goroutine_of(Addr g) {
    // goid and g.stack in one read; the validator measures frame depths from g.stack.hi.
    auto header = state_->header(g);
    if (!header)
        return std::nullopt;
    if (header->goid == 0) { // on g0 (systemstack, mcall): the goroutine it works for
        auto user = CurrentG::curg_of_g0(g, *state_);
        if (!user || !(header = state_->header(*user)))
            return std::nullopt;
        g = *user;
    }
    validator_->at_stop(g, header->stack_hi);
    return OnGoroutine{g, header->goid};
}

void Tracer::handle(ThreadStop &stop, const Probe &p, Addr g) {
    if (p.kind == ProbeKind::Recovery)
        return on_recovery(stop);
    if (p.kind == ProbeKind::Throw) // may run on g0 with no goroutine (the deadlock check)
        return on_throw(stop, g);
    if (auto on = goroutine_of(g))
        dispatch(stop, p, on->g, on->goid);
}

void Tracer::dispatch(ThreadStop &stop, const Probe &p, Addr g, uint64_t goid) {
    switch (p.kind) {
    case ProbeKind::DeferProc:
    case ProbeKind::DeferProcAt:
    case ProbeKind::DeferProcStack:
    case ProbeKind::DeferprocCall: on_deferproc(stop, p, g, goid); break;
    case ProbeKind::DeferreturnEnter:
    case ProbeKind::DeferreturnLeave: on_deferreturn(stop, p, g, goid); break;
    case ProbeKind::OpenBitsStore:
    case ProbeKind::OpenSlotStore: on_open_register(stop, p, g, goid); break;
    case ProbeKind::OpenExitCall:
    case ProbeKind::RuntimeCall: on_defer_call(stop, p, g, goid); break;
    case ProbeKind::Gopanic: on_panic(stop, g, goid); break;
    case ProbeKind::GorecoverEntry: on_recover_entry(stop, g); break;
    case ProbeKind::GorecoverReturn:
    case ProbeKind::RecoverCallReturn: on_recover_return(stop, g, goid); break;
    case ProbeKind::RecoverCall: on_recover_call(stop, g, goid); break;
    case ProbeKind::Goexit: on_goexit(stop, g, goid); break;
    case ProbeKind::DeferRangefunc: validator_->rangefunc_head(goid, g, stop.regs.sp() + 8); break;
    case ProbeKind::GoroutineEnd:
        validator_->goroutine_end(goid, g);
        drop_deferreturn_frames(goid, std::nullopt);
        goexiting_.erase(goid);
        update_recover_arming();
        break;
    case ProbeKind::MainReturn:
    case ProbeKind::ProgramExit:
        validator_->program_ending(goid, g, stop.regs.pc(), stop.regs.sp(), p.kind == ProbeKind::ProgramExit);
        break;
    case ProbeKind::Fatal: on_fatal(stop, g, goid); break;
    case ProbeKind::FatalPrinted: on_fatal_printed(goid); break;
    case ProbeKind::ResourceAcquire:
    case ProbeKind::ResourceRelease: on_resource(stop, p, g, goid); break;
    case ProbeKind::OsExit: on_os_exit(stop, g); break;
    case ProbeKind::ExecCall: on_exec_call(stop, g, goid); break;
    case ProbeKind::ExecFailed:
        exec_held_.clear();
        exec_goid_ = 0;
        break;
    case ProbeKind::Recovery:
    case ProbeKind::Throw: break; // handled before: not necessarily on a goroutine
    }
}

std::vector<PendingDeferEntry> Tracer::pending_defers(Addr g, Addr pc, Addr sp, bool *complete) const {
    const PendingDefers pending = deftrace::pending_defers(*bin_, *state_, *walker_, g, pc, sp);
    if (complete)
        *complete = pending.complete;
    std::vector<PendingDeferEntry> out;
    for (const PendingDefer &d : pending.defers) {
        PendingDeferEntry entry;
        if (d.kind != PendingDefer::Kind::OpenCoded) {
            entry.form = d.kind == PendingDefer::Kind::Rangefunc ? DeferForm::Rangefunc
                         : d.kind == PendingDefer::Kind::Heap    ? DeferForm::Heap
                                                                 : DeferForm::Stack;
            entry.fn = deferred_target(funcvals_->code(*d.funcval), *d.funcval);
            entry.function = names_->site_at(d.pc, true).function;
        } else {
            entry.form = DeferForm::OpenCoded;
            if (d.funcval)
                entry.fn = deferred_target(funcvals_->code(*d.funcval), *d.funcval);
            entry.function = d.frame;
            entry.bit = d.bit;
        }
        out.push_back(std::move(entry));
    }
    return out;
}

std::vector<PendingDeferEntry> Tracer::program_pending(Addr g, Addr pc, Addr sp, bool *complete) const {
    // runtime.main's own deferred function (1.17-1.27) is machinery, not the program's.
    std::vector<PendingDeferEntry> pending;
    for (auto &d : pending_defers(g, pc, sp, complete))
        if (!is_runtime_function(d.function))
            pending.push_back(std::move(d));
    return pending;
}

std::vector<ChainedPanic> Tracer::panic_chain(const std::vector<PanicRecord> &newest_first) const {
    // Oldest first, as printpanics prints them.
    std::vector<ChainedPanic> chain;
    for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it)
        chain.push_back({panic_value(it->arg_type, it->arg_data), it->recovered, it->goexit, it->repanicked, {}});
    return chain;
}

FrameList Tracer::frames_of(Addr g, Addr pc, Addr sp) const {
    FrameList out;
    for (const auto &f : walker_->walk(pc, sp, 256))
        if (auto d = depth_of(g, f.sp))
            out.emplace_back(*d, f.name);
    return out;
}

std::optional<uint64_t> Tracer::depth_of(Addr g, Addr sp) const {
    auto bounds = state_->stack_bounds(g);
    if (!bounds || sp.value() > bounds->second.value())
        return std::nullopt;
    return bounds->second.value() - sp.value();
}

void Tracer::on_exiting(ThreadStop &, int) {
    drain();
}

void Tracer::finish(const ExitStatus &status) {
    drain();
    // A fatal panic whose values the runtime never finished converting to text.
    for (auto &[goid, pending] : fatals_)
        emit(std::move(pending.event));
    fatals_.clear();
    if (!options_.resources.empty()) {
        Event report;
        report.kind = EventKind::Leaks;
        LeaksPayload leaks{leaks_.open(), probe_notes_, std::nullopt};
        if (status.detached)
            leaks.detached_at_us = wall_clock_us();
        report.payload = std::move(leaks);
        emit(std::move(report));
    }
    Event e;
    e.kind = EventKind::Exit;
    ExitPayload exit;
    if (status.detached) {
        exit.detached = true;
    } else if (status.signaled) {
        exit.signal = status.signal;
        exit.signal_name = sigabbrev_np(status.signal) ? std::string("SIG") + sigabbrev_np(status.signal) : "";
    } else {
        exit.status = status.code;
    }
    e.payload = std::move(exit);
    emit(std::move(e));
    // Last: the text trace ends with the validation line.
    emit_divergences();
    Event summary = validator_->summary(); // with those of the programs exec replaced
    auto &counts = std::get<ValidationPayload>(summary.payload);
    counts.observations += retired_observations_;
    counts.divergences += retired_divergences_;
    summary.time_us = wall_clock_us();
    sink_.emit(summary);
}

uint64_t Tracer::divergences() const {
    return retired_divergences_ + validator_->divergences();
}

} // namespace deftrace
