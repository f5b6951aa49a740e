// The runtime layout deftrace infers from a binary's machine code (analysis/layout_inference.h)
// against the one its DWARF gives, field by field, for every testdata program, Go release and
// build variant (a stripped build against the DWARF of the same program's default build). The
// trace matrix then traces the stripped builds of half the releases with the inferred layout
// (trace_matrix_test.cpp), so that every field the tracer reads is used, not only compared.
#include "analysis/layout_inference.h"
#include "binary/error.h"
#include "goruntime/runtime_offsets.h"
#include "manifest.h"

#include <gtest/gtest.h>
#include <iostream>
#include <map>

namespace deftrace::testing {
namespace {

// Every field the inference gives has the offset and size DWARF gives it; _defer and _panic
// (read whole) have its size too.
std::string differences(const StructLayouts &inferred, const StructLayouts &dwarf) {
    std::string out;
    for (const auto &[name, s] : inferred.structs()) {
        const StructLayout *d = dwarf.find(name);
        if (d == nullptr) {
            out += "  " + name + ": not in the DWARF\n";
            continue;
        }
        if (s.size != 0 && s.size != d->size)
            out +=
                "  " + name + " size: inferred " + std::to_string(s.size) + ", DWARF " + std::to_string(d->size) + "\n";
        for (const FieldLayout &f : s.fields) {
            const FieldLayout *df = d->field(f.name);
            if (df == nullptr || df->offset != f.offset || df->size != f.size)
                out += "  " + name + "." + f.name + ": inferred " + std::to_string(f.offset) + "/" +
                       std::to_string(f.size) + ", DWARF " +
                       (df ? std::to_string(df->offset) + "/" + std::to_string(df->size) : "absent") + "\n";
        }
    }
    return out;
}

std::string describe(const RuntimeOffsets &o) {
    auto opt = [](const RuntimeOffsets::Opt &v) { return v ? std::to_string(*v) : "-"; };
    std::string s = "g:";
    for (uint32_t v : {o.g.stack_lo, o.g.stack_hi, o.g.panic, o.g.defer, o.g.m, o.g.sched_sp, o.g.sched_pc,
                       o.g.atomicstatus, o.g.goid})
        s += " " + std::to_string(v);
    for (const auto &v : {o.g.sigcode0, o.g.sigcode1, o.g.startpc, o.g.gopc})
        s += " " + opt(v);
    s += " m: " + std::to_string(o.m.g0) + " " + std::to_string(o.m.curg) + " _defer:";
    for (uint32_t v : {o.defer.size, o.defer.heap, o.defer.sp, o.defer.pc, o.defer.fn, o.defer.link})
        s += " " + std::to_string(v);
    for (const auto &v : {o.defer.started, o.defer.open_defer, o.defer.rangefunc, o.defer.panic, o.defer.fd,
                          o.defer.varp, o.defer.framepc, o.defer.head, o.defer.siz})
        s += " " + opt(v);
    s += " _panic:";
    for (uint32_t v : {o.panic.size, o.panic.arg, o.panic.link, o.panic.recovered, o.panic.goexit})
        s += " " + std::to_string(v);
    for (const auto &v : {o.panic.argp, o.panic.aborted, o.panic.repanicked, o.panic.start_pc, o.panic.start_sp,
                          o.panic.sp, o.panic.lr, o.panic.pc, o.panic.fp, o.panic.retpc, o.panic.deferbits_ptr,
                          o.panic.slots_ptr, o.panic.deferreturn, o.panic.gopanic_fp})
        s += " " + opt(v);
    return s;
}

TEST(LayoutInference, EveryFieldTheTracerReadsIsInferredAsTheDwarfSaysIt) {
    const auto builds = builds_under_test();
    ASSERT_FALSE(builds.empty());
    std::map<std::pair<std::string, std::string>, StructLayouts> dwarf; // (minor, program) -> layouts
    for (const auto &b : builds)
        if (b.variant == "default")
            if (auto l = StructLayouts::from_dwarf(GoBinary::open(b.binary()).elf()))
                dwarf.emplace(std::pair{b.minor, b.program}, *l);
    const Disassembler dis;
    int compared = 0;
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        const GoBinary bin = GoBinary::open(b.binary());
        auto it = dwarf.find({b.minor, b.program});
        ASSERT_NE(it, dwarf.end()) << "no DWARF layout of the default build";
        StructLayouts inferred;
        try {
            inferred = infer_runtime_layouts(bin, dis);
        } catch (const Error &e) {
            ADD_FAILURE() << e.what();
            continue;
        }
        EXPECT_EQ(inferred.source(), "inferred");
        const std::string diff = differences(inferred, it->second);
        EXPECT_TRUE(diff.empty()) << "the inferred layout differs from the DWARF:\n" << diff;
        // Nothing the tracer reads is left out, and nothing it reads is taken from elsewhere.
        EXPECT_EQ(describe(RuntimeOffsets::from(inferred)), describe(RuntimeOffsets::from(it->second)));
        ++compared;
    }
    std::cout << "compared the inferred layout of " << compared << " builds with their DWARF\n";
}

} // namespace
} // namespace deftrace::testing
