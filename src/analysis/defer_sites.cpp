#include "analysis/defer_sites.h"

#include "binary/error.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <unordered_map>

namespace deftrace {

const char *to_string(DeferKind k) {
    switch (k) {
    case DeferKind::OpenCoded: return "open-coded";
    case DeferKind::Stack: return "stack";
    case DeferKind::Heap: return "heap";
    }
    return "?";
}

namespace {

struct RegistrationCall {
    LinkAddr entry;
    std::string_view name;
    DeferKind kind;
};

// What a value stored into the frame is, traced back through registers and spill slots to the
// instruction that made it. The compiler (ssagen openDeferSave / openDeferExit) computes
// deferBits |= 1<<i at a defer statement and &^= 1<<i before each inline call at an exit; the
// value may sit in a register, be spilled across a call, or be folded into a setcc.
uint8_t highest_bit(uint8_t v) {
    return static_cast<uint8_t>(1u << (7 - std::countl_zero(v)));
}

struct Traced {
    enum class What { Unknown, Zero, Set, Clear, Address, FrameAddress } what = What::Unknown;
    uint8_t bits = 0;                // Set: bit(s) added; Clear: bit(s) removed
    LinkAddr address;                // Address: the RIP-relative address loaded by LEA
    int64_t frame_key = 0;           // FrameAddress: the frame location whose address LEA took
    std::optional<uint8_t> constant; // the whole stored byte, when it is a known constant

    static Traced zero() {
        Traced t = make(What::Zero, 0);
        t.constant = 0;
        return t;
    }
    // A constant store: at statement i the compiler stores (earlier bits) | 1<<i, so taken alone
    // it registers its highest bit; find_open_coded refines this against the previous store.
    static Traced constant_bits(uint8_t v) {
        Traced t = v == 0 ? zero() : set(highest_bit(v));
        t.constant = v;
        return t;
    }
    static Traced set(uint8_t bits) { return make(What::Set, bits); }
    static Traced clear(uint8_t bits) { return make(What::Clear, bits); }
    static Traced frame_addr(int64_t key) {
        Traced t = make(What::FrameAddress, 0);
        t.frame_key = key;
        return t;
    }
    [[nodiscard]] bool same_value(const Traced &o) const {
        return what == o.what && (what == What::Zero || (what == What::Address && address == o.address) ||
                                  (what == What::FrameAddress && frame_key == o.frame_key));
    }
    static Traced addr(LinkAddr a) {
        Traced t = make(What::Address, 0);
        t.address = a;
        return t;
    }

private:
    static Traced make(What w, uint8_t b) {
        Traced t;
        t.what = w;
        t.bits = b;
        return t;
    }
};

class FrameDataflow {
public:
    FrameDataflow(const std::vector<Instruction> &insns, const PcValueTable &pcsp) : insns_(insns) {
        spdelta_.reserve(insns.size());
        for (const auto &in : insns)
            spdelta_.push_back(pcsp.at(in.address));
    }

    // A frame location independent of the current SP adjustment: SP-relative displacement minus
    // the pcsp delta, i.e. an offset from the entry SP. nullopt for anything not [rsp + disp].
    [[nodiscard]] std::optional<int64_t> frame_key(size_t k, const Operand &op) const {
        if (op.kind != Operand::Kind::Mem || op.mem.base != Gpr::Rsp || op.mem.index != Gpr::None || !spdelta_[k])
            return std::nullopt;
        return op.mem.disp - *spdelta_[k];
    }
    [[nodiscard]] std::optional<int32_t> spdelta(size_t k) const { return spdelta_[k]; }

    // The value written by store instruction k.
    [[nodiscard]] Traced stored(size_t k, int depth = 0) const {
        const Instruction &in = insns_[k];
        if (in.operands.size() != 2 || depth > 4)
            return {};
        const Operand &src = in.operands[1];
        if (src.kind == Operand::Kind::Imm) {
            auto v = static_cast<uint8_t>(src.imm);
            switch (in.op) {
            case Op::MovImm: return Traced::constant_bits(v);
            case Op::Or: return Traced::set(v);
            case Op::And: return Traced::clear(static_cast<uint8_t>(~v));
            default: return {};
            }
        }
        if (src.kind == Operand::Kind::Reg && src.reg != Gpr::None && in.op == Op::Mov)
            return reg_value(k, src.reg, depth);
        return {};
    }

