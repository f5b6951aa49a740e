// Resource probes and the leak report (--leaks): every shipped probe on every Go release and
// variant (testdata/resource_probes), transactions abandoned behind net/http's recover
// (testdata/txleak_fake), and the same against a real PostgreSQL server, cross-checked with
// pg_stat_activity (testdata/txleak_pg, scripts/pg-scenario.sh).
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

const std::vector<std::string> kEnv = {"GOMAXPROCS=2"};
constexpr int kLeakExit = 81;

std::vector<BuiltProgram> builds_of(const std::string &program, bool default_only) {
    std::vector<BuiltProgram> out;
    for (auto &b : load_manifest())
        if (b.program == program && (!default_only || b.variant == "default"))
            out.push_back(std::move(b));
    return out;
}

// The line, in `file`, of the first line containing `text` after the line starting `func_decl`.
int line_of(const fs::path &file, const std::string &func_decl, const std::string &text) {
    std::ifstream in(file);
    std::string line;
    bool inside = false;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.starts_with(func_decl))
            inside = true;
        else if (inside && line.find(text) != std::string::npos)
            return n;
    }
    ADD_FAILURE() << "no " << text << " in " << func_decl << " of " << file;
    return -1;
}

// "main.F:LINE" of the first line of func F (a plain function of `file`) containing `text`.
std::string acquired_at(const fs::path &file, const std::string &func, const std::string &text) {
    return "main." + func + ":" + std::to_string(line_of(file, "func " + func + "(", text));
}

// One leak, reduced to what the tests assert: resource, state, the program's acquiring frame
// (function:line, the first frame outside the standard library) and the panic value.
std::string summary(const json &l) {
    std::string where;
    for (const auto &f : l["acquired"]) {
        const std::string fn = f.value("function", "");
        if (fn.starts_with("main.")) {
            where = fn + ":" + std::to_string(f.value("line", 0));
            break;
        }
    }
    std::string s = l.value("resource", "") + " | " + l.value("state", "") + " | " + where;
    if (l.contains("panic"))
        s += " | " + l["panic"].value("value", "") + " | " + l["panic"].value("recovered_in", "");
    return s;
}

std::multiset<std::string> summaries(const json &trace) {
    std::multiset<std::string> out;
    for (const auto &l : trace.value("leaks", json::array()))
        out.insert(summary(l));
    return out;
}

// `deftrace --leaks --fail-on-leak` on a program that leaves something open: exit 81, the
// program's output untouched; the JSON trace (discarded if unreadable), the text in trace.txt.
json traced_with_leaks(const BuiltProgram &b, const ScratchDir &tmp) {
    auto plain = run_program({b.binary()}, kEnv);
    auto t = run_program(
        {DEFTRACE_EXE, "--leaks", "--fail-on-leak", "-o", tmp / "trace.txt", "--json", tmp / "trace.json", b.binary()},
        kEnv);
    EXPECT_EQ(exit_code(t), kLeakExit) << describe_status(t.status) << "\n" << t.err;
    EXPECT_EQ(t.out, plain.out);
    EXPECT_EQ(t.err, plain.err);
    return json::parse(slurp(tmp / "trace.json"), nullptr, false);
}

TEST(LeakProbes, EveryShippedProbeOnEveryReleaseAndVariant) {
    ScratchDir tmp("leaks");
    auto builds = builds_of("resource_probes", false);
    ASSERT_FALSE(builds.empty());
    const fs::path src = fs::path(builds.front().src_dir) / "main.go";
    const std::string at_open = acquired_at(src, "loadConfig", "os.Open(");
    const std::string at_create = acquired_at(src, "keepLog", "os.Create(");
    const std::string at_reserve = acquired_at(src, "reserve", "db.Conn(");
    const std::string at_pin = acquired_at(src, "pin", "db.Conn(");
    const std::string at_audit = acquired_at(src, "audit", "db.BeginTx(");
    const std::multiset<std::string> want = {
        "os.File | abandoned | " + at_open + " | config: bad syntax | main.guard",
        "os.File | open_at_exit | " + at_create,
        "database/sql connection | abandoned | " + at_reserve + " | reserve: quota exceeded | main.guard",
        "database/sql connection | open_at_exit | " + at_pin,
        "database/sql transaction | abandoned | " + at_audit + " | audit: 2 records missing | main.guard",
    };
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        const json trace = traced_with_leaks(b, tmp);
        ASSERT_FALSE(trace.is_discarded());
        EXPECT_EQ(summaries(trace), want);
        EXPECT_FALSE(trace.contains("probe_notes")) << trace["probe_notes"].dump();
        // The released ones were seen too: the committed transaction and the closed config file.
        int releases = 0;
        for (const auto &e : trace["events"])
            releases += e["kind"] == "release";
        EXPECT_GE(releases, 2);
        const std::string text = slurp(tmp / "trace.txt");
        EXPECT_NE(text.find("leaks: 5 resources still open at exit"), std::string::npos) << text;

        // Without --fail-on-leak, the program's own status.
        auto quiet = run_program({DEFTRACE_EXE, "--leaks", "-o", "/dev/null", b.binary()}, kEnv);
        EXPECT_EQ(exit_code(quiet), 0);
    }
}

