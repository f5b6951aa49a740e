// Where deftrace looks for its shipped data, what it says when the data is missing, and what is
// chosen from it (shipped/shipped_data.h).
#include "shipped/shipped_data.h"

#include "binary/error.h"
#include "synthetic_go_binary.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <unistd.h>

#ifndef DEFTRACE_SOURCE_DIR
#error "DEFTRACE_SOURCE_DIR must name the source tree (for probes/)"
#endif

namespace deftrace {
namespace {

namespace fs = std::filesystem;

const fs::path kProbes = fs::path(DEFTRACE_SOURCE_DIR) / "probes";

// The Error `f` throws; fails the test when it throws none.
template <typename F> Error error_of(F &&f) {
    try {
        f();
    } catch (const Error &e) {
        return e;
    }
    ADD_FAILURE() << "no error";
    return Error(ErrorKind::Usage, "");
}

size_t shipped_probe_files() {
    size_t n = 0;
    for (const auto &e : fs::directory_iterator(kProbes / "resources"))
        n += e.path().extension() == ".json";
    return n;
}

TEST(ShippedData, SearchPathIsRelativeToTheExecutable) {
    EXPECT_EQ(ShippedData::search_path("/opt/dt/bin/deftrace", nullptr),
              (std::vector<fs::path>{"/opt/dt/share/deftrace/probes", "/opt/dt/bin/share/deftrace/probes"}));
    // A replaced executable reads as "... (deleted)"; its directory is still the right one.
    EXPECT_EQ(ShippedData::search_path("/b/cmd/deftrace/deftrace (deleted)", nullptr).back(),
              fs::path("/b/cmd/deftrace/share/deftrace/probes"));
}

TEST(ShippedData, TheEnvironmentNamesTheOnlyDirectory) {
    EXPECT_EQ(ShippedData::search_path("/opt/dt/bin/deftrace", "/my/probes"), std::vector<fs::path>{"/my/probes"});
    // Set but empty is not set.
    EXPECT_EQ(ShippedData::search_path("/opt/dt/bin/deftrace", "").size(), 2u);
    EXPECT_TRUE(ShippedData::search_path("", nullptr).empty());
}

TEST(ShippedData, TheFirstDirectoryThatExistsIsUsed) {
    const ShippedData data({"/nonexistent/deftrace-a", kProbes, "/nonexistent/deftrace-b"});
    EXPECT_EQ(data.dir(), kProbes);
    EXPECT_EQ(data.resources_dir(), kProbes / "resources");
    EXPECT_EQ(data.layouts_dir(), kProbes / "layouts");
}

TEST(ShippedData, MissingDataIsOneLineNamingEveryDirectoryLookedIn) {
    const ShippedData data({"/nonexistent/deftrace-a", "/nonexistent/deftrace-b"});
    const Error e = error_of([&] { (void)data.dir(); });
    EXPECT_EQ(e.kind(), ErrorKind::UnsupportedGo); // exit 69
    const std::string msg = e.what();
    EXPECT_NE(msg.find("/nonexistent/deftrace-a, /nonexistent/deftrace-b"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;

    const std::string nowhere = error_of([] { (void)ShippedData({}).dir(); }).what();
    EXPECT_NE(nowhere.find("DEFTRACE_PROBES_DIR"), std::string::npos) << nowhere;
}

TEST(ShippedData, ProbesByNameAllShippedAndEachOnce) {
    const ShippedData data({kProbes});
    auto probes =
        resource_probes({"os-file", "os-file", (kProbes / "resources" / "os-file.json").string()}, false, data);
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_EQ(probes[0].name, "os-file");
    probes = resource_probes({"sql-tx"}, true, data);
    EXPECT_EQ(probes.size(), shipped_probe_files());
    EXPECT_EQ(probes.front().name, "sql-tx"); // the ones named first
    EXPECT_TRUE(resource_probes({}, false, data).empty());
}

TEST(ShippedData, AProbeFileNeedsNoShippedData) {
    const ShippedData none({"/nonexistent/deftrace-a"});
    const auto probes = resource_probes({(kProbes / "resources" / "sql-tx.json").string()}, false, none);
    ASSERT_EQ(probes.size(), 1u);
    EXPECT_EQ(probes[0].name, "sql-tx");
    EXPECT_TRUE(resource_probes({}, false, none).empty());
    // A name, or every shipped probe, does.
    EXPECT_EQ(error_of([&] { resource_probes({"sql-tx"}, false, none); }).kind(), ErrorKind::UnsupportedGo);
    EXPECT_EQ(error_of([&] { resource_probes({}, true, none); }).kind(), ErrorKind::UnsupportedGo);
}

TEST(ShippedData, AStrippedBinaryGetsTheTableOfItsRelease) {
    const auto img = testing::synthetic_go_binary({.minor = 22});
    const GoBinary bin = GoBinary::from_bytes(img.bytes, "synthetic");
    ASSERT_FALSE(bin.has_dwarf());
    const StructLayouts l = layouts_for(bin, ShippedData({kProbes}));
    EXPECT_TRUE(l.offset("runtime.g", "_panic").has_value());

    const Error missing = error_of([&] { layouts_for(bin, ShippedData({"/nonexistent/deftrace-a"})); });
    EXPECT_EQ(missing.kind(), ErrorKind::UnsupportedGo);
    const std::string msg = missing.what();
    EXPECT_TRUE(msg.starts_with("synthetic: stripped binary built by go1.22")) << msg;
    EXPECT_NE(msg.find("/nonexistent/deftrace-a"), std::string::npos) << msg;
}

TEST(ShippedData, NoTableForTheReleaseNamesTheFileAndWhereItWasLookedFor) {
    const auto img = testing::synthetic_go_binary({.minor = 20}); // no go1.20.json is shipped
    const GoBinary bin = GoBinary::from_bytes(img.bytes, "synthetic");
    const Error e = error_of([&] { layouts_for(bin, ShippedData({kProbes})); });
    EXPECT_EQ(e.kind(), ErrorKind::UnsupportedGo);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("go1.20.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find((kProbes / "layouts").string()), std::string::npos) << msg;
}

} // namespace
} // namespace deftrace
