// Real Go binaries, damaged on purpose: every damage must end in one deftrace::Error (a clear
// line), never a crash, a hang or undefined behaviour (this suite also runs under ASan/UBSan).
#include "manifest.h"

#include "analysis/defer_sites.h"
#include "binary/error.h"
#include "binary/go_binary.h"

#include <cstring>
#include <elf.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string write_temp(const std::vector<uint8_t> &bytes, const std::string &name) {
    fs::path dir = fs::temp_directory_path() / ("deftrace-corrupt-" + std::to_string(getpid()));
    fs::create_directories(dir);
    fs::path p = dir / name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p.string();
}

// Opens and fully analyses `path`; returns the error kind, or nullopt on success.
std::optional<ErrorKind> load(const std::string &path) {
    try {
        auto bin = GoBinary::open(path);
        (void)analyze_defer_sites(bin);
        return std::nullopt;
    } catch (const Error &e) {
        EXPECT_FALSE(std::string(e.what()).empty());
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "error message spans lines: " << e.what();
        return e.kind();
    }
}

// Picks a default build of the oldest and newest Go release in the manifest.
std::vector<BuiltProgram> samples() {
    std::vector<BuiltProgram> all;
    for (auto &b : load_manifest())
        if (b.variant == "default" && (b.program == "basic" || all.empty()))
            all.push_back(b);
    std::vector<BuiltProgram> out;
    if (all.empty())
        return out;
    auto by_minor = [](const BuiltProgram &a, const BuiltProgram &b) {
        return std::stoi(a.minor.substr(2)) < std::stoi(b.minor.substr(2));
    };
    out.push_back(*std::min_element(all.begin(), all.end(), by_minor));
    out.push_back(*std::max_element(all.begin(), all.end(), by_minor));
    return out;
}

struct Pclntab_loc {
    uint64_t offset = 0, size = 0;
};

Pclntab_loc pclntab_of(const std::string &path) {
    auto elf = ElfFile::open(path);
    for (const char *n : {".gopclntab", ".data.rel.ro.gopclntab"})
        if (const auto *s = elf.section(n))
            return {s->offset, s->size};
    ADD_FAILURE() << "no pclntab section in " << path;
    return {};
}

void put64(std::vector<uint8_t> &b, uint64_t off, uint64_t v) {
    std::memcpy(b.data() + off, &v, 8);
}

TEST(CorruptBinary, TruncatedFilesAreReportedAsTruncated) {
    for (const auto &b : samples()) {
        SCOPED_TRACE(b.label());
        auto bytes = read_file(b.binary());
        ASSERT_GT(bytes.size(), 4096u);
        for (double frac : {0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.9999}) {
            auto cut = std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() * frac));
            auto kind = load(write_temp(cut, "trunc"));
            ASSERT_TRUE(kind.has_value()) << "truncated to " << cut.size() << " bytes was accepted";
            EXPECT_TRUE(*kind == ErrorKind::Truncated || *kind == ErrorKind::NotElf) << "at " << frac;
        }
    }
}

TEST(CorruptBinary, DamagedPclntabHeaderIsAnError) {
    for (const auto &b : samples()) {
        SCOPED_TRACE(b.label());
        const auto bytes = read_file(b.binary());
        const auto loc = pclntab_of(b.binary());
        struct Case {
            const char *name;
            uint64_t field; // offset inside the pcHeader
            uint64_t value;
        };
        const Case cases[] = {
            {"bad magic", 0, 0x12345678u},
            {"huge nfunc", 8, 0x7fffffffffffffffull},
            {"nfunc past table", 8, loc.size},
            {"funcnametab out of range", 32, loc.size + 1000},
            {"cutab before funcnametab", 40, 8},
            {"pctab huge", 56, ~0ull},
            {"pclntable out of range", 64, loc.size * 2},
        };
        for (const auto &c : cases) {
            SCOPED_TRACE(c.name);
            auto m = bytes;
            if (c.field == 0)
                std::memcpy(m.data() + loc.offset, &c.value, 4);
            else
                put64(m, loc.offset + c.field, c.value);
            auto kind = load(write_temp(m, "hdr"));
            ASSERT_TRUE(kind.has_value()) << "damaged header accepted";
            EXPECT_TRUE(*kind == ErrorKind::Corrupt || *kind == ErrorKind::Truncated || *kind == ErrorKind::NotGo);
        }
    }
}