// testdata/mutex_probes: locks are followed at their inlined fast paths (the atomic instruction of
// each copy of Lock, Unlock, RLock and RUnlock in the program's code) and at the out-of-line
// methods (sync.Locker, RWMutex.Lock/Unlock).
TEST(LeakProbes, LocksHeldByARecoveredPanicOrAtExitOnEveryReleaseAndVariant) {
    ScratchDir tmp("leaks");
    auto builds = builds_of("mutex_probes", false);
    ASSERT_FALSE(builds.empty());
    const fs::path src = fs::path(builds.front().src_dir) / "main.go";
    const std::string at_withdraw = acquired_at(src, "withdraw", "a.mu.Lock()");
    const std::string at_lookup = acquired_at(src, "lookup", "c.mu.RLock()");
    const std::string at_freeze = acquired_at(src, "freeze", "c.mu.Lock()");
    const std::multiset<std::string> want = {
        "sync.Mutex | abandoned | " + at_withdraw + " | withdraw: balance 5 < 50 | main.guard",
        "sync.RWMutex read lock | abandoned | " + at_lookup + " | lookup: no key z | main.guard",
        "sync.RWMutex | open_at_exit | " + at_freeze,
    };
    // (acquires, releases) per resource: Mutex: deposit x2, withdraw, viaLocker, handOff (its
    // Unlock on another goroutine); RWMutex: put, freeze; read lock: get x2, lookup.
    const std::map<std::string, std::pair<int, int>> want_events = {
        {"sync.Mutex", {5, 4}}, {"sync.RWMutex", {2, 1}}, {"sync.RWMutex read lock", {3, 2}}};
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        const json trace = traced_with_leaks(b, tmp);
        ASSERT_FALSE(trace.is_discarded());
        EXPECT_EQ(summaries(trace), want);
        EXPECT_FALSE(trace.contains("probe_notes")) << trace["probe_notes"].dump();
        std::map<std::string, std::pair<int, int>> events;
        std::set<uint64_t> mutex_releasers;
        for (const auto &e : trace["events"]) {
            if (e["kind"] != "acquire" && e["kind"] != "release")
                continue;
            auto &[acquires, releases] = events[e.value("resource", "")];
            ++(e["kind"] == "acquire" ? acquires : releases);
            if (e["kind"] == "release" && e["resource"] == "sync.Mutex")
                mutex_releasers.insert(e.value("goroutine", uint64_t{0}));
            EXPECT_TRUE(e["site"].value("function", "").starts_with("main.")) << e.dump();
        }
        EXPECT_EQ(events, want_events);
        EXPECT_EQ(mutex_releasers.size(), 2u) << "handOff's Unlock runs on a goroutine of its own";
    }
}