    // The value of `reg` just before instruction k.
    [[nodiscard]] Traced reg_value(size_t k, Gpr reg, int depth) const {
        for (size_t steps = 0; k > 0 && steps < 128; ++steps) {
            const Instruction &in = insns_[--k];
            if (in.op == Op::Call)
                return {}; // clobbers every register
            if (!in.writes_gpr(reg))
                continue;
            const auto &ops = in.operands;
            const bool dst_is_reg = !ops.empty() && ops[0].kind == Operand::Kind::Reg && ops[0].reg == reg;
            if (!dst_is_reg)
                return {};
            if (in.op == Op::Setcc)
                return Traced::set(1); // a conditional first defer folded into setcc: 0 or 1
            if (ops.size() != 2)
                return {};
            const Operand &src = ops[1];
            if (src.kind == Operand::Kind::Imm) {
                auto v = static_cast<uint8_t>(src.imm);
                if (in.op == Op::Or)
                    return Traced::set(v);
                if (in.op == Op::And)
                    return Traced::clear(static_cast<uint8_t>(~v));
                if (in.op == Op::MovImm)
                    return Traced::constant_bits(v);
                return {};
            }
            if (in.op == Op::Xor && src.kind == Operand::Kind::Reg && src.reg == reg)
                return Traced::zero();
            if (in.op == Op::Mov && src.kind == Operand::Kind::Reg && src.reg != Gpr::None) {
                reg = src.reg; // a register copy
                continue;
            }
            if (in.op == Op::Lea && src.kind == Operand::Kind::Mem && src.mem.base == Gpr::Rip)
                return Traced::addr(in.next() + static_cast<uint64_t>(src.mem.disp));
            if (in.op == Op::Lea)
                if (auto key = frame_key(k, src))
                    return Traced::frame_addr(*key); // a closure built in the frame
            if ((in.op == Op::Mov || in.op == Op::Movzx) && depth < 4) {
                // A reload from a spill slot: the value is whatever was stored there last.
                if (auto key = frame_key(k, src))
                    if (auto j = last_store_to(k, *key))
                        return stored(*j, depth + 1);
            }
            return {};
        }
        return {};
    }

private:
    [[nodiscard]] std::optional<size_t> last_store_to(size_t k, int64_t key) const {
        for (size_t steps = 0; k > 0 && steps < 96; ++steps) {
            const Instruction &in = insns_[--k];
            if (in.operands.size() == 2 && (in.op == Op::Mov || in.op == Op::MovImm)) {
                if (auto kk = frame_key(k, in.operands[0]); kk && *kk == key)
                    return k;
            }
        }
        return std::nullopt;
    }

    const std::vector<Instruction> &insns_;
    std::vector<std::optional<int32_t>> spdelta_;
};

// The value of the deferBits byte known on entry to each instruction, over the function's control
// flow: a constant when every path agrees, else unknown. Stores of constants set it; other stores
// make it unknown. (Calls leave it alone: it lives in the frame.)
class BitsValueFlow {
public:
    static constexpr int kUnreached = -2, kUnknown = -1;

    BitsValueFlow(const std::vector<Instruction> &insns, const std::vector<bool> &is_bits_store,
                  const std::vector<std::optional<uint8_t>> &stored_constant)
        : before_(insns.size(), kUnreached) {
        std::unordered_map<LinkAddr, size_t> index;
        for (size_t i = 0; i < insns.size(); ++i)
            index.emplace(insns[i].address, i);
        std::vector<size_t> work;
        if (!insns.empty()) {
            before_[0] = kUnknown;
            work.push_back(0);
        }
        auto flow_to = [&](size_t to, int v) {
            int &cur = before_[to];
            int merged = cur == kUnreached ? v : (cur == v ? v : kUnknown);
            if (merged != cur) {
                cur = merged;
                work.push_back(to);
            }
        };
        while (!work.empty()) {
            size_t i = work.back();
            work.pop_back();
            const Instruction &in = insns[i];
            int out = before_[i];
            if (is_bits_store[i])
                out = stored_constant[i] ? *stored_constant[i] : kUnknown;
            const bool falls = in.op != Op::Jmp && in.op != Op::Ret && in.op != Op::Int3;
            if (falls && i + 1 < insns.size())
                flow_to(i + 1, out);
            if ((in.op == Op::Jmp || in.op == Op::Jcc) && in.branch_target)
                if (auto it = index.find(*in.branch_target); it != index.end())
                    flow_to(it->second, out);
        }
    }
    // Known value before instruction i, or kUnknown / kUnreached.
    [[nodiscard]] int before(size_t i) const { return before_[i]; }

private:
    std::vector<int> before_;
};

// What the analysis of one function's open-coded defers has found so far, handed from phase to
// phase (FunctionAnalyzer::find_open_coded).
struct OpenCodedScan {
    OpenCodedScan(const std::vector<Instruction> &insns, const PcValueTable &pcsp, const OpenDeferInfo &odi)
        : info(odi), flow(insns, pcsp), bits_key(-8 - static_cast<int64_t>(odi.deferbits_offset)),
          is_bits_store(insns.size(), false), constant(insns.size()), stored(insns.size()),
          max_bit(odi.defer_count ? static_cast<int>(*odi.defer_count) - 1 : 0) {
        frame.info = odi;
    }

