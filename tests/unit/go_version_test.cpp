#include "binary/go_version.h"

#include <gtest/gtest.h>

namespace deftrace::testing {
namespace {

TEST(GoVersion, Parses) {
    auto v = GoVersion::parse("go1.22.12");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->minor, 22);
    EXPECT_EQ(v->patch, 12);
    EXPECT_EQ(v->minor_string(), "1.22");
    EXPECT_EQ(GoVersion::parse("go1.21")->minor, 21);
    EXPECT_EQ(GoVersion::parse("go1.23rc1")->minor, 23);
    EXPECT_EQ(GoVersion::parse("go1.25.1 X:nodwarf5")->patch, 1);
    EXPECT_FALSE(GoVersion::parse("devel +abc"));
    EXPECT_FALSE(GoVersion::parse("go"));
    EXPECT_FALSE(GoVersion::parse("1.22"));
}

} // namespace
} // namespace deftrace::testing