TEST(LeakProbes, AProbedFunctionInlinedSomewhereIsNamedInTheReport) {
    ScratchDir tmp("leaks");
    std::ofstream(tmp / "open.json") << R"({"schema": "deftrace.probe/1", "name": "open", "resource": "file",
        "acquire": [{"function": "os.Open", "handle": "*result0"}],
        "release": [{"function": "os.(*file).close", "handle": "receiver"}]})";
    for (const auto &b : builds_of("resource_probes", true)) {
        SCOPED_TRACE(b.label());
        auto t = run_program(
            {DEFTRACE_EXE, "--probes", tmp / "open.json", "-o", "/dev/null", "--json", tmp / "trace.json", b.binary()},
            kEnv);
        EXPECT_EQ(exit_code(t), 0) << t.err;
        auto trace = json::parse(slurp(tmp / "trace.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        ASSERT_TRUE(trace.contains("probe_notes"));
        EXPECT_NE(trace["probe_notes"][0].get<std::string>().find("os.Open is inlined into"), std::string::npos)
            << trace["probe_notes"].dump();
    }
}

// A probe none of whose acquire functions is in the program sees nothing; the report says so
// next to its "leaks: none", in the text and the JSON.
TEST(LeakProbes, AProbeThatMatchesNothingIsNamedInTheReport) {
    ScratchDir tmp("leaks");
    std::ofstream(tmp / "ghost.json") << R"({"schema": "deftrace.probe/1", "name": "ghost", "resource": "ghost handle",
        "acquire": [{"function": "main.openGhost", "handle": "result0"}],
        "release": [{"function": "main.closeGhost", "handle": "receiver"}]})";
    const auto builds = oldest_and_newest({"basic"});
    ASSERT_FALSE(builds.empty());
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        auto t = run_program({DEFTRACE_EXE, "--probes", tmp / "ghost.json", "--probes", "sql-tx", "-o",
                              tmp / "trace.txt", "--json", tmp / "trace.json", b.binary()},
                             kEnv);
        EXPECT_EQ(exit_code(t), 0) << t.err;
        auto trace = json::parse(slurp(tmp / "trace.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        const json want = {"probe ghost (ghost handle) matched nothing: the program has none of its acquire "
                           "functions (main.openGhost)",
                           "probe sql-tx (database/sql transaction) matched nothing: the program has none of its "
                           "acquire functions (database/sql.(*DB).BeginTx, database/sql.(*Conn).BeginTx)"};
        EXPECT_EQ(trace["probe_notes"], want);
        const std::string text = slurp(tmp / "trace.txt");
        EXPECT_NE(text.find("  note: probe ghost (ghost handle) matched nothing"), std::string::npos) << text;
    }
}

TEST(LeakProbes, AnUnusableProbeIsAUsageErrorBeforeTheProgramRuns) {
    ScratchDir tmp("leaks");
    auto builds = builds_of("resource_probes", true);
    ASSERT_FALSE(builds.empty());
    const std::string prog = builds.back().binary();
    auto unknown = run_program({DEFTRACE_EXE, "--probes", "no-such-probe", prog});
    EXPECT_EQ(exit_code(unknown), 64) << unknown.err;
    EXPECT_NE(unknown.err.find("sql-tx"), std::string::npos) << "should list the shipped probes: " << unknown.err;
    EXPECT_EQ(unknown.out, "");
    std::ofstream(tmp / "bad.json")
        << R"({"schema": "deftrace.probe/1", "acquire": [{"function": "f", "handle": "rax"}],
        "release": [{"function": "g", "handle": "receiver"}]})";
    auto bad = run_program({DEFTRACE_EXE, "--probes", tmp / "bad.json", prog});
    EXPECT_EQ(exit_code(bad), 64) << bad.err;
    EXPECT_NE(bad.err.find("handle \"rax\""), std::string::npos) << bad.err;
    EXPECT_EQ(bad.out, "");
    // An inlined rule needs an argument handle; "callers" is "all" or "program".
    std::ofstream(tmp / "inlined.json")
        << R"({"schema": "deftrace.probe/1", "acquire": [{"function": "f", "handle": "result0",
        "inlined": {"instruction": "lock xadd"}}], "release": [{"function": "g", "handle": "receiver"}]})";
    auto inlined = run_program({DEFTRACE_EXE, "--probes", tmp / "inlined.json", prog});
    EXPECT_EQ(exit_code(inlined), 64) << inlined.err;
    EXPECT_NE(inlined.err.find("\"inlined\" needs an argument handle"), std::string::npos) << inlined.err;
    std::ofstream(tmp / "callers.json")
        << R"({"schema": "deftrace.probe/1", "callers": "mine", "acquire": [{"function": "f", "handle": "receiver"}],
        "release": [{"function": "g", "handle": "receiver"}]})";
    auto callers = run_program({DEFTRACE_EXE, "--probes", tmp / "callers.json", prog});
    EXPECT_EQ(exit_code(callers), 64) << callers.err;
    EXPECT_NE(callers.err.find("\"callers\" must be"), std::string::npos) << callers.err;
    auto missing = run_program({DEFTRACE_EXE, "--probes", tmp / "none.json", prog});
    EXPECT_EQ(exit_code(missing), 66) << missing.err;
}