    // Frame keys are offsets from the entry SP (where the return address is). With frame
    // pointers on amd64 varp = entry SP - 8 (traceback.go: fp = sp + spdelta + 8, minus the
    // return address and the saved RBP), so an object at varp - off has key -8 - off.
    [[nodiscard]] std::optional<int64_t> slot_key(int b) const {
        auto off = info.closure_offset(b);
        return off ? std::optional<int64_t>(-8 - *off) : std::nullopt;
    }

    const OpenDeferInfo &info;
    const FrameDataflow flow;
    OpenCodedFrame frame;
    const int64_t bits_key; // the deferBits byte's frame key

    // The stores to deferBits.
    std::vector<size_t> bits_stores;
    std::vector<bool> is_bits_store;                     // per instruction
    std::vector<std::optional<uint8_t>> constant;        // per instruction: the constant a bits store stores
    std::vector<Traced> stored;                          // per instruction: what a bits store stores
    std::optional<int32_t> body_sp;                      // the pcsp delta at the bits stores
    std::map<int, DeferSite> by_bits;                    // bit -> first store that sets it
    std::vector<std::pair<size_t, uint8_t>> exit_stores; // store index, bits cleared (0: unknown)
    std::map<size_t, uint8_t> prev_of;                   // exit store -> value known before it
    uint8_t merged_bits = 0;                             // bits registered by a store that sets several at once
    uint8_t registered = 0;                              // bits set by the registrations classified so far
    int max_bit;

    // The stores to the closure slots.
    std::map<int, DeferSite> by_slot;
    std::map<int, std::string> static_target;       // bit -> function a static funcval points at
    std::map<int, std::vector<Traced>> slot_values; // bit -> values stored in its slot (all 8)
};

class FunctionAnalyzer {
public:
    FunctionAnalyzer(const GoBinary &bin, const Disassembler &dis, const std::vector<RegistrationCall> &calls)
        : bin_(bin), tab_(bin.pclntab()), dis_(dis), calls_(calls) {}

    std::optional<FunctionDefers> run(const FuncInfo &f, bool has_calls) {
        auto odi = bin_.open_defer_info(f);
        if (!odi && !has_calls)
            return std::nullopt;
        FunctionDefers out;
        out.name = std::string(tab_.func_name(f));
        out.entry = f.entry;
        out.end = f.end;
        if (auto pos = tab_.source_at(f, f.entry)) {
            out.file = std::string(pos->file);
            out.line = f.start_line > 0 ? f.start_line : pos->line;
        }
        if (f.deferreturn != 0)
            out.deferreturn_call = f.entry + f.deferreturn;

        insns_ = dis_.decode(bin_.code(f), f.entry);
        pcfile_ = tab_.pc_table(f, f.pcfile);
        pcln_ = tab_.pc_table(f, f.pcln);
        func_ = f;

        find_runtime_calls(out);
        if (odi)
            find_open_coded(out, *odi);
        if (out.deferreturn_call)
            check_deferreturn(out);
        std::sort(out.sites.begin(), out.sites.end(),
                  [](const DeferSite &a, const DeferSite &b) { return a.pc < b.pc; });
        if (out.sites.empty() && !out.open_coded)
            return std::nullopt;
        return out;
    }

private:
    void set_pos(DeferSite &s) const {
        auto file = pcfile_.at(s.pc);
        auto line = pcln_.at(s.pc);
        if (file)
            s.file = std::string(tab_.file_name(func_, *file));
        if (line)
            s.line = *line;
    }

    std::string name_at(LinkAddr a) const {
        auto f = tab_.find_func(a);
        if (!f)
            return {};
        std::string n(tab_.func_name(*f));
        if (f->entry != a)
            n += "+" + to_hex(a - f->entry);
        return n;
    }

    void find_runtime_calls(FunctionDefers &out) const {
        for (const auto &in : insns_) {
            if (in.op != Op::Call || !in.branch_target)
                continue;
            for (const auto &c : calls_) {
                if (c.entry != *in.branch_target)
                    continue;
                DeferSite s;
                s.kind = c.kind;
                s.pc = in.address;
                s.runtime_call = std::string(c.name);
                set_pos(s);
                out.sites.push_back(std::move(s));
            }
        }
    }

