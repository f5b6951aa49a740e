// Validation of what the tracer observes against the model of the runtime's defer/panic/recover
// logic (src/model). The tracer hands every raw observation here — the runtime's and the standard
// library's defers as well as the program's, before its own output filtering: the model needs
// the whole chain — and the validator turns it into a model observation (frame depths, code
// addresses, who invoked recover()'s caller), reads chain snapshots from memory at panic stops,
// and keeps the divergences as `divergence` events for the tracer to emit.
//
// Cost: an observation is a few words of arithmetic and no memory read of its own in the common
// case (g.stack.hi comes with the goid the tracer reads at every stop, deferreturn's caller from
// the pcsp table); stack walks and chain snapshots only where they are needed: recover() during a
// panic, gopanic / Goexit entry, the end of a goroutine, main.main's return, os.Exit.
#pragma once

#include "binary/go_binary.h"
#include "goruntime/funcval.h"
#include "goruntime/pending_defers.h"
#include "goruntime/runtime_state.h"
#include "goruntime/stack_unwind.h"
#include "model/model.h"
#include "trace/event.h"

#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

namespace deftrace {

// TEST-ONLY fault injection: DEFTRACE_TEST_PERTURB=<what>:<n>, read once when tracing starts,
// perturbs the n-th (1-based, counted over all goroutines) observation of one kind so that the
// validation tests can prove a wrong observation is caught (tests/integration/validation_test.cpp):
//   call-fn:N     the N-th deferred call is reported as a call of another function (main.main)
//   drop-defer:N  the N-th defer registration is not reported at all
//   snapshot:N    the N-th chain snapshot reads one extra record at the end of g._defer
//   current-g:N   at the N-th stop, R14 is taken to name another g than the TLS word
// Unset or unparsable: no perturbation. Never meant for users (docs/validation.md, "Testing the
// validation itself").
struct Perturbation {
    // DropRecord: the tracer skips the nth record read (tracer_records.cpp).
    enum class Kind { None, CallFn, DropDefer, Snapshot, CurrentG, DropRecord } kind = Kind::None;
    uint64_t nth = 0;
    static Perturbation from_environment();
};

class Validator {
public:
    // `registrations_observed`: false in --panics-only mode, where no registration or normal
    // return is probed; the chains are then taken from memory at each panic instead of compared.
    Validator(const GoBinary &bin, const StackWalker &walker, const RuntimeState &state, const GoRelease &traits,
              bool registrations_observed, Perturbation perturb);
    ~Validator();

    // The runtime generation the model reproduces, e.g. "Go 1.22".
    [[nodiscard]] std::string model_name() const;

    // At each stop, the goroutine the stop is on (R14) and its g.stack.hi, read with its goid: frame
    // depths of that goroutine need no read of their own.
    void at_stop(Addr g, Addr stack_hi) {
        stop_g_ = g;
        stop_hi_ = stack_hi;
    }
    // What at_stop was given last (a record read in the middle of a stop puts it back after).
    [[nodiscard]] std::pair<Addr, Addr> stop_goroutine() const { return {stop_g_, stop_hi_}; }

    // Link-time address of the instruction after an open-coded exit call: a function whose
    // return address is one was called by an inline deferreturn.
    void note_exit_return(LinkAddr link_addr) { exit_returns_.insert(link_addr); }

