#include "binary/error.h"
#include "binary/pclntab.h"
#include "synthetic_pclntab.h"

#include <cstring>
#include <gtest/gtest.h>

namespace deftrace::testing {
namespace {

const LinkAddr kAt{0x500000};

Pclntab parse(const SyntheticPclntab &t) {
    return Pclntab::parse(Bytes(t.bytes), kAt);
}

ErrorKind parse_error(const std::vector<uint8_t> &bytes) {
    try {
        Pclntab p = Pclntab::parse(Bytes(bytes), kAt);
        // A header that parses must still fail cleanly when its records are used.
        for (size_t i = 0; i < p.num_funcs(); ++i) {
            auto f = p.func(i);
            (void)p.func_name(f);
            (void)p.source_at(f, f.entry);
            (void)p.pcsp(f);
        }
    } catch (const Error &e) {
        return e.kind();
    }
    ADD_FAILURE() << "damaged table was accepted";
    return ErrorKind::Io;
}

TEST(Pclntab, ParsesASyntheticTable) {
    auto t = SyntheticPclntab::make();
    auto p = parse(t);
    EXPECT_EQ(p.magic(), 0xfffffff1u);
    ASSERT_EQ(p.num_funcs(), 2u);
    auto a = p.func(0), b = p.func(1);
    EXPECT_EQ(p.func_name(a), "main.a");
    EXPECT_EQ(p.func_name(b), "main.b");
    EXPECT_EQ(a.entry, LinkAddr(0x401000));
    EXPECT_EQ(a.end, LinkAddr(0x401010));
    EXPECT_EQ(b.end, LinkAddr(0x401020));
    EXPECT_EQ(b.start_line, 7);
    auto pos = p.source_at(a, LinkAddr(0x401009));
    ASSERT_TRUE(pos.has_value());
    EXPECT_EQ(pos->file, "/src/main.go");
    EXPECT_EQ(pos->line, 12);
    EXPECT_EQ(p.source_at(a, LinkAddr(0x401000))->line, 10);
    EXPECT_EQ(p.pcsp(a).at(LinkAddr(0x401004)), 8);
    EXPECT_FALSE(p.pcsp(a).at(LinkAddr(0x401010)).has_value());
    const LinkAddr gofunc(0x600000);
    EXPECT_EQ(p.funcdata(b, 4, gofunc), gofunc + 0x40);
    EXPECT_FALSE(p.funcdata(b, 3, gofunc).has_value());
    EXPECT_FALSE(p.funcdata(a, 4, gofunc).has_value());
    EXPECT_EQ(p.find_func(LinkAddr(0x40100f))->index, 0u);
    EXPECT_EQ(p.find_func(LinkAddr(0x401010))->index, 1u);
    EXPECT_FALSE(p.find_func(LinkAddr(0x401020)).has_value());
    EXPECT_FALSE(p.find_func(LinkAddr(0x400fff)).has_value());
    EXPECT_EQ(p.find_by_name("main.b"), 1u);
}

TEST(Pclntab, TextStartOverrideForGo126) {
    auto t = SyntheticPclntab::make();
    t.put64(24, 0); // Go 1.26+ writes 0
    auto p = Pclntab::parse(Bytes(t.bytes), kAt, LinkAddr(0x401000));
    EXPECT_TRUE(p.header_text_start().is_null());
    EXPECT_EQ(p.func(1).entry, LinkAddr(0x401010));
}

TEST(Pclntab, EveryTruncationIsAnError) {
    auto t = SyntheticPclntab::make();
    for (size_t n = 0; n < t.bytes.size(); ++n) {
        std::vector<uint8_t> cut(t.bytes.begin(), t.bytes.begin() + static_cast<long>(n));
        auto k = parse_error(cut);
        EXPECT_TRUE(k == ErrorKind::Truncated || k == ErrorKind::Corrupt) << "length " << n;
    }
}

TEST(Pclntab, BadMagicIsNotGo) {
    auto t = SyntheticPclntab::make();
    t.put32(0, 0xdeadbeef);
    EXPECT_EQ(parse_error(t.bytes), ErrorKind::NotGo);
}

TEST(Pclntab, ReadsTheGo12Format) {
    const auto bytes = go12_pclntab();
    Pclntab p = Pclntab::parse(Bytes(bytes), kAt);
    EXPECT_EQ(p.magic(), 0xfffffffbu);
    EXPECT_EQ(p.layout().shape, PclntabShape::Go12);
    ASSERT_EQ(p.num_funcs(), 2u);
    const auto a = p.func(0), b = p.func(1);
    EXPECT_EQ(p.func_name(a), "main.a");
    EXPECT_EQ(p.func_name(b), "main.b");
    EXPECT_EQ(a.entry, LinkAddr(0x401000));
    EXPECT_EQ(b.end, LinkAddr(0x401020));
    auto pos = p.source_at(a, LinkAddr(0x401004));
    ASSERT_TRUE(pos.has_value());
    EXPECT_EQ(pos->file, "/src/main.go");
    EXPECT_EQ(pos->line, 10);
    EXPECT_EQ(p.pcsp(b).at(LinkAddr(0x401018)), 0);
    EXPECT_EQ(p.funcdata(a, 0, LinkAddr()), LinkAddr(0x600040));
    EXPECT_FALSE(p.funcdata(b, 0, LinkAddr()).has_value());
    EXPECT_EQ(p.find_func(LinkAddr(0x401010))->index, 1u);
    EXPECT_EQ(p.find_by_name("main.b"), 1u);
}

TEST(Pclntab, Go12TruncationsAreErrors) {
    const auto bytes = go12_pclntab();
    for (size_t n : {size_t{8}, size_t{40}, size_t{60}, size_t{150}, size_t{182}}) {
        std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
        const ErrorKind k = parse_error(cut);
        EXPECT_TRUE(k == ErrorKind::Truncated || k == ErrorKind::Corrupt) << n;
    }
}

TEST(Pclntab, WrongPointerSizeIsCorrupt) {
    auto t = SyntheticPclntab::make();
    t.bytes[7] = 4;
    EXPECT_EQ(parse_error(t.bytes), ErrorKind::Corrupt);
}

TEST(Pclntab, HugeFunctionCountIsCorrupt) {
    for (uint64_t n : {uint64_t{0}, uint64_t{1000}, uint64_t{1} << 40, ~uint64_t{0}}) {
        auto t = SyntheticPclntab::make();
        t.put64(8, n);
        auto k = parse_error(t.bytes);
        EXPECT_TRUE(k == ErrorKind::Corrupt || k == ErrorKind::Truncated) << n;
    }
}

TEST(Pclntab, OffsetsOutOfRange) {
    for (uint64_t field : {32u, 40u, 48u, 56u, 64u}) {
        for (uint64_t v : {uint64_t{1} << 32, ~uint64_t{0}, uint64_t{3}}) {
            auto t = SyntheticPclntab::make();
            t.put64(field, v);
            auto k = parse_error(t.bytes);
            EXPECT_TRUE(k == ErrorKind::Corrupt || k == ErrorKind::Truncated) << "field " << field << " = " << v;
        }
    }
}

TEST(Pclntab, UnsortedFunctionTableIsCorrupt) {
    auto t = SyntheticPclntab::make();
    t.put32(t.pcln_off + 8, 0x30); // second entry after the end marker
    EXPECT_EQ(parse_error(t.bytes), ErrorKind::Corrupt);
}

TEST(Pclntab, RecordOutsideTheTableIsTruncated) {
    auto t = SyntheticPclntab::make();
    t.put32(t.pcln_off + 12, 0x7fffffff); // funcoff of main.b
    EXPECT_EQ(parse_error(t.bytes), ErrorKind::Truncated);
}

TEST(Pclntab, BadRecordFieldsFailWhenUsed) {
    struct Case {
        uint32_t field;
        uint32_t value;
    };
    for (auto c : {Case{4, 0x100000}, Case{16, 0x100000}, Case{20, 0x7fffffff}, Case{24, 0x7fffffff},
                   Case{28, 0x40000000}, Case{32, 0x7fffffff}}) {
        auto t = SyntheticPclntab::make();
        t.put32(t.pcln_off + t.func_record[0] + c.field, c.value);
        auto k = parse_error(t.bytes);
        EXPECT_TRUE(k == ErrorKind::Corrupt || k == ErrorKind::Truncated) << "field " << c.field;
    }
}

TEST(Pclntab, EndlessPcTableIsAnError) {
    auto t = SyntheticPclntab::make();
    // Replace pcsp with a run of continuation bytes up to the end of pctab.
    for (uint64_t o = t.pctab_off + t.pcsp_off; o < t.pcln_off; ++o)
        t.bytes[o] = 0x81;
    auto k = parse_error(t.bytes);
    EXPECT_TRUE(k == ErrorKind::Corrupt || k == ErrorKind::Truncated);
}

} // namespace
} // namespace deftrace::testing