// The transactions of /transfer?id=1,3,5: begun in main.transfer, abandoned by checkLimit's
// panic, recovered by net/http.
std::multiset<std::string> abandoned_transfers(const fs::path &src) {
    const std::string at = acquired_at(src, "transfer", "db.Begin(");
    std::multiset<std::string> want;
    for (int id : {1, 3, 5})
        want.insert("database/sql transaction | abandoned | " + at + " | transfer " + std::to_string(id) +
                    ": over the daily limit | net/http.(*conn).serve");
    return want;
}

TEST(LeakProbes, TransactionsAbandonedBehindNetHttpsRecover) {
    ScratchDir tmp("leaks");
    auto builds = builds_of("txleak_fake", true);
    ASSERT_FALSE(builds.empty());
    const auto want = abandoned_transfers(fs::path(builds.front().src_dir) / "main.go");
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        auto t =
            run_program({DEFTRACE_EXE, "--leaks", "-o", "/dev/null", "--json", tmp / "trace.json", b.binary()}, kEnv);
        EXPECT_EQ(exit_code(t), 0) << t.err;
        // The driver's own count: what a database would show idle in transaction.
        EXPECT_NE(t.out.find("open transactions at exit: 3 [1 3 5]"), std::string::npos) << t.out;
        auto trace = json::parse(slurp(tmp / "trace.json"), nullptr, false);
        ASSERT_FALSE(trace.is_discarded());
        EXPECT_EQ(summaries(trace), want);
    }
}

// scripts/pg-scenario.sh on a throw-away cluster, the service traced by deftrace --leaks.
struct Scenario {
    std::map<std::string, std::string> result; // expected_leaked=3 ...
    bool pass = false;
    json trace;
};

enum class Requests { Leaky, FixedOnly };
enum class Tracing { FromStart, Attached };

// Attached: deftrace -p --leaks --leak-age 0.5 joins the running service, the script sends it
// SIGUSR1 and then SIGTERM; `trace` is then the JSON Lines trace as an array of its lines.
Scenario pg_scenario(const BuiltProgram &b, const ScratchDir &tmp, Requests requests, Tracing tracing) {
    Scenario s;
    const bool fixed_only = requests == Requests::FixedOnly, attached = tracing == Tracing::Attached;
    const std::string out = tmp / (std::string(fixed_only ? "fixed" : "leaky") + (attached ? "-attached" : ""));
    std::vector<std::string> argv = {std::string(DEFTRACE_SOURCE_DIR) + "/scripts/pg-scenario.sh", "--out", out};
    if (fixed_only)
        argv.push_back("--fixed-only");
    if (attached)
        argv.push_back("--attach");
    argv.insert(argv.end(), {b.binary(), "--", DEFTRACE_EXE, "--leaks"});
    if (attached)
        argv.insert(argv.end(), {"--leak-age", "0.5"}); // the script adds -p, -o and --jsonl
    else
        argv.insert(argv.end(), {"-o", out + "/trace.txt", "--json", out + "/trace.json"});
    auto r = run_program(argv);
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
        if (line == "PASS")
            s.pass = true;
        if (auto eq = line.find('='); eq != std::string::npos)
            s.result[line.substr(0, eq)] = line.substr(eq + 1);
    }
    EXPECT_TRUE(s.pass) << r.out << r.err;
    if (!attached) {
        s.trace = json::parse(slurp(out + "/trace.json"), nullptr, false);
        return s;
    }
    s.trace = json::array();
    std::istringstream jsonl(slurp(out + "/trace.jsonl"));
    for (std::string line; std::getline(jsonl, line);)
        s.trace.push_back(json::parse(line, nullptr, false));
    return s;
}

