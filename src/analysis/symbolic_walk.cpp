#include "analysis/symbolic_walk.h"

#include <array>
#include <map>
#include <set>
#include <unordered_map>

namespace deftrace {

namespace {

constexpr size_t kGprs = static_cast<size_t>(Gpr::Rip) + 1;
constexpr std::array kArgRegs = {Gpr::Rax, Gpr::Rbx, Gpr::Rcx, Gpr::Rdi, Gpr::Rsi,
                                 Gpr::R8,  Gpr::R9,  Gpr::R10, Gpr::R11};

// What is known at one instruction: each register's value, the stack words written so far (by
// entry-SP offset), and where SP is relative to its value at entry.
struct State {
    std::array<SymId, kGprs> regs{};
    std::map<int64_t, SymId> slots;
    int64_t sp = 0;
    std::set<int64_t> fresh; // slots written since the last call: a stack call's arguments
};

bool never_returns(std::string_view callee) {
    return callee == "runtime.throw" || callee == "runtime.fatal" || callee.starts_with("runtime.morestack") ||
           callee.starts_with("runtime.panic") || callee == "runtime.gopanic" || callee == "runtime.badmcall" ||
           callee == "runtime.badmcall2";
}

class Walker {
public:
    Walker(const GoBinary &bin, CallingConvention cc) : bin_(bin), cc_(cc) {}

    WalkResult run(const std::vector<Instruction> &code);

private:
    SymId intern(SymKind kind, int64_t n, SymId base = 0, std::string callee = {});
    State entry_state();
    // The value an operand reads (a load is recorded when it reads memory).
    SymId read(State &s, const Instruction &in, const Operand &op);
    void write(State &s, const Operand &op, SymId value);
    // The address a memory operand names, as (base, offset): base 0 when unknown; a stack
    // address has base `stack_` and its entry-SP offset.
    std::pair<SymId, int64_t> address(const State &s, const Instruction &in, const MemOperand &m);
    void step(State &s, const Instruction &in);
    void call(State &s, const Instruction &in);

