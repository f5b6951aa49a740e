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
    // The walk of runtime function `fn`, or nullptr when the linker left it out (deferproc
    // without heap defers, gorecover without recover()): the facts it gives come from others.
    const WalkResult *walk(const std::string &fn);
    void found(const std::string &s, const std::string &f, std::optional<int64_t> off, uint64_t size);
    [[nodiscard]] std::optional<int64_t> get(const std::string &s, const std::string &f) const;
    [[nodiscard]] int64_t need(const std::string &s, const std::string &f) const;

    // Every generation (layout_inference.cpp).
    void curg_check(const std::string &fn);
    void mcall();
    void recovery();
    void sigpanic();
    void printpanics();
    void gorecover();
    void newdefer();
    void freedefer();
    void casgstatus();
    void goroutine_header();
    void newproc1();
    // Era A, Go 1.17–1.21 (layout_inference.cpp).
    void deferreturn();
    void gopanic();
    void deferproc();
    void defer_call_save();
    void run_open_defer_frame();
    void add_one_open_defer_frame();
    // Era B, Go 1.22+ (layout_inference_era_b.cpp).
    void pop_defer(const WalkResult &w, SymId gp);
    void next_defer();
    void panic_start();
    void recovery_fp();
    void deferconvert();
    void gopanic_b();
    void preprintpanics();

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
