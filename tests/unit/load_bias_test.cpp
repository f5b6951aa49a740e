#include "binary/load_bias.h"

#include <gtest/gtest.h>

#include <type_traits>

namespace deftrace::testing {
namespace {

// The two address spaces do not mix: neither converts to the other, even explicitly.
static_assert(!std::is_convertible_v<Addr, LinkAddr>);
static_assert(!std::is_convertible_v<LinkAddr, Addr>);
static_assert(!std::is_constructible_v<Addr, LinkAddr>);
static_assert(!std::is_constructible_v<LinkAddr, Addr>);

TEST(LoadBias, NonPieMapsEachAddressOntoItself) {
    const LoadBias none;
    EXPECT_TRUE(none.is_zero());
    EXPECT_EQ(none.runtime(LinkAddr(0x401000)), Addr(0x401000));
    EXPECT_EQ(none.link(Addr(0x401000)), LinkAddr(0x401000));
}

TEST(LoadBias, PieConvertsBothWays) {
    const LoadBias b = LoadBias::between(LinkAddr(0x6a2e0), Addr(0x55555556a2e0));
    EXPECT_FALSE(b.is_zero());
    EXPECT_EQ(b.runtime(LinkAddr(0x1000)), Addr(0x555555501000));
    EXPECT_EQ(b.link(Addr(0x555555501000)), LinkAddr(0x1000));
    EXPECT_EQ(b.link(b.runtime(LinkAddr(0x4242))), LinkAddr(0x4242));
}

} // namespace
} // namespace deftrace::testing