TEST(CorruptBinary, RandomDamageNeverCrashes) {
    for (const auto &b : samples()) {
        SCOPED_TRACE(b.label());
        const auto bytes = read_file(b.binary());
        const auto loc = pclntab_of(b.binary());
        std::mt19937_64 rng(20261122);
        int errors = 0;
        for (int iter = 0; iter < 150; ++iter) {
            auto m = bytes;
            int flips = 1 + static_cast<int>(rng() % 16);
            for (int k = 0; k < flips; ++k) {
                // Mostly the function table and _func records (the start of pclntable), some anywhere.
                uint64_t span = (iter % 3 == 0) ? loc.size : std::min<uint64_t>(loc.size, 1 << 16);
                uint64_t off = loc.offset + rng() % span;
                m[off] = static_cast<uint8_t>(rng());
            }
            if (load(write_temp(m, "fuzz")))
                ++errors;
        }
        SUCCEED() << errors << " of 150 damaged binaries were rejected";
    }
}

TEST(CorruptBinary, WithoutSectionHeadersTheTablesAreFoundByScanning) {
    for (const auto &b : samples()) {
        SCOPED_TRACE(b.label());
        auto m = read_file(b.binary());
        Elf64_Ehdr eh;
        std::memcpy(&eh, m.data(), sizeof eh);
        eh.e_shoff = 0;
        eh.e_shnum = 0;
        eh.e_shstrndx = 0;
        std::memcpy(m.data(), &eh, sizeof eh);
        auto path = write_temp(m, "noshdr");
        auto stripped = GoBinary::open(path);
        auto original = GoBinary::open(b.binary());
        EXPECT_EQ(stripped.pclntab_source(), "scan");
        EXPECT_FALSE(stripped.moduledata().from_symbol);
        EXPECT_EQ(stripped.version().text, original.version().text);
        EXPECT_EQ(stripped.pclntab().address(), original.pclntab().address());
        EXPECT_EQ(stripped.moduledata().address, original.moduledata().address);
        EXPECT_EQ(stripped.moduledata().gofunc, original.moduledata().gofunc);
        auto a = analyze_defer_sites(stripped), o = analyze_defer_sites(original);
        ASSERT_EQ(a.size(), o.size());
        for (size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].name, o[i].name);
            EXPECT_EQ(a[i].sites.size(), o[i].sites.size()) << a[i].name;
        }
    }
}

TEST(CorruptBinary, DamagedOpenCodedDeferInfoIsCorrupt) {
    for (const auto &b : samples()) {
        SCOPED_TRACE(b.label());
        auto bin = GoBinary::open(b.binary());
        std::optional<LinkAddr> at;
        for (size_t i = 0; i < bin.pclntab().num_funcs() && !at; ++i) {
            auto f = bin.pclntab().func(i);
            at = bin.pclntab().funcdata(f, bin.facts().funcdata_opendefer, bin.moduledata().gofunc);
        }
        ASSERT_TRUE(at.has_value()) << "no function with open-coded defers";
        uint64_t file_off = 0;
        for (const auto &seg : bin.elf().segments())
            if (seg.type == PT_LOAD && *at >= seg.vaddr && *at - seg.vaddr < seg.filesz)
                file_off = seg.offset + (*at - seg.vaddr);
        ASSERT_NE(file_off, 0u);
        auto m = read_file(b.binary());
        for (int k = 0; k < 12; ++k)
            m[file_off + k] = 0xff; // an endless varint
        auto kind = load(write_temp(m, "odi"));
        ASSERT_TRUE(kind.has_value());
        EXPECT_EQ(*kind, ErrorKind::Corrupt);
    }
}

} // namespace
} // namespace deftrace::testing
