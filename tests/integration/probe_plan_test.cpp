// The probe plan, built from real Go binaries of every release without starting a process:
// what it stops at, in each mode, and that no jump patch can swallow another probe.
#include "manifest.h"

#include "analysis/analysis_cache.h"
#include "analysis/defer_sites.h"
#include "binary/go_binary.h"
#include "trace/probe_plan.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <set>

namespace deftrace::testing {
namespace {

std::multiset<ProbeKind> kinds_in(const ProbePlan &plan, const FuncInfo &f) {
    std::multiset<ProbeKind> out;
    for (const auto &[addr, probes] : plan.probes())
        if (f.entry <= addr && addr < f.end)
            for (const auto &p : probes)
                out.insert(p.kind);
    return out;
}

FuncInfo func(const GoBinary &bin, std::string_view name) {
    auto i = bin.pclntab().find_by_name(name);
    EXPECT_TRUE(i) << name;
    return i ? bin.pclntab().func(*i) : FuncInfo{};
}

// Every open-coded defer statement of the program's own functions has its registering store
// probed; in --panics-only mode none is, and nothing on the normal defer path is.
void check_modes(const BuiltProgram &b, const GoBinary &bin, const std::vector<FunctionDefers> &sites,
                 const ProbePlan &full, const ProbePlan &panics) {
    for (const auto &f : sites)
        for (const auto &s : f.sites)
            if (s.kind == DeferKind::OpenCoded && f.name.starts_with("main.")) {
                const auto *at = full.at(s.pc);
                ASSERT_NE(at, nullptr) << b.label() << ": " << f.name << " bit " << s.bit << " not probed";
                EXPECT_TRUE(std::any_of(at->begin(), at->end(),
                                        [](const Probe &p) {
                                            return p.kind == ProbeKind::OpenBitsStore ||
                                                   p.kind == ProbeKind::OpenSlotStore;
                                        }))
                    << b.label() << ": " << f.name;
                EXPECT_EQ(panics.at(s.pc), nullptr) << b.label() << ": " << f.name << " probed in panics-only mode";
            }
    for (const auto &[addr, probes] : panics.probes())
        for (const auto &p : probes)
            EXPECT_TRUE(p.kind != ProbeKind::DeferProc && p.kind != ProbeKind::DeferProcStack &&
                        p.kind != ProbeKind::OpenExitCall && p.kind != ProbeKind::OpenBitsStore)
                << b.label() << ": " << addr.hex();
    // The normal return path's calls: in deferreturn (≤1.17 its CALL runtime.jmpdefer).
    EXPECT_EQ(kinds_in(panics, func(bin, "runtime.deferreturn")).count(ProbeKind::RuntimeCall), 0u) << b.label();
    EXPECT_GT(kinds_in(full, func(bin, "runtime.deferreturn")).count(ProbeKind::RuntimeCall), 0u) << b.label();
}

// Each planned breakpoint is a probe address, in order, and its patch ends before the next one
// and inside its function.
void check_breakpoints(const BuiltProgram &b, const GoBinary &bin, const ProbePlan &plan) {
    const auto &bps = plan.breakpoints();
    ASSERT_EQ(bps.size() + plan.on_demand(Arming::DuringPanics).size() +
                  plan.on_demand(Arming::InScopeDeferreturn).size(),
              plan.probes().size())
        << b.label();
    for (size_t i = 0; i < bps.size(); ++i) {
        EXPECT_NE(plan.at(bps[i].link_addr), nullptr) << b.label();
        if (i + 1 < bps.size()) {
            ASSERT_LT(bps[i].link_addr, bps[i + 1].link_addr) << b.label();
            EXPECT_LE(bps[i].link_addr + bps[i].patchable, bps[i + 1].link_addr) << b.label();
        }
        if (auto f = bin.pclntab().find_func(bps[i].link_addr)) {
            EXPECT_LE(bps[i].link_addr + bps[i].patchable, f->end) << b.label();
        }
    }
}

TEST(ProbePlan, StopsWhereTheRuntimeRunsDefersAndPanicsInEveryMode) {
    size_t checked = 0;
    for (const auto &b : builds_under_test()) {
        SCOPED_TRACE(b.label());
        GoBinary bin = GoBinary::open(b.binary());
        const auto sites = analyze_defer_sites(bin);
        Disassembler dis;
        const ProbePlan full = ProbePlan::build(bin, sites, dis, PlanOptions{false, nullptr});
        const ProbePlan panics = ProbePlan::build(bin, sites, dis, PlanOptions{true, nullptr});
        for (const ProbePlan *plan : {&full, &panics}) {
            // The entry probe sits after the stack check (morestack restarts a function from its
            // entry), inside the function; gorecover is probed at every ret.
            const FuncInfo gopanic = func(bin, "runtime.gopanic");
            const auto at_gopanic = kinds_in(*plan, gopanic);
            EXPECT_EQ(at_gopanic.count(ProbeKind::Gopanic), 1u);
            // ≤1.16 the deferred call is made by reflectcall's callNN (runtime.call32, ...).
            if (bin.facts().panic_calls_reflectcall)
                EXPECT_GT(kinds_in(*plan, func(bin, "runtime.call32")).count(ProbeKind::RuntimeCall), 0u);
            else
                EXPECT_GT(at_gopanic.count(ProbeKind::RuntimeCall), 0u);
            EXPECT_EQ(plan->at(gopanic.entry), nullptr) << "entry probe before the stack check";
            EXPECT_GT(kinds_in(*plan, func(bin, "runtime.gorecover")).count(ProbeKind::GorecoverReturn), 0u);
            EXPECT_EQ(kinds_in(*plan, func(bin, "runtime.recovery")).count(ProbeKind::Recovery), 1u);
            EXPECT_EQ(kinds_in(*plan, func(bin, "runtime.throw")).count(ProbeKind::Throw), 1u);
            EXPECT_TRUE(plan->fatal_printed_probed());
            EXPECT_TRUE(plan->allgs().has_value()) << "runtime.allgs not found";
            check_breakpoints(b, bin, *plan);
        }
        check_modes(b, bin, sites, full, panics);
        ++checked;
    }
    EXPECT_GT(checked, 0u);
}

// What the analysis cache stores reads back as the analysis, field by field, for every function
// of every build (a field left out of the stored form would come back empty here).
TEST(ProbePlan, TheAnalysisReadsBackFromTheCacheAsItWas) {
    for (const auto &b : builds_under_test()) {
        SCOPED_TRACE(b.label());
        const auto sites = analyze_defer_sites(GoBinary::open(b.binary()));
        const auto back = deserialize_analysis(serialize_analysis(sites));
        ASSERT_TRUE(back.has_value());
        ASSERT_EQ(back->size(), sites.size());
        for (size_t i = 0; i < sites.size(); ++i) {
            const FunctionDefers &a = sites[i], &c = (*back)[i];
            SCOPED_TRACE(a.name);
            EXPECT_EQ(c.name, a.name);
            EXPECT_EQ(c.entry, a.entry);
            EXPECT_EQ(c.end, a.end);
            EXPECT_EQ(c.file, a.file);
            EXPECT_EQ(c.line, a.line);
            EXPECT_EQ(c.deferreturn_call, a.deferreturn_call);
            EXPECT_EQ(c.notes, a.notes);
            ASSERT_EQ(c.sites.size(), a.sites.size());
            for (size_t k = 0; k < a.sites.size(); ++k) {
                EXPECT_EQ(c.sites[k].kind, a.sites[k].kind);
                EXPECT_EQ(c.sites[k].pc, a.sites[k].pc);
                EXPECT_EQ(c.sites[k].file, a.sites[k].file);
                EXPECT_EQ(c.sites[k].line, a.sites[k].line);
                EXPECT_EQ(c.sites[k].runtime_call, a.sites[k].runtime_call);
                EXPECT_EQ(c.sites[k].bit, a.sites[k].bit);
            }
            ASSERT_EQ(c.open_coded.has_value(), a.open_coded.has_value());
            if (!a.open_coded)
                continue;
            const OpenCodedFrame &x = *a.open_coded, &y = *c.open_coded;
            EXPECT_EQ(y.info.format, x.info.format);
            EXPECT_EQ(y.info.deferbits_offset, x.info.deferbits_offset);
            EXPECT_EQ(y.info.slots_offset, x.info.slots_offset);
            EXPECT_EQ(y.info.closure_offsets, x.info.closure_offsets);
            EXPECT_EQ(y.info.defer_count, x.info.defer_count);
            EXPECT_EQ(y.frame_size, x.frame_size);
            EXPECT_EQ(y.deferbits_sp_offset, x.deferbits_sp_offset);
            EXPECT_EQ(y.defer_count, x.defer_count);
            EXPECT_EQ(y.slot_sp_offsets, x.slot_sp_offsets);
            ASSERT_EQ(y.exits.size(), x.exits.size());
            for (size_t k = 0; k < x.exits.size(); ++k) {
                EXPECT_EQ(y.exits[k].bit, x.exits[k].bit);
                EXPECT_EQ(y.exits[k].clear_pc, x.exits[k].clear_pc);
                EXPECT_EQ(y.exits[k].call_pc, x.exits[k].call_pc);
                EXPECT_EQ(y.exits[k].target, x.exits[k].target);
                EXPECT_EQ(y.exits[k].target_name, x.exits[k].target_name);
            }
        }
    }
}

} // namespace
} // namespace deftrace::testing