    void find_open_coded(FunctionDefers &out, const OpenDeferInfo &info) {
        OpenCodedScan s(insns_, tab_.pcsp(func_), info);
        find_bits_stores(s);
        classify_bits_stores(s, out);
        if (!s.body_sp) {
            out.notes.push_back("no store to the deferBits byte found");
            out.open_coded = std::move(s.frame);
            return;
        }
        collect_slot_values(s);
        scan_slots(s, s.max_bit);
        find_exits(s, out);
        find_forwarded_exits(s);
        find_folded_exit(s);
        // A bit seen only at exits was registered by a store that was optimised away.
        int exit_max = s.max_bit;
        for (const auto &e : s.frame.exits)
            exit_max = std::max(exit_max, e.bit);
        if (exit_max > s.max_bit) {
            s.max_bit = exit_max;
            scan_slots(s, s.max_bit);
        }
        add_open_coded_sites(s, out);
        finish_frame(s, out);
    }

    // Every byte-sized store to the deferBits frame location.
    void find_bits_stores(OpenCodedScan &s) const {
        for (size_t k = 0; k < insns_.size(); ++k) {
            const Instruction &in = insns_[k];
            if (in.operands.size() != 2 || in.operands[0].size != 1)
                continue;
            auto key = s.flow.frame_key(k, in.operands[0]);
            if (!key || *key != s.bits_key)
                continue;
            s.is_bits_store[k] = true;
            s.stored[k] = s.flow.stored(k);
            s.constant[k] = s.stored[k].constant;
            s.bits_stores.push_back(k);
            s.body_sp = s.flow.spdelta(k);
        }
    }

    // Each bits store, but the prologue's zeroing, either registers defers (sets bits) or is an
    // exit (clears them).
    void classify_bits_stores(OpenCodedScan &s, FunctionDefers &out) const {
        const BitsValueFlow values(insns_, s.is_bits_store, s.constant);
        for (size_t k : s.bits_stores) {
            const Instruction &in = insns_[k];
            const Traced t = refine_bits_store(s, values, k);
            switch (t.what) {
            case Traced::What::Zero: break; // the prologue's zeroing
            case Traced::What::Set:
                s.registered |= t.bits;
                if (std::popcount(t.bits) > 1)
                    s.merged_bits |= t.bits;
                for (int b = 0; b < 8; ++b) {
                    if (!(t.bits & (1u << b)))
                        continue;
                    s.max_bit = std::max(s.max_bit, b);
                    if (!s.by_bits.contains(b))
                        s.by_bits.emplace(b, open_site(in.address, b));
                }
                break;
            case Traced::What::Clear: s.exit_stores.emplace_back(k, t.bits); break;
            case Traced::What::Unknown:
            case Traced::What::Address:
            case Traced::What::FrameAddress:
                out.notes.push_back("unrecognised store to deferBits at " + in.address.hex() + ": " + in.text);
                break;
            }
        }
    }

    // What bits store k does, its constant weighed against the value every path brings to it.
    Traced refine_bits_store(OpenCodedScan &s, const BitsValueFlow &values, size_t k) const {
        const bool prologue = k == s.bits_stores.front();
        Traced t = s.stored[k];
        const int before = values.before(k);
        if (!prologue && t.constant && before >= 0) {
            // Against the value every path brings: a superset adds bits (a registration); an
            // equal or smaller value clears bits (an exit). Equal happens when dead-store
            // elimination dropped the registration just before the first exit.
            const uint8_t c = *t.constant, p = static_cast<uint8_t>(before);
            if ((c & p) == p && c != p) {
                t = Traced::set(static_cast<uint8_t>(c & ~p));
            } else if ((c & p) == c) {
                t = Traced::clear(static_cast<uint8_t>(p & ~c));
                if (c == p)
                    s.prev_of[k] = p;
            }
        } else if (!prologue && t.what == Traced::What::Zero) {
            t = Traced::clear(0); // an exit; which bit is found from its call
        } else if (!prologue && t.constant && before == BitsValueFlow::kUnknown) {
            if (auto b = guarded_clear(s, k, *t.constant))
                t = Traced::clear(static_cast<uint8_t>(1u << *b));
        }
        return t;
    }

