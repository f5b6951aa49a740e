// StructLayouts: the JSON table format, require()'s error, and the generated per-release tables in
// probes/layouts checked against go-runtime.md §1 and §5.4 (offsets read there from DWARF).
#include "binary/elf_file.h"
#include "binary/error.h"
#include "binary/struct_layouts.h"
#include "release/go_releases.h"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <regex>
#include <set>
#include <string>

#ifndef DEFTRACE_SOURCE_DIR
#error "DEFTRACE_SOURCE_DIR must name the source tree (for probes/layouts)"
#endif

namespace deftrace {
namespace {

namespace fs = std::filesystem;

StructLayouts sample() {
    StructLayouts l;
    l.set_go_version("go1.22.12");
    StructLayout g;
    g.size = 424;
    g.fields = {{"stack", 0, 16},  {"stack.lo", 0, 8},      {"stack.hi", 8, 8},  {"_panic", 32, 8},
                {"_defer", 40, 8}, {"sched", 56, 56},       {"sched.sp", 56, 8}, {"sched.pc", 64, 8},
                {"goid", 152, 8},  {"atomicstatus", 144, 4}};
    l.add("runtime.g", g);
    StructLayout d;
    d.size = 48;
    d.fields = {{"heap", 0, 1}, {"rangefunc", 1, 1}, {"sp", 8, 8}, {"link", 32, 8}};
    l.add("runtime._defer", d);
    return l;
}

nlohmann::json plain(const nlohmann::ordered_json &j) {
    return nlohmann::json::parse(j.dump());
}

TEST(StructLayouts, TableRoundTrip) {
    const StructLayouts original = sample();
    const auto j1 = original.to_json();
    auto back = StructLayouts::from_table(plain(j1));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->source(), "table");
    EXPECT_EQ(back->go_version(), "go1.22.12");
    EXPECT_EQ(back->to_json()["structs"], j1["structs"]);
    EXPECT_EQ(back->offset("runtime.g", "sched.sp"), 56u);
    EXPECT_EQ(back->offset("runtime._defer", "link"), 32u);
    EXPECT_EQ(back->size_of("runtime.g"), 424u);
    ASSERT_NE(back->find("runtime.g"), nullptr);
    ASSERT_NE(back->find("runtime.g")->field("atomicstatus"), nullptr);
    EXPECT_EQ(back->find("runtime.g")->field("atomicstatus")->size, 4u);

    // A table read back prints byte for byte the same: the generated files are stable.
    auto again = StructLayouts::from_table(plain(back->to_json()));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->to_json().dump(2), back->to_json().dump(2));
}

TEST(StructLayouts, FieldsAreInOffsetOrderWithParentsFirst) {
    auto back = StructLayouts::from_table(plain(sample().to_json()));
    ASSERT_TRUE(back.has_value());
    std::vector<std::string> names;
    for (const auto &f : back->find("runtime.g")->fields)
        names.push_back(f.name);
    const std::vector<std::string> expected = {"stack", "stack.lo", "stack.hi", "_panic",       "_defer",
                                               "sched", "sched.sp", "sched.pc", "atomicstatus", "goid"};
    EXPECT_EQ(names, expected);
}

TEST(StructLayouts, AbsentMeansAbsent) {
    const StructLayouts l = sample();
    EXPECT_FALSE(l.offset("runtime._defer", "_panic").has_value());
    EXPECT_FALSE(l.offset("runtime._panic", "arg").has_value());
    EXPECT_FALSE(l.size_of("runtime.m").has_value());
    EXPECT_FALSE(l.empty());
    EXPECT_TRUE(StructLayouts().empty());
}

TEST(StructLayouts, RejectsMalformedTables) {
    using nlohmann::json;
    EXPECT_FALSE(StructLayouts::from_table(json::array()).has_value());
    EXPECT_FALSE(StructLayouts::from_table(json{{"go_version", "go1.22"}}).has_value());
    EXPECT_FALSE(StructLayouts::from_table(json{{"structs", json::array()}}).has_value());
    EXPECT_FALSE(StructLayouts::from_table(json::parse(R"({"structs":{"runtime.g":{"fields":{}}}})")).has_value());
    EXPECT_FALSE(StructLayouts::from_table(json::parse(R"({"structs":{"runtime.g":{"size":8,"fields":{"m":[48,8]}}}})"))
                     .has_value());
    EXPECT_FALSE(StructLayouts::from_table(
                     json::parse(R"({"structs":{"runtime.g":{"size":8,"fields":{"m":{"offset":-1,"size":8}}}}})"))
                     .has_value());
    EXPECT_FALSE(StructLayouts::from_table(
                     json::parse(R"({"structs":{"runtime.g":{"size":"8","fields":{"m":{"offset":1,"size":8}}}}})"))
                     .has_value());
    EXPECT_FALSE(StructLayouts::from_table(json::parse(R"({"go_version":7,"structs":{}})")).has_value());
    // An empty table is well formed; the caller decides that it is useless.
    auto empty = StructLayouts::from_table(json::parse(R"({"structs":{}})"));
    ASSERT_TRUE(empty.has_value());
    EXPECT_TRUE(empty->empty());
}

