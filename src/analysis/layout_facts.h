// The inference's working state, shared by the facts of each runtime generation
// (layout_inference.cpp: common and era A; layout_inference_era_b.cpp: era B). Internal to
// analysis/.
#pragma once

#include "analysis/symbolic_walk.h"
#include "binary/go_binary.h"
#include "binary/struct_layouts.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace deftrace::layout_facts {

struct Inferred {
    int64_t offset;
    uint64_t size;
    std::string from; // the runtime function that said so first
};

// One run of the inference: the walks it made (one per runtime function) and what each field
// was found to be. Every fact names the function and the lines of its source it mirrors.
class Inference {
public:
    Inference(const GoBinary &bin, const Disassembler &dis) : bin_(bin), dis_(dis) {}
    StructLayouts run();

private:
    // Walks runtime function `fn` (once per function) and reads `fact` from it; nothing when the
    // linker left the function out (deferproc without heap defers, gorecover without recover()).
    void apply(const std::string &fn, void (Inference::*fact)(const WalkResult &));
    void found(const std::string &s, const std::string &f, std::optional<int64_t> off, uint64_t size);
    [[nodiscard]] std::optional<int64_t> get(const std::string &s, const std::string &f) const;
    [[nodiscard]] int64_t need(const std::string &s, const std::string &f) const;

    // The facts, one runtime function each. Every generation (layout_inference.cpp):
    void curg_check(const WalkResult &w); // gopanic, deferproc
    void pushed_onto_g(const WalkResult &w, SymId g, SymId x, const std::string &s, const std::string &list);
    void mcall(const WalkResult &w);
    void recovery(const WalkResult &w);
    void sigpanic(const WalkResult &w);
    void printpanics(const WalkResult &w);
    void gorecover(const WalkResult &w);
    void newdefer(const WalkResult &w);
    void freedefer(const WalkResult &w);
    void casgstatus(const WalkResult &w);
    void goroutine_header(const WalkResult &w);
    void newproc1(const WalkResult &w);
    // Era A, Go 1.14–1.21 (layout_inference.cpp).
    void deferreturn(const WalkResult &w);
    void gopanic(const WalkResult &w);
    void deferproc(const WalkResult &w);
    void defer_call_save(const WalkResult &w);
    void run_open_defer_frame(const WalkResult &w);
    void add_one_open_defer_frame(const WalkResult &w);
    // Era B, Go 1.22+ (layout_inference_era_b.cpp).
    void pop_defer(const WalkResult &w);
    void pop_defer_of(const WalkResult &w, SymId gp);
    void next_defer(const WalkResult &w);
    void panic_start(const WalkResult &w);
    void recovery_fp(const WalkResult &w);
    void deferconvert(const WalkResult &w);
    void gopanic_b(const WalkResult &w);
    void preprintpanics(const WalkResult &w);

    [[nodiscard]] std::map<std::string, std::vector<std::string>> needed() const;
    [[nodiscard]] StructLayouts assemble() const;

    const GoBinary &bin_;
    const Disassembler &dis_;
    std::map<std::string, std::unique_ptr<WalkResult>> walks_;
    std::string current_; // the function whose facts are being read
    std::map<std::pair<std::string, std::string>, Inferred> fields_;
    std::optional<uint64_t> defer_size_;
};

// Queries over a walk.
const MemEvent *first(const WalkResult &w, MemEvent::Kind kind, SymId base, int size = 0, SymId value = 0);
std::optional<int64_t> offset_of(const MemEvent *e);
SymId result_of(const WalkResult &w, std::string_view callee);
// The byte fields of `base` compared with 0, each once, in the order the walk met them.
std::vector<int64_t> flag_tests(const WalkResult &w, SymId base);

} // namespace deftrace::layout_facts
