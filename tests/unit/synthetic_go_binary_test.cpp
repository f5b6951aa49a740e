// The synthetic Go binary (the fuzz targets' main seed) must open and analyse like a real one;
// otherwise the fuzzers would only ever explore the error paths of GoBinary::open.
#include "synthetic_go_binary.h"

#include "analysis/defer_sites.h"
#include "binary/go_binary.h"

#include <gtest/gtest.h>

namespace deftrace::testing {
namespace {

class SyntheticGoBinary : public ::testing::TestWithParam<SynthGoOptions> {};

TEST_P(SyntheticGoBinary, OpensAndAnalyses) {
    const auto opts = GetParam();
    const auto img = synthetic_go_binary(opts);
    const auto bin = GoBinary::from_bytes(img.bytes, "synthetic");
    EXPECT_EQ(bin.version().minor, opts.minor);
    EXPECT_EQ(bin.version_source(), "buildinfo");
    EXPECT_EQ(bin.pclntab_source(), opts.section_headers ? ".gopclntab" : "scan");
    EXPECT_EQ(bin.pclntab().num_funcs(), 6u);
    EXPECT_EQ(bin.moduledata().text, LinkAddr(img.text_vaddr));
    EXPECT_EQ(bin.pclntab().text_start(), LinkAddr(img.text_vaddr));
    EXPECT_TRUE(bin.warnings().empty()) << bin.warnings().front();

    const auto funcs = analyze_defer_sites(bin);
    ASSERT_EQ(funcs.size(), 2u);
    EXPECT_EQ(funcs[0].name, "main.heap");
    ASSERT_EQ(funcs[0].sites.size(), 1u);
    EXPECT_EQ(funcs[0].sites[0].kind, DeferKind::Heap);
    EXPECT_EQ(funcs[1].name, "main.open");
    ASSERT_TRUE(funcs[1].open_coded.has_value());
    EXPECT_EQ(funcs[1].open_coded->info.deferbits_offset, 0x21u);

    const auto heap = bin.pclntab().func(4);
    const auto inl = bin.inlined_calls(heap, heap.entry + 4);
    ASSERT_EQ(inl.size(), 1u);
    EXPECT_EQ(inl[0].name, "main.inl");
    EXPECT_EQ(inl[0].call_pc, heap.entry);
}

INSTANTIATE_TEST_SUITE_P(Variants, SyntheticGoBinary,
                         ::testing::Values(SynthGoOptions{19, true, false}, SynthGoOptions{22, true, false},
                                           SynthGoOptions{22, false, false}, SynthGoOptions{22, true, true},
                                           SynthGoOptions{26, true, false}, SynthGoOptions{27, false, true}));

} // namespace
} // namespace deftrace::testing