    // openDeferExit (ssagen, every release) runs defer b as `if bits&(1<<b) != 0 { bits &^=
    // 1<<b; store; call }`. When the paths into that test carry different bits (a conditional
    // defer), the flow cannot weigh the store against one value; Go 1.27 then stores the
    // constant it knows on the guarded path (`test $2,%al; je; movb $1,bits`, or the store as the
    // target of a `jne`), which looks like a registration of bit 0. It is the exit of b when it
    // stores no bit that was not registered before it and its only way in is a test of b, a
    // registered bit, alone.
    std::optional<int> guarded_clear(const OpenCodedScan &s, size_t k, uint8_t stored) const {
        if (k < 2 || (stored & ~s.registered) != 0)
            return std::nullopt;
        auto is = [](const Instruction &in, std::string_view a, std::string_view b) {
            return in.op == Op::Jcc && (in.text.starts_with(a) || in.text.starts_with(b));
        };
        std::optional<size_t> guard;
        const Instruction &prev = insns_[k - 1];
        if (prev.op != Op::Jmp && prev.op != Op::Ret && prev.op != Op::Int3) {
            if (!is(prev, "je ", "jz "))
                return std::nullopt; // straight-line code before it: not a guarded path
            guard = k - 1;
        }
        for (size_t j = 0; j < insns_.size(); ++j) {
            const Instruction &in = insns_[j];
            if (!in.branch_target || *in.branch_target != insns_[k].address || in.op == Op::Call)
                continue;
            if (guard || !is(in, "jne ", "jnz "))
                return std::nullopt; // a second way in, or one that is not the test of a bit
            guard = j;
        }
        if (!guard || *guard == 0)
            return std::nullopt;
        const Instruction &test = insns_[*guard - 1];
        if (test.op != Op::Test || test.operands.size() != 2 || test.operands[0].kind != Operand::Kind::Reg ||
            test.operands[1].kind != Operand::Kind::Imm)
            return std::nullopt;
        const auto mask = static_cast<uint64_t>(test.operands[1].imm);
        if (std::popcount(mask) != 1 || mask > 0x80 || (stored & mask) != 0 || (s.registered & mask) == 0)
            return std::nullopt;
        return std::countr_zero(mask);
    }

    // Closure slot stores. When the compiler can see that a defer's bit is cleared again before
    // anything could observe it (no call in between), dead-store elimination drops the store
    // that set the bit; the slot store then marks the defer statement.
    //
    // A slot is zeroed twice when its statement defers a nil func value (`var f func(); defer
    // f()`, Go's test/defernil.go): the slot is needzero (ssagen.(*state).openDeferSave, Go
    // 1.14+), so defframe zeroes it before the function's first SSA instruction, which is the
    // prologue's zeroing of deferBits; openDeferSave's own store of the nil closure comes
    // after that (an immediate zero: movq $0). When the store setting the bit is dead, as it is
    // when nothing between the statement and the exit can panic, that zero store is all that
    // is left of the statement.
    void collect_slot_values(OpenCodedScan &s) const {
        const size_t prologue_store = s.bits_stores.front();
        for (size_t k = 0; k < insns_.size(); ++k) {
            const Instruction &in = insns_[k];
            if ((in.op != Op::Mov && in.op != Op::MovImm) || in.operands.size() != 2 || in.operands[0].size != 8)
                continue;
            if (auto key = s.flow.frame_key(k, in.operands[0]))
                for (int b = 0; b < kMaxOpenDefers; ++b)
                    if (s.slot_key(b) == key) {
                        Traced t = s.flow.stored(k);
                        if (t.what != Traced::What::Zero || k > prologue_store)
                            s.slot_values[b].push_back(t);
                    }
        }
    }

    // The first store to each slot of the bits up to `upto` (a registration when the bit's own
    // store was dead), and the function each static funcval stored there points at.
    void scan_slots(OpenCodedScan &s, int upto) const {
        const size_t prologue_store = s.bits_stores.front();
        for (size_t k = 0; k < insns_.size(); ++k) {
            const Instruction &in = insns_[k];
            if ((in.op != Op::Mov && in.op != Op::MovImm) || in.operands.size() != 2 || in.operands[0].size != 8)
                continue;
            auto key = s.flow.frame_key(k, in.operands[0]);
            if (!key)
                continue;
            for (int b = 0; b <= upto; ++b) {
                if (s.slot_key(b) != key)
                    continue;
                Traced t = s.flow.stored(k);
                if (t.what == Traced::What::Zero && k < prologue_store)
                    break; // defframe's zeroing, not a nil func value
                if (!s.by_slot.contains(b))
                    s.by_slot.emplace(b, open_site(in.address, b));
                if (t.what == Traced::What::Address && !s.static_target.contains(b))
                    s.static_target[b] = funcval_target(t.address);
            }
        }
    }

