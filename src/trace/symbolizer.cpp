#include "trace/symbolizer.h"

#include "analysis/wrapped_callee.h"
#include "binary/go_names.h"
#include "binary/source_paths.h"

#include <algorithm>

namespace deftrace {

namespace {

// A defer wrapper's line is its defer statement's; name the site by the function that holds the
// statement: main.f.deferwrap1 (1.22+), main.f.func2 or main.f.func1.3 (≤1.21) -> main.f(.func1).
std::string enclosing_of_wrapper(const std::string &name) {
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0)
        return name;
    std::string_view last(name);
    last.remove_prefix(dot + 1);
    for (std::string_view prefix : {"deferwrap", "func", ""})
        if (last.starts_with(prefix) && last.size() > prefix.size() &&
            last.substr(prefix.size()).find_first_not_of("0123456789") == std::string_view::npos)
            return name.substr(0, dot);
    return name;
}

} // namespace

bool is_runtime_function(std::string_view name) {
    return name.starts_with("runtime.") || name.starts_with("internal/") || name.starts_with("runtime/");
}

bool is_reflectcall_helper(std::string_view name) {
    constexpr std::string_view prefix = "runtime.call";
    return name.starts_with(prefix) && name.size() > prefix.size() &&
           name.find_first_not_of("0123456789", prefix.size()) == std::string_view::npos;
}

bool runs_deferred_calls_by_reflectcall(std::string_view name) {
    return name == "runtime.gopanic" || name == "runtime.Goexit" || name == "runtime.reflectcallSave";
}

Symbolizer::Symbolizer(const GoBinary &bin, const StackWalker &walker, const ProcessMemory &mem,
                       const Disassembler &dis)
    : bin_(bin), walker_(walker), mem_(mem), dis_(dis), main_module_(main_module_of(bin)) {}

std::string Symbolizer::func_name_at(Addr runtime_pc) const {
    if (auto it = name_cache_.find(runtime_pc); it != name_cache_.end())
        return it->second;
    auto f = walker_.func_at(runtime_pc);
    std::string name = f ? std::string(bin_.pclntab().func_name(*f)) : std::string();
    name_cache_.emplace(runtime_pc, name);
    return name;
}

Site Symbolizer::site_at(Addr runtime_pc, bool return_address) const {
    const uint64_t key = runtime_pc.value() * 2 + (return_address ? 1 : 0);
    if (auto it = site_cache_.find(key); it != site_cache_.end())
        return it->second;
    Site s;
    LinkAddr link = walker_.to_link(runtime_pc);
    if (return_address)
        link = link - 1; // the call instruction, not the one after it
    auto f = bin_.pclntab().find_func(link);
    if (!f)
        return s;
    s.function = std::string(bin_.pclntab().func_name(*f));
    if (f->funcid == bin_.facts().funcid_wrapper)
        s.function = enclosing_of_wrapper(s.function);
    if (auto pos = bin_.pclntab().source_at(*f, link)) {
        s.file = std::string(pos->file);
        s.line = pos->line;
    }
    site_cache_.emplace(key, s);
    return s;
}

bool Symbolizer::reads_closure(Addr code) const {
    (void)deferred_fn(code, Addr());
    const auto it = callee_cache_.find(code);
    return it != callee_cache_.end() && it->second.indirect;
}

DeferredFn Symbolizer::deferred_fn(Addr code, Addr closure, const ClosureWords *held) const {
    auto it = callee_cache_.find(code);
    if (it == callee_cache_.end()) {
        std::string raw = func_name_at(code);
        std::string callee;
        bool indirect = false;
        if (auto f = walker_.func_at(code); f && f->entry == walker_.to_link(code) && is_defer_wrapper(bin_, *f)) {
            callee = wrapped_callee(bin_, dis_, *f).value_or("");
            indirect = callee.empty();
        } else if (f && f->entry == walker_.to_link(code)) {
            callee = builtin_deferred_directly(raw).value_or(""); // ≤1.16: `defer close(ch)`
        }
        it = callee_cache_.emplace(code, CalleeNames{raw, callee, indirect}).first;
    }
    const CalleeNames &names = it->second;
    std::string callee = names.callee;
    if (names.indirect && !closure.is_null()) {
        // Which function the wrapper will call depends on what it captured: evaluate its loads.
        auto f = walker_.func_at(code);
        auto read = [&](uint64_t a) -> std::optional<uint64_t> {
            const uint64_t at = a - closure.value();
            if (held != nullptr && a >= closure.value() && at < held->size() * 8 && at % 8 == 0)
                return (*held)[at / 8];
            return mem_.read_u64(Addr(a));
        };
        if (auto target = wrapper_call_target(bin_, dis_, *f, closure.value(), read)) {
            callee = func_name_at(Addr(*target));
            // A method value's own wrapper (T.m-fm) calls the method.
            if (auto g = walker_.func_at(Addr(*target)); g && g->funcid == bin_.facts().funcid_wrapper)
                if (auto inner = wrapped_callee(bin_, dis_, *g))
                    callee = *inner;
        }
    }
    if (code.is_null() && closure.is_null())
        return {"nil", {}}; // `defer f()` of a nil func value; its call panics
    if (callee.empty())
        return {names.raw, {}};
    return {callee, names.raw};
}

