// The registry of supported Go releases (src/release): the range it derives, its lookups, its
// messages, and its agreement with the test matrix and the shipped layout tables.
#include "release/go_releases.h"

#include "binary/error.h"
#include "binary/go_binary.h"
#include "binary/pclntab.h"
#include "synthetic_go_binary.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <sstream>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;

// The minor releases scripts/go-versions.txt pins a toolchain for ("1.22  1.22.12-3~bpo12+1 ...").
std::set<int> matrix_minors() {
    std::ifstream in(fs::path(DEFTRACE_SOURCE_DIR) / "scripts" / "go-versions.txt");
    std::set<int> out;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("1."))
            continue;
        std::istringstream words(line.substr(2));
        int minor = 0;
        if (words >> minor)
            out.insert(minor);
    }
    return out;
}

// Their era column ("1.22  1.22.12-3~bpo12+1  bookworm-backports  B"), by minor.
std::map<int, std::string> matrix_eras() {
    std::ifstream in(fs::path(DEFTRACE_SOURCE_DIR) / "scripts" / "go-versions.txt");
    std::map<int, std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("1."))
            continue;
        std::istringstream words(line.substr(2));
        int minor = 0;
        std::string pin, suite, era;
        if (words >> minor >> pin >> suite >> era)
            out[minor] = era;
    }
    return out;
}

TEST(GoReleases, RangeIsTheFirstAndLastRow) {
    const auto rows = go_releases();
    ASSERT_FALSE(rows.empty());
    EXPECT_EQ(&first_go_release(), &rows.front());
    EXPECT_EQ(&last_go_release(), &rows.back());
    EXPECT_EQ(first_go_release().minor, 14);
    EXPECT_EQ(last_go_release().minor, 27);
    EXPECT_EQ(supported_go_range(), "1.14\u20131.27");
    for (size_t i = 1; i < rows.size(); ++i)
        EXPECT_EQ(rows[i].minor, rows[i - 1].minor + 1) << "a gap or disorder after " << rows[i - 1].name();
}

TEST(GoReleases, LookupFindsEveryRowAndNothingOutside) {
    for (const auto &r : go_releases()) {
        const GoRelease *found = go_release(1, r.minor);
        ASSERT_NE(found, nullptr) << r.name();
        EXPECT_EQ(found, &r);
        EXPECT_EQ(found->name(), "1." + std::to_string(r.minor));
    }
    EXPECT_EQ(go_release(1, first_go_release().minor - 1), nullptr); // 1.17: the model knew it, binary/ never read it
    EXPECT_EQ(go_release(1, last_go_release().minor + 1), nullptr);
    EXPECT_EQ(go_release(1, 2), nullptr);
    EXPECT_EQ(go_release(1, -5), nullptr);
    EXPECT_EQ(go_release(2, 22), nullptr);
    EXPECT_EQ(go_release(0, 22), nullptr);
}

// The era scripts/test.sh picks the instrumented build's releases by is the registry's.
TEST(GoReleases, MatrixPinsNameTheirRowsEra) {
    const auto eras = matrix_eras();
    ASSERT_EQ(eras.size(), matrix_minors().size()) << "a line of scripts/go-versions.txt has no era column";
    for (const auto &[minor, era] : eras) {
        const GoRelease *r = go_release(1, minor);
        ASSERT_NE(r, nullptr) << minor;
        EXPECT_EQ(era, era_name(r->era)) << "Go 1." << minor;
    }
}

// Every toolchain of the matrix has its row, marked in_matrix, with its layout table shipped; no
// row claims the matrix without being in it.
TEST(GoReleases, MatrixReleasesHaveRowsAndLayoutTables) {
    const std::set<int> matrix = matrix_minors();
    ASSERT_FALSE(matrix.empty());
    for (int minor : matrix) {
        const GoRelease *r = go_release(1, minor);
        ASSERT_NE(r, nullptr) << "scripts/go-versions.txt pins Go 1." << minor << " but the registry has no row";
        EXPECT_TRUE(r->in_matrix) << r->name();
    }
    for (const auto &r : go_releases()) {
        EXPECT_EQ(r.in_matrix, matrix.contains(r.minor)) << r.name();
        const fs::path table = fs::path(DEFTRACE_SOURCE_DIR) / "probes" / "layouts" / ("go" + r.name() + ".json");
        EXPECT_EQ(fs::exists(table), r.in_matrix) << table;
    }
}