    // Exits: the store that clears a defer's bit, then the call of its function. When the
    // stored value does not say which bit, the call does: the slot its closure is loaded
    // from, or the static function it calls.
    void find_exits(OpenCodedScan &s, FunctionDefers &out) const {
        for (auto [k, cleared] : s.exit_stores) {
            if (std::popcount(cleared) > 1) {
                for (int b = 0; b < 8; ++b)
                    if (cleared & (1u << b))
                        s.frame.exits.push_back(exit_at(k, b));
                continue;
            }
            OpenCodedExit e = exit_at(k, cleared ? std::countr_zero(cleared) : -1);
            if (e.bit < 0) {
                if (e.call_pc.is_null())
                    continue;
                e.bit = exit_bit(e, s);
                if (e.bit < 0 && s.prev_of.contains(k) && s.prev_of.at(k) < 0x80) {
                    // The bit just above the last one set: the last defer statement's.
                    e.bit = 8 - std::countl_zero(s.prev_of.at(k));
                }
                if (e.bit < 0) {
                    out.notes.push_back("cannot tell which defer the exit at " + e.clear_pc.hex() + " runs");
                    continue;
                }
            }
            s.frame.exits.push_back(e);
        }
    }

    // Go 1.26+ folds the last registrations into the first exit when no call lies between
    // them: the stores of the new bits and the exit's clear of the highest one become a single
    // store, which reads as a registration of the lower bits, and the highest defer's call
    // follows it unconditionally. Its slot holds a static funcval of that very function. Go 1.15
    // does the same when nothing between the last defer statement and the exit can panic: the
    // last defer's bit is never stored (its slot is: the funcdata counts it).
    void find_folded_exit(OpenCodedScan &s) const {
        int folded = s.max_bit + 1;
        if (!s.by_bits.contains(s.max_bit) && s.by_bits.contains(s.max_bit - 1))
            folded = s.max_bit;
        if (folded >= kMaxOpenDefers || !s.by_bits.contains(folded - 1))
            return;
        const DeferSite &last = s.by_bits.at(folded - 1);
        auto k = std::find_if(s.bits_stores.begin(), s.bits_stores.end(),
                              [&](size_t i) { return insns_[i].address == last.pc; });
        if (k == s.bits_stores.end())
            return;
        OpenCodedExit e = exit_at(*k, folded);
        if (!e.target || e.call_pc.is_null() ||
            std::any_of(s.frame.exits.begin(), s.frame.exits.end(),
                        [&](const OpenCodedExit &x) { return x.call_pc == e.call_pc; }))
            return;
        scan_slots(s, folded);
        if (s.static_target.contains(folded) && s.static_target.at(folded) == e.target_name &&
            s.by_slot.contains(folded)) {
            s.frame.exits.push_back(e);
            for (int b = 0; b < folded; ++b)
                if (s.by_bits.contains(b) && s.by_bits.at(b).pc == last.pc)
                    s.merged_bits |= static_cast<uint8_t>(1u << b);
            s.max_bit = std::max(s.max_bit, folded);
        }
    }

    // One site per defer statement, bit by bit.
    void add_open_coded_sites(const OpenCodedScan &s, FunctionDefers &out) const {
        for (int b = 0; b <= s.max_bit; ++b) {
            if (s.by_bits.contains(b)) {
                DeferSite site = s.by_bits.at(b);
                // Consecutive defers without a call between them share one store of the bits
                // (the earlier stores are dead); each statement registers at its own slot store,
                // in the order the statements run, with its own line.
                if ((s.merged_bits & (1u << b)) && s.by_slot.contains(b) && s.by_slot.at(b).pc < site.pc)
                    site = s.by_slot.at(b);
                out.sites.push_back(std::move(site));
            } else if (s.by_slot.contains(b)) {
                out.sites.push_back(s.by_slot.at(b));
            } else {
                out.notes.push_back("open-coded defer bit " + std::to_string(b) + ": no registering store found");
            }
        }
    }

    // The frame layout as SP offsets in the body, and the exits in code order.
    static void finish_frame(OpenCodedScan &s, FunctionDefers &out) {
        OpenCodedFrame &frame = s.frame;
        const OpenDeferInfo &info = s.info;
        frame.defer_count = s.max_bit + 1;
        frame.frame_size = *s.body_sp - 8;
        frame.deferbits_sp_offset = frame.frame_size - static_cast<int64_t>(info.deferbits_offset);
        for (int b = 0; b < frame.defer_count; ++b) {
            auto off = info.closure_offset(b);
            frame.slot_sp_offsets.push_back(off ? std::optional(frame.frame_size - *off) : std::nullopt);
        }
        if (info.defer_count && static_cast<int>(*info.defer_count) != frame.defer_count)
            out.notes.push_back("funcdata declares " + std::to_string(*info.defer_count) +
                                " open-coded defers, code uses " + std::to_string(frame.defer_count));
        std::sort(frame.exits.begin(), frame.exits.end(),
                  [](const OpenCodedExit &a, const OpenCodedExit &b) { return a.clear_pc < b.clear_pc; });
        out.open_coded = std::move(frame);
    }