    const GoBinary &bin_;
    CallingConvention cc_;
    WalkResult out_;
    SymId stack_ = 0; // marker base for stack addresses
    std::map<std::tuple<SymKind, int64_t, SymId, std::string>, SymId> interned_;
};

SymId Walker::intern(SymKind kind, int64_t n, SymId base, std::string callee) {
    auto key = std::make_tuple(kind, n, base, callee);
    if (auto it = interned_.find(key); it != interned_.end())
        return it->second;
    out_.syms.push_back(Sym{kind, n, base, std::move(callee)});
    const auto id = static_cast<SymId>(out_.syms.size() - 1);
    interned_.emplace(std::move(key), id);
    return id;
}

State Walker::entry_state() {
    State s;
    s.slots[0] = intern(SymKind::ReturnPc, 0);
    for (size_t i = 0; i < kArgRegs.size(); ++i) {
        if (cc_ == CallingConvention::Register)
            s.regs[static_cast<size_t>(kArgRegs[i])] = intern(SymKind::Arg, static_cast<int64_t>(i));
        else
            s.slots[8 + 8 * static_cast<int64_t>(i)] = intern(SymKind::Arg, static_cast<int64_t>(i));
    }
    if (cc_ == CallingConvention::Register)
        s.regs[static_cast<size_t>(Gpr::R14)] = intern(SymKind::G, 0);
    return s;
}

std::pair<SymId, int64_t> Walker::address(const State &s, const Instruction &in, const MemOperand &m) {
    if (m.index != Gpr::None)
        return {0, 0};
    if (m.base == Gpr::Rsp)
        return {stack_, s.sp + m.disp};
    if (m.base == Gpr::Rip)
        return {0, static_cast<int64_t>(in.next().value()) + m.disp};
    if (m.base == Gpr::None)
        return {0, m.disp};
    const SymId base = s.regs[static_cast<size_t>(m.base)];
    if (base != 0 && out_.syms[base].kind == SymKind::Stack) // a copy of SP (mov %rsp,%rbx)
        return {stack_, out_.syms[base].n + m.disp};
    if (base != 0 && out_.syms[base].kind == SymKind::Address) // through a field's address
        return {out_.syms[base].base, out_.syms[base].n + m.disp};
    return {base, m.disp};
}

SymId Walker::read(State &s, const Instruction &in, const Operand &op) {
    if (op.kind == Operand::Kind::Reg) {
        if (op.reg == Gpr::Rsp)
            return intern(SymKind::Stack, s.sp);
        return op.reg == Gpr::None ? 0 : s.regs[static_cast<size_t>(op.reg)];
    }
    if (op.kind == Operand::Kind::Imm)
        return intern(SymKind::Imm, op.imm);
    const MemOperand &m = op.mem;
    // g in thread-local storage at fs:-8 (go_tls.h), addressed directly or through a register
    // holding -8 (PIE).
    if (m.fs_segment) {
        const bool minus8 = (m.base == Gpr::None && m.disp == -8) ||
                            (m.base != Gpr::None && out_.is(s.regs[static_cast<size_t>(m.base)], SymKind::Imm, -8));
        return minus8 ? intern(SymKind::G, 0) : 0;
    }
    if (m.index != Gpr::None && m.base != Gpr::None && m.base != Gpr::Rsp && m.base != Gpr::Rip)
        if (const SymId b = s.regs[static_cast<size_t>(m.base)]; b != 0 && out_.syms[b].kind == SymKind::Field)
            out_.mem.push_back({MemEvent::Kind::IndexedLoad, b, m.disp, op.size, 0});
    auto [base, off] = address(s, in, m);
    if (base == stack_ && base != 0) {
        auto it = s.slots.find(off);
        return it == s.slots.end() ? 0 : it->second;
    }
    if (base == 0 || out_.syms[base].kind == SymKind::Imm)
        return 0;
    const SymId v = intern(SymKind::Field, off, base);
    out_.mem.push_back({MemEvent::Kind::Load, base, off, op.size, v});
    return v;
}

void Walker::write(State &s, const Operand &op, SymId value) {
    if (op.kind == Operand::Kind::Reg) {
        if (op.reg != Gpr::None && op.reg != Gpr::Rsp)
            s.regs[static_cast<size_t>(op.reg)] = value;
        return;
    }
    if (op.kind != Operand::Kind::Mem || op.mem.fs_segment)
        return;
    auto [base, off] = address(s, Instruction{}, op.mem);
    if (base == stack_ && base != 0) {
        s.slots[off] = op.size == 8 ? value : 0;
        s.fresh.insert(off);
        out_.stack_stores.push_back({off, value});
    } else if (base != 0 && op.mem.base != Gpr::Rip) {
        out_.mem.push_back({MemEvent::Kind::Store, base, off, op.size, value});
    }
}

void Walker::call(State &s, const Instruction &in) {
    CallEvent c;
    if (in.branch_target)
        if (auto f = bin_.pclntab().find_func(*in.branch_target))
            c.callee = std::string(bin_.pclntab().func_name(*f));
    for (Gpr r : {Gpr::Rax, Gpr::Rbx, Gpr::Rcx, Gpr::Rdi})
        c.reg_args.push_back(s.regs[static_cast<size_t>(r)]);
    for (int64_t i = 0; i < 4; ++i) {
        auto it = s.slots.find(s.sp + 8 * i);
        c.stack_args.push_back(it == s.slots.end() ? 0 : it->second);
    }
    // The write barrier's entry points save every register they use (asm_amd64.s); from 1.21
    // gcWriteBarrierN returns the buffer it reserved in R11.
    if (c.callee.starts_with("runtime.gcWriteBarrier")) {
        s.regs[static_cast<size_t>(Gpr::R11)] = 0;
        out_.calls.push_back(std::move(c));
        return;
    }
    const SymId g = s.regs[static_cast<size_t>(Gpr::R14)];
    s.regs.fill(0);
    if (cc_ == CallingConvention::Register) {
        s.regs[static_cast<size_t>(Gpr::R14)] = g; // ABIInternal keeps g in R14 across calls
        s.regs[static_cast<size_t>(Gpr::Rax)] = intern(SymKind::Result, 0, 0, c.callee);
    } else if (in.branch_target) {
        // ABI0: the callee's results follow its arguments in the caller's outgoing area. The
        // words the caller did not write for this call (of the callee's _func.args) are results:
        // Result n is the word at SP + 8n.
        if (auto f = bin_.pclntab().find_func(*in.branch_target); f && f->args > 0 && f->args <= 1024)
            for (int64_t k = 0; k < f->args / 8; ++k)
                if (!s.fresh.contains(s.sp + 8 * k))
                    s.slots[s.sp + 8 * k] = intern(SymKind::Result, k, 0, c.callee);
    }
    s.fresh.clear();
    out_.calls.push_back(std::move(c));
}

void Walker::step(State &s, const Instruction &in) {
    const auto &ops = in.operands;
    auto is_sp = [](const Operand &o) { return o.kind == Operand::Kind::Reg && o.reg == Gpr::Rsp; };
    // A sign-extending load names its field as a zero-extending one does (`movsxd (%rax),%rcx`:
    // freedefer's d.siz, ≤1.17); the decoder leaves it as Op::Other.
    const bool extends = in.op == Op::Other && in.text.starts_with("movsx");
    switch (extends ? Op::Movzx : in.op) {
    case Op::Mov:
    case Op::MovImm:
    case Op::Movzx:
        if (ops.size() == 2)
            write(s, ops[0], read(s, in, ops[1]));
        return;
    case Op::Lea:
        if (ops.size() == 2 && ops[1].kind == Operand::Kind::Mem) {
            auto [base, off] = address(s, in, ops[1].mem);
            SymId v = 0;
            if (base == stack_ && base != 0)
                v = intern(SymKind::Stack, off);
            else if (ops[1].mem.base == Gpr::Rip && ops[1].mem.index == Gpr::None)
                v = intern(SymKind::Static, off);
            else if (base != 0 && out_.syms[base].kind != SymKind::Imm)
                v = intern(SymKind::Address, off, base);
            write(s, ops[0], v);
        }
        return;
    case Op::Cmp:
        if (ops.size() == 2) {
            const int m = ops[0].kind == Operand::Kind::Mem ? 0 : ops[1].kind == Operand::Kind::Mem ? 1 : -1;
            if (m < 0) {
                out_.reg_compares.emplace_back(read(s, in, ops[0]), read(s, in, ops[1]));
            } else if (auto [base, off] = address(s, in, ops[m].mem); base != 0 && base != stack_) {
                out_.mem.push_back({MemEvent::Kind::Compare, base, off, ops[m].size, read(s, in, ops[1 - m])});
            }
        }
        return;
    case Op::Cmpxchg:
        if (!ops.empty() && ops[0].kind == Operand::Kind::Mem)
            if (auto [base, off] = address(s, in, ops[0].mem); base != 0 && base != stack_)
                out_.mem.push_back({MemEvent::Kind::Cmpxchg, base, off, ops[0].size, 0});
        break;
    case Op::Add:
    case Op::Sub:
        if (ops.size() == 2 && is_sp(ops[0]) && ops[1].kind == Operand::Kind::Imm) {
            s.sp += in.op == Op::Add ? ops[1].imm : -ops[1].imm;
            return;
        }
        if (in.op == Op::Sub && !ops.empty())
            out_.subtracted_from.push_back(read(s, in, ops[0]));
        // A field's address computed by adding its offset (add $0x90,%rax), as lea does.
        if (ops.size() == 2 && ops[0].kind == Operand::Kind::Reg && ops[1].kind == Operand::Kind::Imm &&
            ops[0].reg != Gpr::None && ops[0].size == 8) {
            const SymId v = s.regs[static_cast<size_t>(ops[0].reg)];
            const int64_t delta = in.op == Op::Add ? ops[1].imm : -ops[1].imm;
            if (v != 0 && (out_.syms[v].kind == SymKind::Field || out_.syms[v].kind == SymKind::Arg ||
                           out_.syms[v].kind == SymKind::G || out_.syms[v].kind == SymKind::Result)) {
                write(s, ops[0], intern(SymKind::Address, delta, v));
                return;
            }
            if (v != 0 && out_.syms[v].kind == SymKind::Address) {
                write(s, ops[0], intern(SymKind::Address, out_.syms[v].n + delta, out_.syms[v].base));
                return;
            }
        }
        break;
    case Op::Push:
        s.sp -= 8;
        s.slots[s.sp] = ops.empty() ? 0 : read(s, in, ops[0]);
        return;
    case Op::Pop:
        if (!ops.empty())
            write(s, ops[0], s.slots[s.sp]);
        s.sp += 8;
        return;
    case Op::Xor:
        if (ops.size() == 2 && ops[0].kind == Operand::Kind::Reg && ops[1].kind == Operand::Kind::Reg &&
            ops[0].reg == ops[1].reg) {
            write(s, ops[0], intern(SymKind::Imm, 0));
            return;
        }
        break;
    case Op::Call: call(s, in); return;
    default: break;
    }
    for (size_t r = 1; r < kGprs; ++r)
        if (in.writes_gpr(static_cast<Gpr>(r)) && static_cast<Gpr>(r) != Gpr::Rsp)
            s.regs[r] = 0;
}

WalkResult Walker::run(const std::vector<Instruction> &code) {
    stack_ = intern(SymKind::Stack, INT64_MIN); // a base no real value has
    std::unordered_map<uint64_t, size_t> index;
    for (size_t i = 0; i < code.size(); ++i)
        index.emplace(code[i].address.value(), i);
    std::vector<bool> visited(code.size(), false);
    std::vector<std::pair<size_t, State>> work{{0, entry_state()}};
    while (!work.empty()) {
        auto [i, s] = std::move(work.back());
        work.pop_back();
        while (i < code.size() && !visited[i]) {
            visited[i] = true;
            const Instruction &in = code[i];
            auto target = [&]() -> std::optional<size_t> {
                if (!in.branch_target)
                    return std::nullopt;
                auto it = index.find(in.branch_target->value());
                return it == index.end() ? std::nullopt : std::optional<size_t>(it->second);
            };
            if (in.op == Op::Ret) {
                out_.returns.emplace_back(s.regs[static_cast<size_t>(Gpr::Rax)], s.regs[static_cast<size_t>(Gpr::Rbx)]);
                break;
            }
            if (in.op == Op::Int3 || (in.op == Op::Jmp && !target()))
                break;
            if (in.op == Op::Jmp) {
                i = *target();
                continue;
            }
            if (in.op == Op::Jcc)
                if (auto t = target())
                    work.emplace_back(*t, s);
            step(s, in);
            if (in.op == Op::Call && never_returns(out_.calls.back().callee))
                break;
            ++i;
        }
    }
    return std::move(out_);
}

} // namespace

SymId WalkResult::field(SymId base, int64_t offset) const {
    for (SymId id = 1; id < syms.size(); ++id)
        if (syms[id].kind == SymKind::Field && syms[id].base == base && syms[id].n == offset)
            return id;
    return 0;
}

SymId WalkResult::find(SymKind kind, int64_t n) const {
    for (SymId id = 1; id < syms.size(); ++id)
        if (syms[id].kind == kind && syms[id].n == n && syms[id].base == 0)
            return id;
    return 0;
}

std::optional<int64_t> WalkResult::offset_in(SymId id, SymId base) const {
    if (id == 0 || syms[id].kind != SymKind::Field || syms[id].base != base)
        return std::nullopt;
    return syms[id].n;
}

WalkResult walk_function(const GoBinary &bin, const Disassembler &dis, const FuncInfo &f, CallingConvention cc) {
    return Walker(bin, cc).run(dis.decode(bin.code(f), f.entry));
}

} // namespace deftrace