    // deferproc / deferprocStack entry (frame_sp = the caller's SP, d.sp) and open-coded deferBits
    // or slot stores (frame_sp = the function's SP). `code`: the deferred funcval's code.
    void defer_registered(uint64_t goid, Addr g, model::DeferKind kind, Addr frame_sp, Addr code, int bit,
                          const Site &site);
    // deferrangefunc entry: a range-over-func head record for the caller's frame.
    void rangefunc_head(uint64_t goid, Addr g, Addr frame_sp);
    // deferprocat entry: `head` is the *atomic.Pointer[_defer] deferrangefunc returned.
    void rangefunc_defer(uint64_t goid, Addr g, Addr head, Addr code, const Site &site);
    // A deferred function is about to be called. `frame_sp`: the frame that runs it, when the
    // tracer knows it (open-coded exits); otherwise it is found from the runtime's state.
    void deferred_call(uint64_t goid, Addr g, Addr code, model::CallCause cause, std::optional<Addr> frame_sp, Addr pc,
                       Addr sp, const Site &site);
    // gopanic / Goexit entry (pc, sp at the entry probe): a chain snapshot, then the new panic.
    // type_word:data_word is gopanic's argument (RAX:RBX), unused for Goexit.
    void panic_started(uint64_t goid, Addr g, Addr pc, Addr sp, bool goexit, uint64_t type_word, uint64_t data_word,
                       const Site &site);
    // gorecover entry: who called recover() and who invoked that caller (looked at only while
    // `panicking`: gp._panic != nil).
    [[nodiscard]] model::RecoverCalled recover_entry(Addr g, Addr pc, Addr sp, bool panicking) const;
    // gorecover returned with the runtime's answer.
    void recover_returned(uint64_t goid, model::RecoverCalled call, bool recovered, const Site &site);
    // runtime.recovery entry, on g0, for goroutine g.
    // `sp`: the frame recovery continues in (goruntime/recovery_point.h); nullopt if unknown.
    void resumed(uint64_t goid, Addr g, bool in_goexit, std::optional<Addr> sp, const Site &site);
    // preprintpanics entry: the panic was not recovered.
    void fatal(uint64_t goid);
    // goexit1 entry: the goroutine's function returned, or Goexit ran out of defers.
    void goroutine_end(uint64_t goid, Addr g);
    // Attached: a goroutine caught in the middle of what the model would have to have seen
    // (Model::state_unknown).
    void state_unknown(uint64_t goid) { model_.state_unknown(goid); }
    // A ret of main.main (the chains must hold only what runtime.main registered), or os.Exit's
    // entry (`exiting`: the goroutine's pending defers are skipped): a chain snapshot.
    void program_ending(uint64_t goid, Addr g, Addr pc, Addr sp, bool exiting);

    // Divergences found since the last call, as events ready to emit (seq not yet set).
    // At every stop: the thread's TLS g word and R14 (ABIInternal's g register) name the same g.
    // Not a model rule but the tracer's own premise, counted and reported alike.
    void current_g(Addr tls_g, Addr r14);
    [[nodiscard]] bool has_divergences() const { return !pending_.empty(); }
    std::vector<Event> take_divergences();
    // The final summary (JSON: the top-level "validation"; text: the last line).
    [[nodiscard]] Event summary() const;
    [[nodiscard]] uint64_t observations() const { return model_.observation_count() + g_checks_; }
    [[nodiscard]] uint64_t divergences() const { return model_.divergence_count() + g_mismatches_; }

private:
    void feed(const model::Observation &o, const Site &site);
    [[nodiscard]] model::FrameDepth depth(Addr g, Addr sp) const;
    // SP of the caller of the function running at (pc, sp), from the pcsp table: no memory read.
    [[nodiscard]] std::optional<Addr> caller_sp(Addr pc, Addr sp) const;
    [[nodiscard]] Addr code_of(Addr funcval) const;
    [[nodiscard]] model::ChainSnapshot snapshot(uint64_t goid, Addr g, const std::vector<Frame> *frames);
    void nil_exit_call(uint64_t goid, Addr g, const std::vector<Frame> &frames, const Site &site);
    [[nodiscard]] bool is_reflectcall_helper(const Frame &f) const;
    [[nodiscard]] bool runner_call(const std::vector<Frame> &frames, size_t j) const;
    [[nodiscard]] bool reflect_call_frame(const Frame &f) const;
    [[nodiscard]] bool returns_into_deferreturn_call(const Frame &f) const;
    [[nodiscard]] bool is_wrapper(const Frame &f) const;
    [[nodiscard]] int frames_to_gopanic(const std::vector<Frame> &frames) const;
    // Who called frames[i], looking through wrapper frames; sets *at to the invoking frame.
    [[nodiscard]] model::Invoker invoker_of(const std::vector<Frame> &frames, size_t i, size_t *at,
                                            int *wrappers) const;
    [[nodiscard]] std::string symbolize(const std::string &text) const;
    [[nodiscard]] bool perturb(Perturbation::Kind kind);

    const GoBinary &bin_;
    const StackWalker &walker_;
    const RuntimeState &state_;
    model::Model model_;
    bool registrations_observed_;
    bool era_b_; // 1.22+ (RuntimeState::era): p.sp is the frame a panic is processing
    FuncvalReader funcvals_;
    Perturbation perturb_;
    uint64_t perturb_count_ = 0;
    Addr perturb_code_;
    std::unordered_set<LinkAddr> exit_returns_;
    Addr stop_g_, stop_hi_;               // at_stop
    std::optional<FuncInfo> deferreturn_; // runtime.deferreturn
    struct Pending {
        model::Divergence d;
        Site site;
        int depth = 0;
    };
    std::vector<Pending> pending_;
    uint64_t g_checks_ = 0, g_mismatches_ = 0; // current_g
};

} // namespace deftrace