TEST(StructLayouts, RequireNamesStructFieldAndVersion) {
    const StructLayouts l = sample();
    EXPECT_EQ(l.require("runtime.g", "goid"), 152u);
    try {
        (void)l.require("runtime._defer", "_panic");
        FAIL() << "require() did not throw";
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::UnsupportedGo);
        const std::string msg = e.what();
        EXPECT_NE(msg.find("runtime._defer._panic"), std::string::npos) << msg;
        EXPECT_NE(msg.find("go1.22.12"), std::string::npos) << msg;
    }
    try {
        (void)l.require("runtime.m", "curg");
        FAIL() << "require() did not throw";
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::UnsupportedGo);
        const std::string msg = e.what();
        EXPECT_NE(msg.find("runtime.m"), std::string::npos) << msg;
        EXPECT_NE(msg.find("curg"), std::string::npos) << msg;
        EXPECT_NE(msg.find("go1.22.12"), std::string::npos) << msg;
    }
}

// This test program has C++ DWARF (or none): never Go runtime structures.
TEST(StructLayouts, FromDwarfOfANonGoBinaryIsEmpty) {
    ElfFile self = ElfFile::open("/proc/self/exe");
    auto l = StructLayouts::from_dwarf(self);
    EXPECT_EQ(l.has_value(), self.has_debug_info());
    if (l) {
        EXPECT_TRUE(l->empty());
    }
}

// Offsets from go-runtime.md §1.1–1.3 and §5.4, each read there from DWARF.
struct Expected {
    uint64_t g_goid, g_sigcode0, g_sched_size, g_size;
    uint64_t m_curg;
    uint64_t defer_size, defer_link;
    uint64_t panic_size, panic_link, panic_recovered;
    uint64_t md_types, md_gofunc;
};

const std::map<int, Expected> kExpected = {
    //     goid sigc0 sched gsize curg dsz dlink psz plink prec types gofunc
    {19, {152, 272, 56, 392, 192, 72, 40, 56, 24, 48, 280, 304}},
    {21, {152, 248, 56, 408, 192, 72, 40, 56, 24, 48, 296, 320}},
    {22, {152, 248, 56, 424, 192, 48, 32, 104, 24, 96, 296, 320}},
    {23, {160, 256, 56, 432, 192, 48, 32, 104, 24, 96, 296, 320}},
    {24, {160, 256, 56, 440, 192, 48, 32, 104, 24, 96, 296, 320}},
    {25, {152, 248, 48, 440, 184, 48, 32, 104, 24, 96, 296, 320}},
    {26, {152, 256, 48, 456, 184, 48, 32, 104, 16, 88, 296, 320}},
    {27, {152, 256, 48, 456, 184, 48, 32, 96, 16, 88, 296, 344}},
};