    // openDeferExit calls each defer after storing the bits without it. When the last defer of a
    // function is followed by nothing that can panic, 1.25+ keeps its closure in a register-held
    // frame object and calls it through that object: the store before the call then looks like a
    // registration (the registrations themselves were dead stores), and the exit is found only by
    // its call. Such a store is re-read as the exit's clear and the registrations fall back to the
    // slot stores.
    void find_forwarded_exits(OpenCodedScan &s) const {
        OpenCodedFrame &frame = s.frame;
        std::map<int, DeferSite> &by_bits = s.by_bits;
        const std::vector<size_t> &bits_stores = s.bits_stores;
        for (size_t j = 0; j < insns_.size(); ++j) {
            const Instruction &call = insns_[j];
            if (call.op != Op::Call || call.branch_target || call.operands.size() != 1 ||
                call.operands[0].kind != Operand::Kind::Reg)
                continue;
            if (std::any_of(frame.exits.begin(), frame.exits.end(),
                            [&](const OpenCodedExit &e) { return e.call_pc == call.address; }))
                continue;
            // The bits store just before the call, with nothing but straight-line code between.
            std::optional<size_t> store;
            for (size_t i = j; i > 0 && j - i < 10;) {
                const Instruction &in = insns_[--i];
                if (in.op == Op::Call || in.op == Op::Jmp || in.op == Op::Jcc || in.op == Op::Ret)
                    break;
                if (std::find(bits_stores.begin(), bits_stores.end(), i) != bits_stores.end()) {
                    store = i;
                    break;
                }
            }
            if (!store || *store == bits_stores.front())
                continue;
            OpenCodedExit e;
            e.clear_pc = insns_[*store].address;
            e.call_pc = call.address;
            e.bit = exit_bit(e, s);
            if (e.bit < 0)
                continue;
            for (auto it = by_bits.begin(); it != by_bits.end();)
                it = it->second.pc == e.clear_pc ? by_bits.erase(it) : std::next(it);
            frame.exits.push_back(e);
        }
    }

    DeferSite open_site(LinkAddr pc, int bit) const {
        DeferSite s;
        s.kind = DeferKind::OpenCoded;
        s.pc = pc;
        s.bit = bit;
        set_pos(s);
        return s;
    }

    // The code a static funcval (go:func.* symbol) points at.
    std::string funcval_target(LinkAddr funcval) const {
        auto word = bin_.elf().bytes_at(funcval, 8);
        if (!word)
            return {};
        uint64_t code;
        std::memcpy(&code, word->data(), 8);
        return name_at(LinkAddr(code));
    }

    // Which defer an exit runs when its store does not say: follow the call's target back to the
    // funcval (openDeferExit calls the closure in the slot, or the static function directly) and
    // find the slot that holds the same value.
    int exit_bit(const OpenCodedExit &e, const OpenCodedScan &s) const {
        const FrameDataflow &flow = s.flow;
        auto slot_key = [&s](int b) { return s.slot_key(b); };
        const std::map<int, std::vector<Traced>> &slot_values = s.slot_values;
        const std::map<int, std::string> &static_target = s.static_target;
        if (e.target) {
            for (const auto &[b, name] : static_target)
                if (name == e.target_name)
                    return b;
            return -1;
        }
        size_t j = 0;
        while (j < insns_.size() && insns_[j].address != e.call_pc)
            ++j;
        if (j == insns_.size() || insns_[j].operands.size() != 1 || insns_[j].operands[0].kind != Operand::Kind::Reg)
            return -1;
        const Gpr target = insns_[j].operands[0].reg;
        // The code pointer is loaded from the funcval: mov (%rdx),%rax. Trace %rdx.
        for (size_t i = j; i > 0 && j - i < 8;) {
            const Instruction &in = insns_[--i];
            if (!in.writes_gpr(target))
                continue;
            if (in.op != Op::Mov || in.operands.size() != 2 || in.operands[1].kind != Operand::Kind::Mem)
                return -1;
            const MemOperand &m = in.operands[1].mem;
            if (m.base == Gpr::Rsp) {
                auto key = flow.frame_key(i, in.operands[1]);
                if (!key)
                    return -1;
                // The slot itself (mov SLOT(%rsp),%rdx then mov (%rdx)) ...
                for (int b = 0; b < kMaxOpenDefers; ++b)
                    if (slot_key(b) == key)
                        return b;
                // ... or the code word of a closure built in the frame, whose address a slot holds
                // (1.25+ forwards the closure to a last defer's exit call).
                const Traced fv = Traced::frame_addr(*key);
                for (const auto &[b, values] : slot_values)
                    for (const auto &v : values)
                        if (v.same_value(fv))
                            return b;
                return -1;
            }
            if (m.disp != 0 || m.index != Gpr::None)
                return -1;
            // The funcval register: a slot reload, a static funcval or a closure in the frame.
            for (size_t h = i; h > 0 && i - h < 16;) {
                const Instruction &def = insns_[--h];
                if (!def.writes_gpr(m.base))
                    continue;
                if (def.op == Op::Mov && def.operands.size() == 2)
                    if (auto key = flow.frame_key(h, def.operands[1]))
                        for (int b = 0; b < kMaxOpenDefers; ++b)
                            if (slot_key(b) == key)
                                return b;
                break;
            }
            // A nil funcval: since Go 1.25 the exit of a `defer f()` whose f is a constant nil
            // calls through a zeroed register (xor) instead of reloading the slot. It is that
            // defer's exit if only one slot had a nil value stored by its statement.
            Traced fv = flow.reg_value(i, m.base, 0);
            if (fv.what != Traced::What::Address && fv.what != Traced::What::FrameAddress &&
                fv.what != Traced::What::Zero)
                return -1;
            int found = -1;
            for (const auto &[b, values] : slot_values)
                for (const auto &v : values)
                    if (v.same_value(fv)) {
                        if (fv.what != Traced::What::Zero)
                            return b;
                        if (found >= 0 && found != b)
                            return -1;
                        found = b;
                    }
            return found;
        }
        return -1;
    }

