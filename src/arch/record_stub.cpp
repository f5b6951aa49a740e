#include "arch/record_stub.h"

#include <bit>
#include <cstring>
#include <initializer_list>
#include <stdexcept>

namespace deftrace {

namespace {

// Where the saved registers are once the flags are pushed; the breakpoint's SP is kSaved above.
constexpr uint8_t kSavedRdx = 0x08, kSavedRcx = 0x10, kSavedRax = 0x18, kSaved = 0x20;

class Code {
public:
    Code(std::vector<uint8_t> &out, Addr at) : out_(out), base_(out.size()), at_(at) {}
    void put(std::initializer_list<uint8_t> b) { out_.insert(out_.end(), b); }
    void put32(uint32_t v) {
        uint8_t b[4];
        std::memcpy(b, &v, 4);
        out_.insert(out_.end(), b, b + 4);
    }
    [[nodiscard]] size_t size() const { return out_.size(); }
    // A RIP-relative operand's rel32 for an instruction whose remaining bytes after it are `tail`.
    bool rip(Addr target, size_t tail) {
        const Addr end = at_ + (out_.size() - base_) + 4 + tail;
        const int64_t d = static_cast<int64_t>(target.value()) - static_cast<int64_t>(end.value());
        if (d < INT32_MIN || d > INT32_MAX)
            return false;
        put32(static_cast<uint32_t>(static_cast<int32_t>(d)));
        return true;
    }
    // A forward jump's rel32 (or rel8) placeholder, patched by land().
    size_t hole32() {
        put32(0);
        return out_.size();
    }
    size_t hole8() {
        put({0});
        return out_.size();
    }
    void land32(size_t hole_end) {
        const auto d = static_cast<uint32_t>(static_cast<int32_t>(out_.size() - hole_end));
        std::memcpy(out_.data() + hole_end - 4, &d, 4);
    }
    void land8(size_t hole_end) {
        const size_t d = out_.size() - hole_end;
        if (d > 127)
            throw std::logic_error("append_record: a short jump outgrew its reach");
        out_[hole_end - 1] = static_cast<uint8_t>(d);
    }

private:
    std::vector<uint8_t> &out_;
    size_t base_;
    Addr at_;
};

// RAX = the register's value at the breakpoint.
bool load_reg(Code &c, Gpr r) {
    switch (r) {
    case Gpr::Rax: c.put({0x48, 0x8b, 0x44, 0x24, kSavedRax}); return true;
    case Gpr::Rcx: c.put({0x48, 0x8b, 0x44, 0x24, kSavedRcx}); return true;
    case Gpr::Rdx: c.put({0x48, 0x8b, 0x44, 0x24, kSavedRdx}); return true;
    case Gpr::Rsp: c.put({0x48, 0x8d, 0x44, 0x24, kSaved}); return true; // lea kSaved(%rsp),%rax
    default: break;
    }
    const int n = encoding_number(r);
    if (n < 0)
        return false;
    // mov %r,%rax
    c.put({static_cast<uint8_t>(0x48 | (n >= 8 ? 0x04 : 0)), 0x89, static_cast<uint8_t>(0xc0 | ((n & 7) << 3))});
    return true;
}

// RAX = [RAX + off], leaving 0 when RAX is 0 (the jump to `nil_holes`' end).
void load_through(Code &c, int32_t off, std::vector<size_t> &nil_holes) {
    c.put({0x48, 0x85, 0xc0}); // test %rax,%rax
    c.put({0x74});             // je end
    nil_holes.push_back(c.hole8());
    c.put({0x48, 0x8b, 0x80}); // mov off(%rax),%rax
    c.put32(static_cast<uint32_t>(off));
}

uint32_t word_offset(size_t i) {
    return static_cast<uint32_t>((kRecordHeaderWords + i) * 8);
}

bool capture(Code &c, const Capture &w, size_t index) {
    std::optional<size_t> skip; // the condition's jump to "0"
    if (w.when_word >= 0) {
        if (static_cast<size_t>(w.when_word) >= index)
            return false;
        c.put({0x48, 0x8b, 0x81}); // mov word(%rcx),%rax
        c.put32(word_offset(static_cast<size_t>(w.when_word)));
        c.put({0x48, 0xa9}); // test $mask,%rax
        c.put32(w.when_mask);
        c.put({0x74}); // jz zero
        skip = c.hole8();
    }
    if (!load_reg(c, w.reg))
        return false;
    std::vector<size_t> nil_holes;
    if (w.kind == Capture::Kind::Reg && w.off != 0) {
        c.put({0x48, 0x8d, 0x80}); // lea off(%rax),%rax
        c.put32(static_cast<uint32_t>(w.off));
    } else if (w.kind != Capture::Kind::Reg) {
        if (w.reg == Gpr::Rsp) { // never nil
            c.put({0x48, 0x8b, 0x80});
            c.put32(static_cast<uint32_t>(w.off));
        } else {
            load_through(c, w.off, nil_holes);
        }
        if (w.kind == Capture::Kind::MemMem)
            load_through(c, w.off2, nil_holes);
    }
    for (size_t h : nil_holes)
        c.land8(h);
    if (skip) {
        c.put({0xeb}); // jmp store
        const size_t over = c.hole8();
        c.land8(*skip);
        c.put({0x31, 0xc0}); // zero: xor %eax,%eax
        c.land8(over);
    }
    c.put({0x48, 0x89, 0x81}); // store: mov %rax,word(%rcx)
    c.put32(word_offset(index));
    return true;
}

// popfq and the saved registers back, SP as at the breakpoint.
void restore(Code &c) {
    c.put({0x9d});                         // popfq
    c.put({0x48, 0x8d, 0x64, 0x24, 0x18}); // lea 0x18(%rsp),%rsp
    c.put({0x48, 0x8b, 0x44, 0x24, 0xf8}); // mov -0x8(%rsp),%rax
    c.put({0x48, 0x8b, 0x4c, 0x24, 0xf0}); // mov -0x10(%rsp),%rcx
    c.put({0x48, 0x8b, 0x54, 0x24, 0xe8}); // mov -0x18(%rsp),%rdx
}

// Steps 2 and 3 up to the captures: the jumps to the fallback into `fallback`; RCX = the record.
bool take_record(Code &c, const RecordSpec &spec, std::vector<size_t> &fallback) {
    if (!spec.gate.is_null()) {
        c.put({0x81, 0x3d}); // cmpl $open,gate(%rip)
        if (!c.rip(spec.gate, 4))
            return false;
        c.put32(spec.gate_open);
        c.put({0x0f, 0x85}); // jne fallback
        fallback.push_back(c.hole32());
    }
    const int g = encoding_number(spec.g_reg);
    if (g < 0 || (g & 7) == 4 || (g & 7) == 5)
        return false; // rsp/r12 (SIB) and rbp/r13 are not a g register
    c.put({static_cast<uint8_t>(0x48 | (g >= 8 ? 0x01 : 0)), 0x83, static_cast<uint8_t>(0xb8 | (g & 7))});
    c.put32(static_cast<uint32_t>(spec.panic_offset)); // cmpq $0,panic(%g)
    c.put({0x00});
    c.put({0x0f, 0x85}); // jne fallback
    fallback.push_back(c.hole32());
    c.put({0x48, 0x8b, 0x05}); // mov head(%rip),%rax
    if (!c.rip(spec.head, 0))
        return false;
    c.put({0x48, 0x2b, 0x05}); // sub tail(%rip),%rax
    if (!c.rip(spec.tail, 0))
        return false;
    c.put({0x48, 0x3d}); // cmp $limit,%rax
    c.put32(spec.capacity - spec.slack);
    c.put({0x0f, 0x83}); // jae fallback
    fallback.push_back(c.hole32());
    c.put({0xb8, 0x01, 0x00, 0x00, 0x00}); // mov $1,%eax
    c.put({0xf0, 0x48, 0x0f, 0xc1, 0x05}); // lock xadd %rax,head(%rip)
    if (!c.rip(spec.head, 0))
        return false;
    c.put({0x48, 0x89, 0xc1}); // mov %rax,%rcx
    c.put({0x81, 0xe1});       // and $(capacity-1),%ecx
    c.put32(spec.capacity - 1);
    c.put({0x48, 0xc1, 0xe1, static_cast<uint8_t>(std::countr_zero(spec.record_size))}); // shl $log2(size),%rcx
    c.put({0x48, 0x8d, 0x15});                                                           // lea records(%rip),%rdx
    if (!c.rip(spec.records, 0))
        return false;
    c.put({0x48, 0x01, 0xd1});       // add %rdx,%rcx
    c.put({0x48, 0x89, 0x41, 0x08}); // mov %rax,8(%rcx): the sequence number
    c.put({0x48, 0xc7, 0x41, 0x10}); // movq $probe,16(%rcx)
    c.put32(spec.probe);
    c.put({0x0f, 0x31});             // rdtsc
    c.put({0x48, 0xc1, 0xe2, 0x20}); // shl $32,%rdx
    c.put({0x48, 0x09, 0xd0});       // or %rdx,%rax
    c.put({0x48, 0x89, 0x41, 0x18}); // mov %rax,24(%rcx)
    return true;
}

} // namespace

std::optional<size_t> append_record(std::vector<uint8_t> &out, Addr at, const RecordSpec &spec) {
    if (spec.words.size() > kMaxRecordWords || !std::has_single_bit(spec.capacity) ||
        !std::has_single_bit(spec.record_size) || spec.record_size < (kRecordHeaderWords + spec.words.size()) * 8 ||
        spec.slack >= spec.capacity || spec.probe > INT32_MAX)
        return std::nullopt;
    const size_t start = out.size();
    Code c(out, at);
    c.put({0x48, 0x89, 0x44, 0x24, 0xf8}); // mov %rax,-0x8(%rsp)
    c.put({0x48, 0x89, 0x4c, 0x24, 0xf0}); // mov %rcx,-0x10(%rsp)
    c.put({0x48, 0x89, 0x54, 0x24, 0xe8}); // mov %rdx,-0x18(%rsp)
    c.put({0x48, 0x8d, 0x64, 0x24, 0xe8}); // lea -0x18(%rsp),%rsp
    c.put({0x9c});                         // pushfq
    std::vector<size_t> fallback;
    bool ok = take_record(c, spec, fallback);
    for (size_t i = 0; ok && i < spec.words.size(); ++i)
        ok = capture(c, spec.words[i], i);
    if (!ok) {
        out.resize(start);
        return std::nullopt;
    }
    c.put({0x48, 0x8b, 0x41, 0x08}); // mov 8(%rcx),%rax
    c.put({0x48, 0x83, 0xc0, 0x01}); // add $1,%rax
    c.put({0x48, 0x89, 0x01});       // mov %rax,(%rcx): published
    restore(c);
    c.put({0xe9}); // jmp done
    const size_t done = c.hole32();
    for (size_t h : fallback)
        c.land32(h);
    restore(c);
    if (out.size() - start > kMaxRecordCodeSize)
        throw std::logic_error("append_record: the code outgrew kMaxRecordCodeSize");
    return done - 4;
}

} // namespace deftrace
