// The recording code of arch/record_stub.h, run for real in this process: a harness jumps into it
// as a patched site would, with known registers, and the records are read back through
// process/record_ring.h from a memfd mapped twice (the "program's" mapping near the code, and the
// ring's own).
#include "arch/record_stub.h"
#include "process/record_ring.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace deftrace {
namespace {

uint64_t addr_of(const void *p) {
    return reinterpret_cast<uint64_t>(p);
}

struct Harness {
    uint8_t *code = nullptr;
    size_t code_size = 1 << 16;
    std::unique_ptr<RecordRing> ring;
    uint8_t *remote = nullptr; // the "program's" mapping of the ring
    RecordSpec spec;

    Harness() {
        void *p = mmap(nullptr, code_size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            throw std::runtime_error("mmap");
        code = static_cast<uint8_t *>(p);
        const int fd = memfd_create("record-stub-test", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, RecordRing::kSize) != 0)
            throw std::runtime_error("memfd");
        void *r =
            mmap(code + (64 << 20), RecordRing::kSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
        if (r == MAP_FAILED)
            r = mmap(nullptr, RecordRing::kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        remote = static_cast<uint8_t *>(r);
        ring = std::make_unique<RecordRing>(UniqueFd(dup(fd)), Addr(reinterpret_cast<uint64_t>(remote)));
        close(fd);
        ring->describe(spec);
        spec.probe = 7;
        spec.panic_offset = 16;
    }
    ~Harness() {
        ring.reset();
        munmap(remote, RecordRing::kSize);
        munmap(code, code_size);
    }

    // A record of RBX alone, of a goroutine whose g is `g`; RAX 1, RBX 2.
    auto one_word(const uint64_t *g) {
        spec.words = {{Capture::Kind::Reg, Gpr::Rbx}};
        return build(addr_of(g), 1, 2);
    }

    // Builds: the harness function, then the trampoline (recording code, a stand-in trap that sets
    // EAX to 0xfa11, then a jump back into the harness).
    using Fn = uint64_t (*)(uint64_t *out);
    Fn build(uint64_t g, uint64_t rax, uint64_t rbx) {
        std::vector<uint8_t> f;
        auto imm64 = [&](uint64_t v) {
            uint8_t b[8];
            std::memcpy(b, &v, 8);
            f.insert(f.end(), b, b + 8);
        };
        f.insert(f.end(), {0x41, 0x56, 0x53}); // push %r14; push %rbx
        f.insert(f.end(), {0x49, 0xbe});       // mov $g,%r14
        imm64(g);
        f.insert(f.end(), {0x48, 0xbb}); // mov $rbx,%rbx
        imm64(rbx);
        f.insert(f.end(), {0x48, 0xb8}); // mov $rax,%rax
        imm64(rax);
        f.insert(f.end(), {0x48, 0xb9}); // mov $0x1111,%rcx
        imm64(0x1111);
        f.insert(f.end(), {0x48, 0xba}); // mov $0x2222,%rdx
        imm64(0x2222);
        f.insert(f.end(), {0xf9}); // stc
        const size_t jmp_at = f.size();
        f.insert(f.end(), {0xe9, 0, 0, 0, 0}); // jmp trampoline
        const size_t back = f.size();
        f.insert(f.end(), {0x9c, 0x41, 0x5b});       // pushfq; pop %r11
        f.insert(f.end(), {0x4c, 0x89, 0x5f, 0x10}); // mov %r11,16(%rdi)
        f.insert(f.end(), {0x48, 0x89, 0x0f});       // mov %rcx,(%rdi)
        f.insert(f.end(), {0x48, 0x89, 0x57, 0x08}); // mov %rdx,8(%rdi)
        f.insert(f.end(), {0x4c, 0x89, 0x77, 0x18}); // mov %r14,24(%rdi)
        f.insert(f.end(), {0x5b, 0x41, 0x5e, 0xc3}); // pop %rbx; pop %r14; ret
        const size_t tramp = (f.size() + 15) & ~size_t{15};
        f.resize(tramp, 0xcc);
        const Addr at(reinterpret_cast<uint64_t>(code) + tramp);
        auto done = append_record(f, at, spec);
        if (!done)
            return nullptr;
        f.insert(f.end(), {0xb8, 0x11, 0xfa, 0x00, 0x00}); // the "trap": mov $0xfa11,%eax
        const auto past = static_cast<int32_t>(f.size() - (*done + 4));
        std::memcpy(f.data() + *done, &past, 4);
        const auto to_back = static_cast<int32_t>(back - (f.size() + 5));
        f.push_back(0xe9);
        f.insert(f.end(), reinterpret_cast<const uint8_t *>(&to_back), reinterpret_cast<const uint8_t *>(&to_back) + 4);
        const auto to_tramp = static_cast<int32_t>(tramp - (jmp_at + 5));
        std::memcpy(f.data() + jmp_at + 1, &to_tramp, 4);
        std::memcpy(code, f.data(), f.size());
        return reinterpret_cast<Fn>(code);
    }
};

TEST(RecordStub, RecordsRegistersAndWordsWithoutChangingAny) {
    Harness h;
    uint64_t g[4] = {0, 0xabcd, 0 /* g._panic at 16 */, 0};
    uint64_t inner[2] = {0, 0x5151};
    uint64_t outer[2] = {addr_of(inner), 0x4242};
    using K = Capture::Kind;
    h.spec.words = {
        {K::Reg, Gpr::Rbx},
        {K::Reg, Gpr::Rax},
        {K::Mem, Gpr::R14, 8},
        {K::MemMem, Gpr::Rax, 0, 8},
        {K::MemMem, Gpr::R14, 16, 0}, // through g._panic, nil: 0
        {K::Reg, Gpr::Rsp},
        {K::Mem, Gpr::Rax, 8, 0, /*when_word*/ 0, /*mask*/ 0x2}, // bit 1 of RBX (6): loaded
        {K::Mem, Gpr::Rax, 8, 0, /*when_word*/ 0, /*mask*/ 0x1}, // bit 0: not
        {K::Reg, Gpr::Rdx},
    };
    auto fn = h.build(addr_of(g), addr_of(outer), 6);
    ASSERT_NE(fn, nullptr);
    uint64_t out[4] = {};
    EXPECT_EQ(fn(out), addr_of(outer)); // RAX as it was: recorded, not trapped
    EXPECT_EQ(out[0], 0x1111u);
    EXPECT_EQ(out[1], 0x2222u);
    EXPECT_TRUE(out[2] & 1) << "the carry flag set before the site is still set after it";
    EXPECT_EQ(out[3], addr_of(g));
    auto r = h.ring->next();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->seq, 0u);
    EXPECT_EQ(r->probe, 7u);
    EXPECT_NE(r->tsc, 0u);
    EXPECT_EQ(r->words[0], 6u);
    EXPECT_EQ(r->words[1], addr_of(outer));
    EXPECT_EQ(r->words[2], 0xabcdu);
    EXPECT_EQ(r->words[3], 0x5151u);
    EXPECT_EQ(r->words[4], 0u);
    EXPECT_NE(r->words[5], 0u);
    EXPECT_EQ(r->words[5] % 8, 0u);
    EXPECT_EQ(r->words[6], 0x4242u);
    EXPECT_EQ(r->words[7], 0u);
    EXPECT_EQ(r->words[8], 0x2222u);
    EXPECT_FALSE(h.ring->next());
    // Again: the next sequence number.
    EXPECT_EQ(fn(out), addr_of(outer));
    auto again = h.ring->next();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->seq, 1u);
}

TEST(RecordStub, APanickingGoroutineTraps) {
    Harness h;
    uint64_t g[4] = {0, 0, 0xbad /* g._panic */, 0};
    auto fn = h.one_word(g);
    ASSERT_NE(fn, nullptr);
    uint64_t out[4] = {};
    EXPECT_EQ(fn(out), 0xfa11u);
    EXPECT_EQ(out[0], 0x1111u);
    EXPECT_EQ(out[3], addr_of(g));
    EXPECT_FALSE(h.ring->next());
    EXPECT_FALSE(h.ring->backlog());
}

TEST(RecordStub, AFullRingTrapsAndLosesNothing) {
    Harness h;
    uint64_t g[4] = {};
    auto fn = h.one_word(g);
    ASSERT_NE(fn, nullptr);
    uint64_t out[4] = {};
    const uint64_t room = RecordRing::kCapacity - RecordRing::kCapacity / 4; // a quarter stays free
    for (uint64_t i = 0; i < room; ++i)
        ASSERT_EQ(fn(out), 1u) << i;
    EXPECT_EQ(fn(out), 0xfa11u); // full: the hit traps
    EXPECT_TRUE(h.ring->backlog());
    for (uint64_t i = 0; i < room; ++i) {
        auto r = h.ring->next();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->seq, i);
    }
    EXPECT_EQ(fn(out), 1u); // drained: records again
    EXPECT_TRUE(h.ring->next());
}