TEST(StructLayouts, GeneratedTablesMatchTheRuntimeReference) {
    const fs::path dir = fs::path(DEFTRACE_SOURCE_DIR) / "probes" / "layouts";
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    const std::regex name_re(R"(go1\.(\d+)\.json)");
    std::set<int> seen;
    for (const auto &entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        std::smatch m;
        if (!std::regex_match(name, m, name_re))
            continue;
        const int minor = std::stoi(m[1]);
        SCOPED_TRACE(name);
        std::ifstream in(entry.path());
        auto j = nlohmann::json::parse(in, nullptr, false);
        ASSERT_FALSE(j.is_discarded());
        auto l = StructLayouts::from_table(j);
        ASSERT_TRUE(l.has_value());
        seen.insert(minor);
        EXPECT_TRUE(l->go_version().starts_with("go1." + std::to_string(minor))) << l->go_version();

        // Stable in every release.
        EXPECT_EQ(l->require("runtime.g", "stack.lo"), 0u);
        EXPECT_EQ(l->require("runtime.g", "stack.hi"), 8u);
        EXPECT_EQ(l->require("runtime.g", "stackguard0"), 16u);
        EXPECT_EQ(l->require("runtime.g", "_panic"), 32u);
        EXPECT_EQ(l->require("runtime.g", "_defer"), 40u);
        EXPECT_EQ(l->require("runtime.g", "m"), 48u);
        EXPECT_EQ(l->require("runtime.g", "sched.sp"), 56u);
        EXPECT_EQ(l->require("runtime.g", "sched.pc"), 64u);
        EXPECT_EQ(l->require("runtime.m", "g0"), 0u);
        EXPECT_EQ(l->require("runtime._defer", "sp"), 8u);
        EXPECT_EQ(l->require("runtime._defer", "pc"), 16u);
        EXPECT_EQ(l->require("runtime._defer", "fn"), 24u);
        EXPECT_EQ(l->require("runtime.funcval", "fn"), 0u);
        const GoRelease *row = go_release(1, minor);
        ASSERT_NE(row, nullptr);
        EXPECT_EQ(l->require("runtime.moduledata", "text"), row->moduledata_text);
        EXPECT_EQ(l->require("runtime.moduledata", "etext"), row->moduledata_text + 8);
        EXPECT_EQ(l->require("runtime.eface", "_type"), 0u);
        EXPECT_EQ(l->require("runtime.eface", "data"), 8u);
        EXPECT_EQ(l->require("runtime.boundsError", "code"), 17u);
        // The type descriptor moved to internal/abi in 1.21 with renamed fields, same offsets.
        const bool abi = minor >= 21;
        const char *type = abi ? "internal/abi.Type" : "runtime._type";
        EXPECT_EQ(l->require(type, abi ? "TFlag" : "tflag"), 20u);
        EXPECT_EQ(l->require(type, abi ? "Kind_" : "kind"), 23u);
        EXPECT_EQ(l->require(type, abi ? "Str" : "str"), 40u);

        // Fields that come and go.
        EXPECT_EQ(l->offset("runtime._defer", "_panic").has_value(), minor <= 21);
        EXPECT_EQ(l->offset("runtime._defer", "rangefunc").has_value(), minor >= 22);
        EXPECT_EQ(l->offset("runtime._panic", "argp").has_value(), minor <= 25);
        EXPECT_EQ(l->offset("runtime._panic", "repanicked").has_value(), minor >= 25);
        EXPECT_EQ(l->offset("runtime.g", "sched.ret").has_value(), minor <= 24);
        EXPECT_EQ(l->size_of("runtime.savedOpenDeferState").has_value(), minor >= 22);
        if (minor <= 27) { // gopanicFP existed in 1.26 only, as far as the reference goes
            EXPECT_EQ(l->offset("runtime._panic", "gopanicFP").has_value(), minor == 26);
        }

        auto it = kExpected.find(minor);
        if (it == kExpected.end())
            continue; // a release newer than the reference: only the stable facts above apply
        const Expected &e = it->second;
        EXPECT_EQ(l->require("runtime.g", "goid"), e.g_goid);
        EXPECT_EQ(l->require("runtime.g", "sigcode0"), e.g_sigcode0);
        EXPECT_EQ(l->size_of("runtime.gobuf"), e.g_sched_size);
        EXPECT_EQ(l->size_of("runtime.g"), e.g_size);
        EXPECT_EQ(l->require("runtime.m", "curg"), e.m_curg);
        EXPECT_EQ(l->size_of("runtime._defer"), e.defer_size);
        EXPECT_EQ(l->require("runtime._defer", "link"), e.defer_link);
        EXPECT_EQ(l->size_of("runtime._panic"), e.panic_size);
        EXPECT_EQ(l->require("runtime._panic", "link"), e.panic_link);
        EXPECT_EQ(l->require("runtime._panic", "recovered"), e.panic_recovered);
        EXPECT_EQ(l->require("runtime.moduledata", "types"), e.md_types);
        EXPECT_EQ(l->require("runtime.moduledata", "gofunc"), e.md_gofunc);
    }
    // Every release of the reference that the matrix builds has its table.
    for (int minor : {19, 21, 22, 23, 24, 25, 26, 27})
        EXPECT_TRUE(seen.contains(minor)) << "probes/layouts/go1." << minor << ".json is missing";
}

} // namespace
} // namespace deftrace