Site Symbolizer::user_site(Addr pc, Addr sp) const {
    auto frames = walker_.walk(pc, sp, 64);
    for (size_t i = 1; i < frames.size(); ++i) {
        if (is_runtime_function(frames[i].name))
            continue;
        // A frame entered through sigpanic faulted at its pc: no call instruction precedes it.
        const bool after_sigpanic = frames[i - 1].name == "runtime.sigpanic";
        return site_at(frames[i].pc, !after_sigpanic);
    }
    return frames.size() > 1 ? site_at(frames[1].pc, true) : Site{};
}

std::vector<Site> Symbolizer::call_stack(const CallSite &at) const {
    std::vector<Site> stack;
    if (at.pc.is_null())
        return stack;
    bool innermost = true;
    for (const auto &f : walker_.walk(at.pc, at.sp, 16)) {
        if (f.name == "runtime.goexit")
            break;
        const LinkAddr call = innermost ? at.call : walker_.to_link(f.pc) - 1;
        innermost = false;
        append_frame(f, call, stack);
    }
    return stack;
}

void Symbolizer::append_frame(const Frame &f, LinkAddr call, std::vector<Site> &out) const {
    // A call site inside inlined code (db.Begin inlined into the handler) is that many frames,
    // innermost first, as Go's own tracebacks print them.
    Site outer = site_at(walker_.to_runtime(call), false);
    LinkAddr pc = call;
    for (const auto &in : bin_.inlined_calls(f.func, call)) {
        Site s{std::string(in.name), {}, 0};
        if (auto pos = bin_.pclntab().source_at(f.func, pc)) {
            s.file = std::string(pos->file);
            s.line = pos->line;
        }
        out.push_back(std::move(s));
        pc = in.call_pc;
    }
    if (pc != call)
        if (auto pos = bin_.pclntab().source_at(f.func, pc)) {
            outer.file = std::string(pos->file);
            outer.line = pos->line;
        }
    out.push_back(std::move(outer));
}

Symbolizer::PanicStack Symbolizer::panic_stack(Addr pc, Addr sp, size_t limit) const {
    PanicStack stack;
    const std::vector<Frame> frames = walker_.walk(pc, sp, limit + 1);
    stack.truncated = frames.size() > limit;
    for (size_t i = 0; i < frames.size() && i < limit; ++i) {
        const Frame &f = frames[i];
        if (is_runtime_function(f.name))
            continue; // gopanic itself, panicIndex, sigpanic, runtime.main, goexit
        // A frame entered through sigpanic faulted at its pc: no call instruction precedes it.
        const bool faulted = i > 0 && frames[i - 1].name == "runtime.sigpanic";
        std::vector<Site> sites;
        append_frame(f, walker_.to_link(f.pc) - (faulted ? 0 : 1), sites);
        // A compiler-generated wrapper (a pointer method's for a value method, a deferwrap) that
        // called the function it wraps is not shown, as Go's traceback elides it; one that
        // called into the runtime (panicwrap's nil receiver, `defer panic(v)`) is where it
        // happened.
        const bool called_runtime = i > 0 && is_runtime_function(frames[i - 1].name);
        if (f.func.funcid == bin_.facts().funcid_wrapper && (sites.size() > 1 || !called_runtime))
            sites.pop_back();
        for (auto &s : sites)
            if (!is_runtime_function(s.function)) // the runtime's helpers inlined into the program
                stack.frames.push_back(std::move(s));
    }
    // The program's frames, and the library's frames between them and below them (a panic raised
    // in regexp.MustCompile); not the library's frames that called into the program.
    const auto outermost = std::find_if(stack.frames.rbegin(), stack.frames.rend(),
                                        [this](const Site &s) { return !is_std_function(s.function, main_module_); });
    if (outermost != stack.frames.rend())
        stack.frames.erase(outermost.base(), stack.frames.end());
    return stack;
}

Site Symbolizer::program_site(const std::vector<Site> &stack) {
    for (const Site &s : stack)
        if (!is_std_function(s.function, ""))
            return s;
    return stack.empty() ? Site{} : stack.front();
}

} // namespace deftrace