// A record still being written (its thread stopped between the take and the commit) does not
// hold back the records after it, and is read once whole; the producers' bound waits for it.
TEST(RecordStub, AnUnfinishedRecordIsReadWhenWholeAndHoldsBackNothing) {
    Harness h;
    uint64_t g[4] = {};
    auto fn = h.one_word(g);
    ASSERT_NE(fn, nullptr);
    uint64_t out[4] = {};
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(fn(out), 1u);
    auto *first = reinterpret_cast<uint64_t *>(h.remote + RecordRing::kRecordsOffset);
    const uint64_t commit = *first;
    *first = 0; // record 0: not published yet
    EXPECT_FALSE(h.ring->next());
    auto r = h.ring->next(true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->seq, 1u);
    const auto *tail = reinterpret_cast<const uint64_t *>(h.remote + RecordRing::kTailOffset);
    EXPECT_EQ(*tail, 0u) << "record 0's slot is not free yet";
    *first = commit;
    r = h.ring->next();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->seq, 0u);
    r = h.ring->next();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->seq, 2u);
    EXPECT_EQ(*tail, 3u);
    EXPECT_FALSE(h.ring->backlog());
}

// The largest record fits the room a trampoline plans for it.
TEST(RecordStub, TheLongestRecordFitsItsBound) {
    RecordSpec spec;
    spec.head = Addr(0x500000);
    spec.tail = Addr(0x500040);
    spec.records = Addr(0x501000);
    spec.gate = Addr(0x500080);
    spec.capacity = 4096;
    spec.record_size = 256;
    spec.slack = 1024;
    Capture worst{Capture::Kind::MemMem, Gpr::R11, 0x1000, 0x18, /*when_word*/ 0, /*when_mask*/ 0x80};
    spec.words.assign(kMaxRecordWords, worst);
    spec.words[0] = {Capture::Kind::Reg, Gpr::R15};
    std::vector<uint8_t> out;
    ASSERT_TRUE(append_record(out, Addr(0x400000), spec));
    EXPECT_LE(out.size(), kMaxRecordCodeSize);
}

TEST(RecordStub, GateClosedTraps) {
    Harness h;
    h.spec.gate_open = 5;
    uint64_t g[4] = {};
    h.spec.words = {{Capture::Kind::Reg, Gpr::Rbx}};
    // The gate must be within rel32 of the code: a word of the code page itself.
    auto *gate_word = reinterpret_cast<uint32_t *>(h.code + h.code_size - 64);
    *gate_word = 5;
    h.spec.gate = Addr(addr_of(gate_word));
    auto fn = h.build(addr_of(g), 1, 2);
    ASSERT_NE(fn, nullptr);
    uint64_t out[4] = {};
    EXPECT_EQ(fn(out), 1u);
    *gate_word = 0x40000000 | 5; // the owner died (FUTEX_OWNER_DIED)
    EXPECT_EQ(fn(out), 0xfa11u);
    EXPECT_TRUE(h.ring->next());
    EXPECT_FALSE(h.ring->next());
}

} // namespace
} // namespace deftrace