    // openDeferExit: after the store of the cleared bits comes the call of that defer's function.
    OpenCodedExit exit_at(size_t k, int bit) const {
        OpenCodedExit e;
        e.bit = bit;
        e.clear_pc = insns_[k].address;
        for (size_t j = k + 1; j < insns_.size() && j < k + 10; ++j) {
            const Instruction &in = insns_[j];
            if (in.op == Op::Call) {
                e.call_pc = in.address;
                e.target = in.branch_target;
                if (e.target)
                    e.target_name = name_at(*e.target);
                break;
            }
            if (in.op == Op::Ret || in.op == Op::Jmp || in.op == Op::Jcc)
                break;
        }
        return e;
    }

    void check_deferreturn(FunctionDefers &out) const {
        auto rt = bin_.runtime().get("runtime.deferreturn");
        for (const auto &in : insns_) {
            if (in.address != *out.deferreturn_call)
                continue;
            if (in.op == Op::Call && rt && in.branch_target == rt->entry)
                return;
            out.notes.push_back("_func.deferreturn points at '" + in.text + "', not a call of runtime.deferreturn");
            return;
        }
        out.notes.push_back("_func.deferreturn " + out.deferreturn_call->hex() + " is not an instruction boundary");
    }

    const GoBinary &bin_;
    const Pclntab &tab_;
    const Disassembler &dis_;
    const std::vector<RegistrationCall> &calls_;
    FuncInfo func_;
    std::vector<Instruction> insns_;
    PcValueTable pcfile_, pcln_;
};

} // namespace

std::vector<FunctionDefers> analyze_defer_sites(const GoBinary &bin, const DeferAnalysisOptions &opts) {
    std::vector<RegistrationCall> calls;
    for (auto [name, kind] :
         {std::pair{"runtime.deferprocStack", DeferKind::Stack}, std::pair{"runtime.deferproc", DeferKind::Heap},
          std::pair{"runtime.deferprocat", DeferKind::Heap}})
        if (auto f = bin.runtime().get(name))
            calls.push_back({f->entry, name, kind});

    std::vector<LinkAddr> targets;
    for (const auto &c : calls)
        targets.push_back(c.entry);
    Disassembler dis;
    FunctionAnalyzer analyzer(bin, dis, calls);
    const Pclntab &tab = bin.pclntab();
    std::vector<FunctionDefers> out;
    for (size_t i = 0; i < tab.num_funcs(); ++i) {
        FuncInfo f = tab.func(i);
        if (opts.only && !opts.only(tab.func_name(f)))
            continue;
        const bool open = tab.funcdata(f, bin.facts().funcdata_opendefer, bin.moduledata().gofunc).has_value();
        // Every function that registers a linked defer calls deferreturn (so _func.deferreturn is
        // set), except range-over-func bodies, whose deferprocat belongs to the enclosing frame.
        bool has_calls = false;
        if (!targets.empty() && f.end > f.entry)
            has_calls = may_call(bin.code(f), f.entry, targets);
        if (!open && !has_calls)
            continue;
        if (auto r = analyzer.run(f, has_calls))
            out.push_back(std::move(*r));
    }
    return out;
}

} // namespace deftrace
