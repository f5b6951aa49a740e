#include "binary/go_version.h"
#include "binary/version_facts.h"

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

TEST(VersionFacts, CoverTheMatrixAndNothingElse) {
    for (int minor = 18; minor <= 27; ++minor)
        EXPECT_NE(version_facts(GoVersion{1, minor, 0, ""}), nullptr) << minor;
    EXPECT_EQ(version_facts(GoVersion{1, 17, 0, ""}), nullptr);
    EXPECT_EQ(version_facts(GoVersion{1, 28, 0, ""}), nullptr);
    EXPECT_EQ(version_facts(GoVersion{1, 21, 0, ""})->opendefer_format, OpenDeferFormat::Go118);
    EXPECT_EQ(version_facts(GoVersion{1, 22, 0, ""})->opendefer_format, OpenDeferFormat::Go122);
    EXPECT_EQ(version_facts(GoVersion{1, 27, 0, ""})->moduledata_gofunc, 344u);
    EXPECT_TRUE(version_facts(GoVersion{1, 24, 0, ""})->deferproc_returns_flag);
    EXPECT_FALSE(version_facts(GoVersion{1, 25, 0, ""})->deferproc_returns_flag);
}

} // namespace
} // namespace deftrace::testing
