// Inputs found by the fuzz targets (fuzz/), minimised to the one field that matters, applied to
// the synthetic Go binary: each must end in a deftrace::Error of the right kind, or load and
// report cleanly, never crash or throw anything else.
#include "synthetic_go_binary.h"

#include "analysis/defer_sites.h"
#include "binary/error.h"
#include "binary/go_binary.h"
#include "binary/pclntab.h"
#include "inspect_report.h"
#include "synthetic_pclntab.h"

#include <cstring>
#include <elf.h>
#include <gtest/gtest.h>

namespace deftrace::testing {
namespace {

std::optional<ErrorKind> open_and_analyse(const std::vector<uint8_t> &bytes) {
    try {
        const auto bin = GoBinary::from_bytes(bytes, "damaged");
        const auto funcs = analyze_defer_sites(bin);
        (void)inspect_json_text(bin, funcs);
        return std::nullopt;
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos)
            << "message should name the file: " << e.what();
        return e.kind();
    }
}

void put64(std::vector<uint8_t> &b, uint64_t off, uint64_t v) {
    std::memcpy(b.data() + off, &v, 8);
}

// A PT_LOAD whose p_vaddr no longer covers the .gopclntab section: Go 1.26+ re-reads the table
// by address once moduledata gives the text start, and that read used to be an unchecked
// optional (std::bad_optional_access, exit 70).
TEST(FuzzRegression, PclntabSegmentWithCorruptVaddrIsCorrupt) {
    for (int minor : {22, 26}) {
        SCOPED_TRACE(minor);
        auto img = synthetic_go_binary({minor, true, false});
        put64(img.bytes, img.phdr_file_offs[1] + offsetof(Elf64_Phdr, p_vaddr), img.rodata_vaddr + 0x100000);
        EXPECT_EQ(open_and_analyse(img.bytes), ErrorKind::Corrupt);
    }
}

// The section header moved instead: the same disagreement, the same verdict.
TEST(FuzzRegression, PclntabSectionAddressOutsideItsSegmentIsCorrupt) {
    auto img = synthetic_go_binary({26, true, false});
    Elf64_Ehdr eh;
    std::memcpy(&eh, img.bytes.data(), sizeof eh);
    bool moved = false;
    for (unsigned i = 0; i < eh.e_shnum; ++i) {
        Elf64_Shdr sh;
        const uint64_t at = eh.e_shoff + uint64_t{i} * sizeof sh;
        std::memcpy(&sh, img.bytes.data() + at, sizeof sh);
        if (sh.sh_offset == img.pclntab_file_off && sh.sh_size == img.pclntab_size) {
            put64(img.bytes, at + offsetof(Elf64_Shdr, sh_addr), sh.sh_addr + 8);
            moved = true;
        }
    }
    ASSERT_TRUE(moved);
    EXPECT_EQ(open_and_analyse(img.bytes), ErrorKind::Corrupt);
}

// Build info strings are bytes, not UTF-8: they are read as they are, and the JSON report
// replaces what is not UTF-8 instead of throwing nlohmann's type_error (exit 70).
TEST(FuzzRegression, InvalidUtf8InBuildInfoVersionIsReported) {
    auto img = synthetic_go_binary({22, true, false});
    // Inline form: uvarint length at +32, then "go1.22.0".
    const uint64_t version = img.buildinfo_file_off + 33;
    ASSERT_EQ(std::memcmp(img.bytes.data() + version, "go1.22.0", 8), 0);
    img.bytes[version + 6] = 0xff; // "go1.22\xff0": minor 22, an odd pre-release tag
    const auto bin = GoBinary::from_bytes(img.bytes, "utf8");
    ASSERT_TRUE(bin.buildinfo().has_value());
    EXPECT_EQ(bin.buildinfo()->go_version, "go1.22\xff"
                                           "0");
    EXPECT_EQ(bin.version().minor, 22);
    const auto json = inspect_json_text(bin, analyze_defer_sites(bin));
    EXPECT_NE(json.find("\"go1.22\xef\xbf\xbd"
                        "0\""),
              std::string::npos);
}

TEST(FuzzRegression, InvalidUtf8InBuildInfoWarningIsReported) {
    auto img = synthetic_go_binary({22, true, false});
    const uint64_t version = img.buildinfo_file_off + 33;
    img.bytes[version + 2] = 0xc3; // "go\xc3.22.0": unparsable, quoted in a warning
    const auto bin = GoBinary::from_bytes(img.bytes, "utf8");
    EXPECT_EQ(bin.version_source(), "fingerprint");
    ASSERT_FALSE(bin.warnings().empty());
    EXPECT_NO_THROW((void)inspect_json_text(bin, analyze_defer_sites(bin)));
}

// A pc-value step of INT64_MIN (zigzag varint ff ff ff ff ff ff ff ff ff 01) added to the
// running value was signed overflow (UBSan); it is a corrupt table.
TEST(FuzzRegression, PcValueStepThatWouldOverflowIsCorrupt) {
    auto t = SyntheticPclntab::make();
    const uint64_t pcsp = t.pctab_off + t.pcsp_off;
    ASSERT_LE(pcsp + 11, t.pcln_off);
    for (uint64_t k = 0; k < 9; ++k)
        t.bytes[pcsp + k] = 0xff;
    t.bytes[pcsp + 9] = 0x01;
    t.bytes[pcsp + 10] = 0x10; // pc delta
    const auto tab = Pclntab::parse(Bytes(t.bytes), LinkAddr(0x500000));
    try {
        (void)tab.pcsp(tab.func(0));
        ADD_FAILURE() << "accepted";
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::Corrupt);
    }
}

} // namespace
} // namespace deftrace::testing
