#include "analysis/wrapped_callee.h"

#include <algorithm>
#include <array>

namespace deftrace {

namespace {

// A builtin in a defer statement (`defer close(ch)`, `defer println(x)`) is compiled into a
// wrapper that calls the runtime function implementing it (walk.wrapGoDefer; walk/builtin.go):
// the program wrote the builtin. println and print both start with printlock; println also
// prints the newline (printnl).
std::optional<std::string> builtin_of(std::string_view runtime_fn, const std::vector<std::string> &calls) {
    if (runtime_fn == "runtime.printlock")
        return std::find(calls.begin(), calls.end(), "runtime.printnl") != calls.end() ? "println" : "print";
    if (runtime_fn == "runtime.closechan")
        return "close";
    if (runtime_fn == "runtime.gopanic")
        return "panic";
    if (runtime_fn == "runtime.gorecover")
        return "recover";
    if (runtime_fn.starts_with("runtime.mapdelete"))
        return "delete";
    if (runtime_fn == "runtime.mapclear")
        return "clear";
    return std::nullopt;
}

} // namespace

std::optional<std::string> builtin_deferred_directly(std::string_view runtime_fn) {
    if (runtime_fn == "runtime.printlock")
        return std::nullopt; // print and println need a wrapper of their own in every release
    return builtin_of(runtime_fn, {});
}

bool is_defer_wrapper(const GoBinary &bin, const FuncInfo &f) {
    if (f.funcid == bin.facts().funcid_wrapper)
        return true;
    // ≤1.16: `defer print(...)` / `defer println(...)` defers a function of its own,
    // pkg.wrap·N (gc.walkprintfunc), not marked as a wrapper.
    const std::string_view name = bin.pclntab().func_name(f);
    const size_t dot = name.rfind('.');
    return dot != std::string_view::npos && name.substr(dot + 1).starts_with("wrap\u00b7");
}

std::optional<std::string> wrapped_callee(const GoBinary &bin, const Disassembler &dis, const FuncInfo &f) {
    if (!is_defer_wrapper(bin, f) || f.end <= f.entry)
        return std::nullopt;
    const Pclntab &tab = bin.pclntab();
    const auto insns = dis.decode(bin.code(f), f.entry);
    auto direct_calls = [&] {
        std::vector<std::string> out;
        for (const Instruction &in : insns)
            if (in.op == Op::Call && in.branch_target)
                if (auto callee = tab.find_func(*in.branch_target))
                    out.emplace_back(tab.func_name(*callee));
        return out;
    };
    for (const Instruction &in : insns) {
        if (auto inl = bin.outermost_inlined(f, in.address))
            return std::string(*inl);
        if (in.op != Op::Call)
            continue;
        if (!in.branch_target)
            return std::nullopt;
        auto callee = tab.find_func(*in.branch_target);
        if (!callee)
            return std::nullopt;
        std::string name(tab.func_name(*callee));
        // The stack-growth call sits after the body, but be safe against block reordering.
        if (name.starts_with("runtime.morestack"))
            continue;
        if (name.starts_with("runtime."))
            if (auto builtin = builtin_of(name, direct_calls()))
                return builtin;
        return name;
    }
    return std::nullopt;
}

std::optional<uint64_t> wrapper_call_target(const GoBinary &bin, const Disassembler &dis, const FuncInfo &f,
                                            uint64_t closure, const ReadWord &read) {
    if (f.funcid != bin.facts().funcid_wrapper || f.end <= f.entry)
        return std::nullopt;
    // Known register values along the fall-through path (the stack check and the wrapper's
    // panic-argp adjustment branch away and come back; neither touches what is loaded here).
    std::array<std::optional<uint64_t>, 18> reg{};
    auto slot = [](Gpr r) { return static_cast<size_t>(r); };
    reg[slot(Gpr::Rdx)] = closure;
    for (const Instruction &in : dis.decode(bin.code(f), f.entry)) {
        if (in.op == Op::Call) {
            if (in.branch_target || in.operands.size() != 1 || in.operands[0].kind != Operand::Kind::Reg)
                return std::nullopt;
            return reg[slot(in.operands[0].reg)];
        }
        if (in.op == Op::Ret)
            return std::nullopt;
        if (in.op == Op::Mov && in.operands.size() == 2 && in.operands[0].kind == Operand::Kind::Reg &&
            in.operands[0].size == 8) {
            const Operand &dst = in.operands[0], &src = in.operands[1];
            std::optional<uint64_t> v;
            if (src.kind == Operand::Kind::Reg && src.reg != Gpr::None)
                v = reg[slot(src.reg)];
            else if (src.kind == Operand::Kind::Mem && src.mem.index == Gpr::None && src.mem.base != Gpr::Rip &&
                     !src.mem.fs_segment && reg[slot(src.mem.base)])
                v = read(*reg[slot(src.mem.base)] + static_cast<uint64_t>(src.mem.disp));
            reg[slot(dst.reg)] = v;
            continue;
        }
        for (size_t r = 0; r < reg.size(); ++r)
            if (in.writes_gpr(static_cast<Gpr>(r)))
                reg[r].reset();
    }
    return std::nullopt;
}

} // namespace deftrace