TEST(GoReleases, UnsupportedMessageNamesTheRange) {
    EXPECT_EQ(supported_go_sentence(), "deftrace supports 1.14\u20131.27");
    EXPECT_EQ(unsupported_go_message("go1.13.15"),
              "unsupported Go version go1.13.15; deftrace supports 1.14\u20131.27");
}

// The facts binary/ and model/ used to keep apart, now one row: spot checks against the sources.
TEST(GoReleases, RowsHoldTheReleaseFacts) {
    for (const auto &r : go_releases()) {
        SCOPED_TRACE(r.name());
        EXPECT_EQ(r.era, r.minor <= 21 ? Era::A : Era::B);
        EXPECT_EQ(r.panic_has_aborted, r.era == Era::A); // runtime2.go@1.22 removed _panic.aborted
        EXPECT_EQ(r.deferproc_returns_flag, r.minor <= 24);
        EXPECT_EQ(r.panic_has_repanicked, r.minor >= 25);
        EXPECT_EQ(r.opendefer_format, r.minor <= 17   ? OpenDeferFormat::Go117
                                      : r.minor <= 21 ? OpenDeferFormat::Go118
                                                      : OpenDeferFormat::Go122);
        EXPECT_EQ(r.pclntab_magic, r.minor <= 15   ? 0xfffffffbu
                                   : r.minor <= 17 ? 0xfffffffau
                                   : r.minor <= 19 ? 0xfffffff0u
                                                   : 0xfffffff1u);
        EXPECT_EQ(r.abi, r.minor <= 16 ? CallingConvention::Stack : CallingConvention::Register);
        EXPECT_EQ(r.deferreturn_jmpdefer, r.minor <= 17); // runtime: remove jmpdefer, 1.18
        EXPECT_EQ(r.deferproc_has_siz, r.minor <= 17);
        EXPECT_EQ(r.panic_calls_reflectcall, r.minor <= 16);
        EXPECT_EQ(r.funcdata_opendefer, r.minor <= 15 ? 5 : 4); // FUNCDATA_RegPointerMaps removed in 1.16
        EXPECT_EQ(r.funcdata_inltree, r.funcdata_opendefer - 1);
        EXPECT_EQ(r.moduledata_gofunc == 0, r.minor <= 17);
        EXPECT_EQ(r.inltree_name_off, r.minor >= 20);
        // Every row's pclntab format is one Pclntab reads.
        EXPECT_NE(pclntab_layout(r.pclntab_magic), nullptr);
    }
    EXPECT_EQ(go_release(1, 21)->funcid_gopanic, 9);
    EXPECT_EQ(go_release(1, 22)->funcid_gopanic, 10);
    EXPECT_EQ(go_release(1, 24)->funcid_wrapper, 22);
    EXPECT_EQ(go_release(1, 25)->funcid_wrapper, 23);
    EXPECT_EQ(go_release(1, 19)->moduledata_gofunc, 304u);
    EXPECT_EQ(go_release(1, 26)->moduledata_gofunc, 320u);
    EXPECT_EQ(go_release(1, 27)->moduledata_gofunc, 344u);
    EXPECT_EQ(go_release(1, 25)->recover_rule, RecoverRule::ArgpMatch);
    EXPECT_EQ(go_release(1, 26)->recover_rule, RecoverRule::FrameCountFP);
    EXPECT_EQ(go_release(1, 27)->recover_rule, RecoverRule::FrameCountStart);
    EXPECT_FALSE(go_release(1, 26)->skips_older_panic_frames);
    EXPECT_TRUE(go_release(1, 27)->skips_older_panic_frames);
}

// A binary whose build info names a release outside the registry is refused with the registry's
// message (exit 69 on the command line), at either end of the range.
TEST(GoReleases, BinaryOutsideTheRangeIsRefused) {
    for (int minor : {first_go_release().minor - 1, last_go_release().minor + 1}) {
        SynthGoOptions opts;
        opts.minor = minor;
        const auto img = synthetic_go_binary(opts);
        try {
            (void)GoBinary::from_bytes(img.bytes, "synthetic");
            ADD_FAILURE() << "Go 1." << minor << " accepted";
        } catch (const Error &e) {
            EXPECT_EQ(e.kind(), ErrorKind::UnsupportedGo);
            EXPECT_EQ(std::string(e.what()),
                      "synthetic: " + unsupported_go_message("go1." + std::to_string(minor) + ".0"));
        }
    }
}

} // namespace
} // namespace deftrace::testing