// How many of the service's sessions PostgreSQL showed idle in transaction.
size_t idle_in_transaction(Scenario &s) {
    const std::string &n = s.result["idle_in_transaction"];
    return n.empty() ? 0 : std::stoul(n);
}

// The leak_report events of a JSON Lines trace made for `trigger`.
std::vector<json> leak_reports(const json &lines, const std::string &trigger) {
    std::vector<json> out;
    for (const auto &l : lines)
        if (l.is_object() && l.value("kind", "") == "leak_report" && l.value("trigger", "") == trigger)
            out.push_back(l);
    return out;
}

TEST(LeakPostgres, AbandonedTransactionsAreTheSessionsPostgresShowsIdleInTransaction) {
    ScratchDir tmp("leaks");
    auto builds = builds_of("txleak_pg", true);
    ASSERT_FALSE(builds.empty());
    const auto want = abandoned_transfers(fs::path(builds.front().src_dir) / "main.go");
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        Scenario leaky = pg_scenario(b, tmp, Requests::Leaky, Tracing::FromStart);
        EXPECT_EQ(leaky.result["idle_in_transaction"], "3");
        ASSERT_FALSE(leaky.trace.is_discarded());
        EXPECT_EQ(leaky.trace.value("leaks", json::array()).size(), idle_in_transaction(leaky))
            << "deftrace and PostgreSQL disagree";
        EXPECT_EQ(summaries(leaky.trace), want);

        Scenario fixed = pg_scenario(b, tmp, Requests::FixedOnly, Tracing::FromStart);
        EXPECT_EQ(fixed.result["idle_in_transaction"], "0");
        ASSERT_FALSE(fixed.trace.is_discarded());
        EXPECT_EQ(fixed.trace.value("leaks", json::array()), json::array()) << fixed.trace["leaks"].dump(2);
    }
}

// deftrace attached to the service after it started: the abandoned transactions are reported
// while it runs (SIGUSR1, --leak-age) and at detach, and the service goes on serving untraced.
TEST(LeakPostgres, AttachedToTheRunningServiceReportsTheAbandonedTransactionsLive) {
    ScratchDir tmp("leaks");
    auto builds = builds_of("txleak_pg", true);
    ASSERT_FALSE(builds.empty());
    const auto want = abandoned_transfers(fs::path(builds.front().src_dir) / "main.go");
    for (const auto &b : builds) {
        SCOPED_TRACE(b.label());
        Scenario live = pg_scenario(b, tmp, Requests::Leaky, Tracing::Attached);
        EXPECT_EQ(live.result["idle_in_transaction"], "3");
        EXPECT_EQ(live.result["tracer_exit"], "0");
        ASSERT_GE(live.trace.size(), 2u);
        EXPECT_EQ(live.trace.front().value("attached_pid", 0) > 0, true) << live.trace.front().dump();

        // On request, while the service ran: every transaction PostgreSQL showed idle in
        // transaction, with the panic that abandoned it.
        auto asked = leak_reports(live.trace, "SIGUSR1");
        ASSERT_EQ(asked.size(), 1u);
        std::multiset<std::string> reported;
        for (const auto &l : asked.front()["leaks"]) {
            if (l.value("resource", "") != "database/sql transaction")
                continue;
            reported.insert(summary(l));
            EXPECT_TRUE(l.value("handle", "").starts_with("0x")) << l.dump();
            EXPECT_GE(l.value("open_for_s", 0.0), 0.5) << "the script waits a second before asking";
        }
        EXPECT_EQ(reported, want);
        EXPECT_EQ(reported.size(), idle_in_transaction(live)) << "deftrace and PostgreSQL disagree";

        // Once each, when it had been open half a second.
        std::multiset<std::string> aged;
        for (const auto &r : leak_reports(live.trace, "leak-age"))
            for (const auto &l : r["leaks"])
                if (l.value("resource", "") == "database/sql transaction")
                    aged.insert(summary(l));
        EXPECT_EQ(aged, want);

        // At detach: the same three, still open (not "at exit": the service goes on).
        const json &end = live.trace.back();
        ASSERT_TRUE(end.contains("end")) << end.dump();
        EXPECT_EQ(end["end"]["exit"].value("detached", false), true) << end.dump();
        EXPECT_EQ(summaries(end["end"]), want);
    }
}

} // namespace
} // namespace deftrace::testing
