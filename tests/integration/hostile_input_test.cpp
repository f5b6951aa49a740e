// deftrace under hostile input: values that are not clean text, outputs that fail, files that
// are not what they claim, mistyped command lines, malformed traces. Each case ends in a trace
// that is still valid, or one clear line and the documented exit code (README "Exit codes") —
// never a crash, a hang or a changed program.
#include "manifest.h"
#include "run_program.h"
#include "scratch_dir.h"

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// deftrace is built as these tests are: with AddressSanitizer or without.
#if defined(__SANITIZE_ADDRESS__)
#define DEFTRACE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEFTRACE_TEST_ASAN 1
#endif
#endif
#ifndef DEFTRACE_TEST_ASAN
#define DEFTRACE_TEST_ASAN 0
#endif

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

constexpr int kUsage = 64, kNoInput = 66, kIo = 74, kPermission = 77;

// deftrace under `timeout`, so that a hang fails the test instead of the suite.
RunResult run_deftrace(std::vector<std::string> args, const std::vector<std::string> &env = {}) {
    args.insert(args.begin(), {"/usr/bin/timeout", "60", DEFTRACE_EXE});
    return run_program(args, env);
}

size_t lines_of(const std::string &s) {
    return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

// One line on stderr, starting "deftrace: ", containing `what`.
void expect_one_line(const RunResult &r, const std::string &what) {
    EXPECT_EQ(lines_of(r.err), 1u) << r.err;
    EXPECT_TRUE(r.err.starts_with("deftrace: ")) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
}

const BuiltProgram &newest(const std::vector<BuiltProgram> &builds) {
    return builds.back();
}

// Runs deftrace with one of its standard outputs (1 or 2) a pipe nobody reads — every write to
// it fails with EPIPE and raises SIGPIPE — and the other one the file `other_file`. Returns the
// wait status.
int run_into_closed_pipe(const std::vector<std::string> &args, int broken_fd, const std::string &other_file) {
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    close(fds[0]);
    pid_t pid = fork();
    if (pid == 0) {
        int other = open(other_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fds[1], broken_fd);
        dup2(other, broken_fd == 1 ? 2 : 1);
        std::vector<char *> argv{const_cast<char *>(DEFTRACE_EXE)};
        for (const auto &a : args)
            argv.push_back(const_cast<char *>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(fds[1]);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

TEST(HostileInput, InvalidUtf8KeepsEveryJsonOutputValidAndTheRawBytes) {
    ScratchDir tmp("hostile");
    for (const auto &b : oldest_and_newest({"hostile_values"})) {
        SCOPED_TRACE(b.label());
        const auto plain = run_program({b.binary()});
        auto r = run_deftrace({"-o", "/dev/null", "--json", tmp / "t.json", "--jsonl", tmp / "t.jsonl", b.binary()});
        EXPECT_EQ(exit_code(r), 3) << "the program's own status; " << describe_status(r.status) << r.err;
        EXPECT_EQ(r.out, plain.out);
        for (const char *file : {"t.json", "t.jsonl"}) {
            SCOPED_TRACE(file);
            const std::string text = slurp(tmp / file);
            std::vector<json> docs;
            if (std::string(file) == "t.json") {
                docs.push_back(json::parse(text, nullptr, false));
            } else {
                std::istringstream lines(text);
                for (std::string line; std::getline(lines, line);)
                    docs.push_back(json::parse(line, nullptr, false));
            }
            bool found = false;
            for (const auto &d : docs) {
                ASSERT_FALSE(d.is_discarded()) << "not JSON:\n" << text.substr(0, 2000);
                const json &events = d.contains("events") ? d["events"] : json::array({d});
                for (const auto &e : events)
                    if (e.value("kind", "") == "panic" && e.value("value_hex", "") == "626164ff") {
                        EXPECT_EQ(e["value"], "bad\xef\xbf\xbd");
                        found = true;
                    }
            }
            EXPECT_TRUE(found) << "no panic \"bad\\xff\" with its raw bytes";
        }
        // The normalized trace of such a program is an expectation like any other.
        auto rec = run_deftrace({"-o", "/dev/null", "--normalize", "--json", tmp / "n.json", b.binary()});
        EXPECT_EQ(exit_code(rec), 3) << rec.err;
        auto cmp = run_deftrace({"-o", "/dev/null", "--expect", tmp / "n.json", "--json", tmp / "e.json", b.binary()});
        EXPECT_EQ(exit_code(cmp), 0) << cmp.err;
        // With --expect, the --json file is the normalized trace that was compared.
        EXPECT_EQ(slurp(tmp / "e.json"), slurp(tmp / "n.json"));
        // An argument of the program that is not UTF-8: the header's command line keeps its bytes.
        auto arg = run_deftrace(
            {"-o", "/dev/null", "--json", tmp / "a.json", "--jsonl", tmp / "a.jsonl", b.binary(), "x\xfe"});
        EXPECT_EQ(exit_code(arg), exit_code(run_program({b.binary(), "x\xfe"}))) << arg.err;
        std::string first_line = slurp(tmp / "a.jsonl");
        first_line.resize(first_line.find('\n'));
        for (const json &h :
             {json::parse(slurp(tmp / "a.json"), nullptr, false), json::parse(first_line, nullptr, false)}) {
            ASSERT_FALSE(h.is_discarded());
            EXPECT_EQ(h["program"][1], "x\xef\xbf\xbd");
            ASSERT_TRUE(h.contains("program_hex")) << h["program"].dump();
            EXPECT_EQ(h["program_hex"][1], "78fe");
            EXPECT_EQ(h["program_hex"].size(), h["program"].size());
        }
    }
}

TEST(HostileInput, TheTextTraceEscapesWhatATerminalActsOnAndTheJsonKeepsItRaw) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"hostile_values"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    auto r = run_deftrace({"--no-color", "-o", tmp / "t.txt", "--json", tmp / "t.json", b.binary()});
    EXPECT_EQ(exit_code(r), 3) << r.err;
    const std::string text = slurp(tmp / "t.txt");
    for (const std::string bad : {"\x1b", "\xc2\x9b", "\xe2\x80\xae", "\xe2\x80\xa8", "\xff", "\xfe"})
        EXPECT_EQ(text.find(bad), std::string::npos)
            << "raw bytes " << json(json::binary_t(std::vector<uint8_t>(bad.begin(), bad.end())))
            << " in the text trace";
    for (const std::string shown : {R"("esc\x1b[2Jcleared")", R"("csi\u009b31mred")", R"("\u202eevil\u202c)",
                                    R"("line\u2028separator and\nnewline")", R"("bad\xff")"})
        EXPECT_NE(text.find(shown), std::string::npos) << shown << " not in\n" << text;
    // Every event is one line, and the lines that continue it (pending calls, a panic's stack)
    // are its own: the newline inside a value did not start another.
    for (std::istringstream lines(text); !lines.eof();) {
        std::string line;
        std::getline(lines, line);
        if (!line.empty()) {
            EXPECT_TRUE(line.starts_with("[g") || line.starts_with("exit:") || line.starts_with("validation:") ||
                        line.starts_with("            pending ") || line.starts_with("            stack: ") ||
                        line.starts_with("                   main."))
                << line;
        }
    }
    json t = json::parse(slurp(tmp / "t.json"), nullptr, false);
    ASSERT_FALSE(t.is_discarded());
    std::set<std::string> values;
    for (const auto &e : t["events"])
        if (e.value("kind", "") == "panic" && e["value"].is_string())
            values.insert(e["value"].get<std::string>());
    EXPECT_TRUE(values.contains("esc\x1b[2Jcleared"));
    EXPECT_TRUE(values.contains("line\xe2\x80\xa8separator and\nnewline"));
}

TEST(HostileInput, AnOutputThatCannotBeWrittenStopsTheTraceNotTheProgram) {
    const auto builds = oldest_and_newest({"hostile_values"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    const auto plain = run_program({b.binary()});
    for (const std::vector<std::string> &flags : {std::vector<std::string>{"-o", "/dev/full"},
                                                  {"-o", "/dev/null", "--json", "/dev/full"},
                                                  {"-o", "/dev/null", "--jsonl", "/dev/full"}}) {
        SCOPED_TRACE(flags[flags.size() - 2]);
        auto args = flags;
        args.push_back(b.binary());
        auto r = run_deftrace(args);
        EXPECT_EQ(exit_code(r), kIo) << describe_status(r.status) << r.err;
        EXPECT_EQ(r.out, plain.out) << "the program must run to its end, unchanged";
        expect_one_line(r, "writing /dev/full: No space left on device");
    }
}

// `deftrace prog 2>&1 | head -1`: the reader of the trace goes away.
TEST(HostileInput, AClosedPipeKillsNeitherDeftraceNorTheProgram) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"hostile_values"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    const auto plain = run_program({b.binary()});
    const std::string out_file = tmp / "out.txt";
    const int st = run_into_closed_pipe({b.binary()}, 2, out_file);
    ASSERT_TRUE(WIFEXITED(st)) << describe_status(st);
    EXPECT_EQ(WEXITSTATUS(st), kIo);
    EXPECT_EQ(slurp(out_file), plain.out) << "the program must run to its end, unchanged";
}

// `deftrace inspect prog | head -1`, `deftrace diff a b | head -1`: a report nobody reads is an
// I/O error (74) said on stderr, not a death by SIGPIPE.
TEST(HostileInput, AReportToAClosedPipeIsAnIoError) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"basic"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    auto rec = run_deftrace({"-o", "/dev/null", "--normalize", "--json", tmp / "a.json", b.binary()});
    ASSERT_EQ(exit_code(rec), 0) << rec.err;
    json other = json::parse(slurp(tmp / "a.json"));
    other["exit"] = {{"status", 9}};
    std::ofstream(tmp / "b.json") << other.dump();
    for (const std::vector<std::string> &args : {std::vector<std::string>{"inspect", b.binary()},
                                                 {"inspect", "--json", b.binary()},
                                                 {"diff", tmp / "a.json", tmp / "b.json"}}) {
        SCOPED_TRACE(args.front() + " " + args[1]);
        const std::string err_file = tmp / "err.txt";
        const int st = run_into_closed_pipe(args, 1, err_file);
        ASSERT_TRUE(WIFEXITED(st)) << describe_status(st);
        EXPECT_EQ(WEXITSTATUS(st), kIo);
        RunResult r;
        r.err = slurp(err_file);
        expect_one_line(r, "standard output");
    }
}

TEST(HostileInput, TheProgramInheritsNoDescriptorOfDeftrace) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"hostile_values"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    // The descriptor numbers the program finds open (their targets differ from run to run).
    auto numbers = [](const std::string &out) {
        std::string nums;
        std::istringstream lines(out);
        for (std::string line; std::getline(lines, line);)
            nums += line.substr(0, line.find(' ')) + " ";
        return nums;
    };
    const auto plain = run_program({b.binary(), "fds"});
    ASSERT_EQ(exit_code(plain), 0) << plain.out;
    std::ofstream(tmp / "want.json") << slurp(fs::path(b.src_dir) / "expected.json");
    auto r = run_deftrace({"-o", tmp / "t.txt", "--json", tmp / "t.json", "--jsonl", tmp / "t.jsonl", "--probes",
                           "os-file", b.binary(), "fds"});
    EXPECT_EQ(exit_code(r), 0) << r.err;
    EXPECT_EQ(numbers(r.out), numbers(plain.out)) << "traced:\n" << r.out << "untraced:\n" << plain.out;
}

TEST(HostileInput, MistypedOptionsAndBadPathsAreCaughtBeforeTheProgramRuns) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"basic"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    for (const std::string opt : {"--bogus", "--panic-only", "-x"}) {
        auto r = run_deftrace({opt, b.binary()});
        EXPECT_EQ(exit_code(r), kUsage) << opt << ": " << r.err;
        expect_one_line(r, "unknown option " + opt);
        EXPECT_EQ(r.out, "");
    }
    auto dashdash = run_deftrace({"-o", "/dev/null", "--", b.binary()});
    EXPECT_EQ(exit_code(dashdash), 0) << dashdash.err;
    EXPECT_NE(dashdash.out, "");
    auto help = run_deftrace({"--help"});
    EXPECT_NE(help.out.find("PROGRAM [ARGS...]"), std::string::npos) << help.out;

    struct Case {
        std::vector<std::string> args;
        int code;
        std::string message;
    };
    mkfifo((tmp / "fifo").c_str(), 0600);
    const std::vector<Case> cases = {
        {{"--json", tmp / "no/such/dir/t.json", b.binary()}, kNoInput, "no such directory"},
        {{"-o", tmp / "no/such/dir/t.txt", b.binary()}, kNoInput, "no such directory"},
        {{"--jsonl", "/tmp", b.binary()}, kUsage, "is a directory"},
        {{"-o", "/tmp", b.binary()}, kUsage, "is a directory"},
        {{"--expect", "/tmp", b.binary()}, kUsage, "a directory, not a trace file"},
        {{"--expect", tmp / "fifo", b.binary()}, kUsage, "a FIFO, not a trace file"},
        {{"--probes", tmp / "fifo", b.binary()}, kUsage, "a FIFO, not a probe file"},
        {{"--probes", "/tmp/", b.binary()}, kUsage, "a directory, not a probe file"},
        // Write-only for everyone, root included: the permission check of /proc/sys.
        {{"--probes", "/proc/sys/vm/compact_memory", b.binary()}, kPermission, "permission denied"},
        {{"--expect", "/proc/sys/vm/compact_memory", b.binary()}, kPermission, "permission denied"},
        {{tmp / "fifo"}, 65, "not a regular file"},
        {{"inspect", tmp / "fifo"}, 65, "not a regular file"},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.args.front() + " " + c.args[c.args.size() > 1 ? 1 : 0]);
        auto r = run_deftrace(c.args);
        EXPECT_EQ(exit_code(r), c.code) << describe_status(r.status) << r.err;
        expect_one_line(r, c.message);
        EXPECT_EQ(r.out, "") << "the program must not have run";
    }
    std::ofstream(tmp / "callers.json")
        << R"({"schema":"deftrace.probe/1","acquire":[{"function":"os.OpenFile","handle":"*result0"}],)"
        << R"("release":[{"function":"os.(*file).close","handle":"receiver"}],"callers":3})";
    auto callers = run_deftrace({"--probes", tmp / "callers.json", b.binary()});
    EXPECT_EQ(exit_code(callers), kUsage) << callers.err;
    expect_one_line(callers, "\"callers\" must be a string");
}

TEST(HostileInput, MalformedTracesAreRejectedWithOneLine) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"basic"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    auto rec = run_deftrace({"-o", "/dev/null", "--normalize", "--json", tmp / "good.json", b.binary()});
    ASSERT_EQ(exit_code(rec), 0) << rec.err;
    const json good = json::parse(slurp(tmp / "good.json"));
    auto variant = [&](const std::string &name, auto change) {
        json t = good;
        change(t);
        std::ofstream(tmp / name) << t.dump();
        return tmp / name;
    };
    // Goroutine ids at the edges of the range: compared, not looped over (this used to hang).
    for (uint64_t id : {uint64_t{1} << 63, ~uint64_t{0}}) {
        const auto f = variant("big.json", [&](json &t) { t["events"][0]["goroutine"] = id; });
        auto d = run_deftrace({"diff", f, f});
        EXPECT_EQ(exit_code(d), 0) << id << ": " << describe_status(d.status) << d.err;
        auto d2 = run_deftrace({"diff", tmp / "good.json", f});
        EXPECT_EQ(exit_code(d2), 79) << id << ": " << describe_status(d2.status) << d2.err;
    }
    struct Bad {
        std::string file, message;
    };
    std::ofstream(tmp / "deep.json") << R"({"schema":"deftrace.trace/1","events":[],"x":)" << std::string(100000, '[')
                                     << std::string(100000, ']') << "}";
    const std::vector<Bad> bad = {
        {variant("neg.json", [](json &t) { t["events"][0]["goroutine"] = -5; }), "goroutine"},
        {variant("events.json", [](json &t) { t["events"] = "x"; }), "events is not an array"},
        {variant("gstr.json", [](json &t) { t["events"][0]["goroutine"] = "a"; }), "goroutine"},
        {variant("site.json", [](json &t) { t["events"][0]["site"] = nullptr; }), "site is not an object"},
        {variant("schema.json", [](json &t) { t.erase("schema"); }), "schema"},
        {variant("exit.json",
                 [](json &t) {
                     t["exit"] = {{"signal", "x"}};
                 }),
         "exit.signal"},
        {tmp / "deep.json", "nested more than"},
        {"/tmp", "a directory"},
    };
    for (const auto &c : bad) {
        SCOPED_TRACE(c.file);
        auto d = run_deftrace({"diff", tmp / "good.json", c.file});
        EXPECT_EQ(exit_code(d), kUsage) << describe_status(d.status) << d.err;
        expect_one_line(d, c.message);
        auto e = run_deftrace({"-o", "/dev/null", "--expect", c.file, b.binary()});
        EXPECT_EQ(exit_code(e), kUsage) << describe_status(e.status) << e.err;
        expect_one_line(e, c.message);
        EXPECT_EQ(e.out, "") << "the program must not have run";
    }
}

// A file written that is also read, or written under another name, is refused before anything
// is opened for writing: the program survives `--json ./prog ./prog`, two traces never share a
// file (by the same name, another spelling of it, or a hard link).
// A panic value of tens of megabytes (a program that panics with a whole file): diff reads it
// in one pass (its normalization used std::regex, its reading one fgetc per character: a 300 MB
// value took over a minute and 6.5 times its size in memory), masks the address in it (0x?),
// and the report shows the start of each value, its size and a hash instead of all of it. Out
// of memory is said as such (71).
TEST(HostileInput, AHugeValueIsDiffedAndShownInShort) {
    ScratchDir tmp("hostile-huge");
    const auto builds = oldest_and_newest({"main_panic"});
    ASSERT_FALSE(builds.empty());
    auto rec = run_deftrace({"-o", "/dev/null", "--json", tmp / "t.json", newest(builds).binary()});
    json t = json::parse(slurp(tmp / "t.json"));
    json *panic = nullptr;
    for (auto &e : t["events"])
        if (e.value("kind", "") == "panic" && panic == nullptr)
            panic = &e;
    ASSERT_NE(panic, nullptr) << slurp(tmp / "t.json");
    const size_t size = 40u << 20;
    (*panic)["value"] = std::string(size, 'x') + " at 0x7fff12345678";
    std::ofstream(tmp / "a.json") << t.dump();
    (*panic)["value"] = std::string(size, 'x') + " at 0x7fff12345679!";
    std::ofstream(tmp / "b.json") << t.dump();
    const RunResult same = run_deftrace({"diff", tmp / "a.json", tmp / "a.json"});
    EXPECT_EQ(exit_code(same), 0) << same.err;
    const RunResult differ = run_deftrace({"diff", tmp / "a.json", tmp / "b.json"});
    EXPECT_EQ(exit_code(differ), 79) << differ.err;
    EXPECT_LT(differ.out.size(), 4096u) << differ.out.substr(0, 4096);
    EXPECT_NE(differ.out.find(std::to_string(size + 7) + " bytes, fnv1a "), std::string::npos) << differ.out;
    EXPECT_NE(differ.out.find(std::to_string(size + 8) + " bytes, fnv1a "), std::string::npos) << differ.out;
#if !DEFTRACE_TEST_ASAN // the sanitizer reserves terabytes of address space
    const RunResult starved = run_program({"/bin/sh", "-c",
                                           "ulimit -v 100000 && exec " + shell_quote(DEFTRACE_EXE) + " diff " +
                                               shell_quote(tmp / "a.json") + " " + shell_quote(tmp / "b.json")});
    EXPECT_EQ(exit_code(starved), 71) << describe_status(starved.status) << starved.err;
    expect_one_line(starved, "out of memory");
#endif
}

TEST(HostileInput, AnOutputThatIsAnInputOrAnotherOutputIsRefusedBeforeAnythingIsWritten) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"basic"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    const fs::path prog = tmp / "prog";
    fs::copy_file(b.binary(), prog);
    const std::string prog_bytes = slurp(prog);
    auto rec = run_deftrace({"-o", "/dev/null", "--normalize", "--json", tmp / "want.json", prog});
    ASSERT_EQ(exit_code(rec), 0) << rec.err;
    const std::string want_bytes = slurp(tmp / "want.json");
    std::ofstream(tmp / "linked") << "x";
    fs::create_hard_link(tmp / "linked", tmp / "link");
    const std::string probe = std::string(DEFTRACE_SOURCE_DIR) + "/probes/resources/os-file.json";
    fs::copy_file(probe, tmp / "probe.json");
    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::vector<Case> cases = {
        {{"--json", prog, prog}, "--json " + prog.string() + " is the same file as the program"},
        {{"-o", tmp / "same.out", "--json", tmp / "same.out", prog}, "is the same file as -o"},
        {{"-o", tmp / "same.out", "--jsonl", tmp / "./same.out", prog}, "is the same file as -o"},
        {{"-o", tmp / "linked", "--jsonl", tmp / "link", prog}, "--jsonl " + tmp / "link"},
        {{"-o", "/dev/null", "--expect", tmp / "want.json", "--json", tmp / "want.json", prog},
         "is the same file as --expect"},
        {{"--probes", tmp / "probe.json", "-o", tmp / "probe.json", prog}, "is the same file as --probes"},
    };
    for (const auto &c : cases) {
        SCOPED_TRACE(c.message);
        auto r = run_deftrace(c.args);
        EXPECT_EQ(exit_code(r), kUsage) << describe_status(r.status) << r.err;
        expect_one_line(r, c.message);
        EXPECT_EQ(r.out, "") << "the program must not have run";
    }
    EXPECT_EQ(slurp(prog), prog_bytes) << "the program was written to";
    EXPECT_EQ(slurp(tmp / "want.json"), want_bytes) << "the expectation was written to";
    EXPECT_EQ(slurp(tmp / "probe.json"), slurp(probe)) << "the probe file was written to";
    EXPECT_EQ(slurp(tmp / "linked"), "x");
    EXPECT_FALSE(fs::exists(tmp / "same.out"));
    // Devices are no one's file: two traces thrown away are fine.
    auto null = run_deftrace({"-o", "/dev/null", "--json", "/dev/null", "--jsonl", "/dev/null", prog});
    EXPECT_EQ(exit_code(null), 0) << null.err;
}

// A JSON Lines trace cut in the middle of a line by a full disk (here a file size limit, the
// same write error) is read up to its last whole line by diff and --expect, which say so.
TEST(HostileInput, AJsonLinesTraceCutByAFullDiskIsStillATrace) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"defer_heavy"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    const std::string cut = tmp / "cut.jsonl";
    // 8 KiB, far less than the trace; SIGXFSZ ignored so that the write fails with EFBIG.
    auto r =
        run_program({"/bin/bash", "-c", "trap '' XFSZ; ulimit -f 8; exec \"$0\" -o /dev/null --jsonl \"$1\" \"$2\"",
                     DEFTRACE_EXE, cut, b.binary()});
    EXPECT_EQ(exit_code(r), kIo) << describe_status(r.status) << r.err;
    expect_one_line(r, "File too large");
    const std::string text = slurp(cut);
    ASSERT_EQ(text.size(), 8192u);
    ASSERT_NE(text.back(), '\n') << "the limit did not fall inside a line";
    const std::string lines = std::to_string(std::count(text.begin(), text.end(), '\n'));
    const std::string note = "cut.jsonl: line " + std::to_string(std::stoul(lines) + 1) +
                             " ends in the middle (the writer stopped there): read up to line " + lines;
    auto same = run_deftrace({"diff", cut, cut});
    EXPECT_EQ(exit_code(same), 0) << describe_status(same.status) << same.err;
    EXPECT_EQ(lines_of(same.err), 2u) << same.err; // once per file read
    EXPECT_NE(same.err.find(note), std::string::npos) << same.err;
    // Against the whole trace: a comparison (79, the events left out), not a refusal (64).
    auto whole = run_deftrace({"-o", "/dev/null", "--jsonl", tmp / "whole.jsonl", b.binary()});
    ASSERT_EQ(exit_code(whole), 0) << whole.err;
    auto diff = run_deftrace({"diff", tmp / "whole.jsonl", cut});
    EXPECT_EQ(exit_code(diff), 79) << describe_status(diff.status) << diff.err;
    expect_one_line(diff, note);
    auto expect = run_deftrace({"-o", "/dev/null", "--expect", cut, b.binary()});
    EXPECT_EQ(exit_code(expect), 79) << describe_status(expect.status) << expect.err;
    EXPECT_NE(expect.err.find(note), std::string::npos) << expect.err;
}

TEST(HostileInput, AProbeNamedTwiceIsFollowedOnce) {
    ScratchDir tmp("hostile");
    const auto builds = oldest_and_newest({"resource_probes"});
    ASSERT_FALSE(builds.empty());
    const auto &b = newest(builds);
    auto count = [&](const std::vector<std::string> &probes) {
        std::vector<std::string> args = {"-o", "/dev/null", "--json", tmp / "t.json"};
        for (const auto &p : probes)
            args.insert(args.end(), {"--probes", p});
        args.push_back(b.binary());
        auto r = run_deftrace(args);
        EXPECT_EQ(exit_code(r), 0) << describe_status(r.status) << r.err;
        size_t n = 0;
        const json t = json::parse(slurp(tmp / "t.json"));
        for (const auto &e : t["events"])
            n += e.value("kind", "") == "acquire" || e.value("kind", "") == "release";
        return n;
    };
    const size_t once = count({"os-file"});
    EXPECT_GT(once, 0u);
    EXPECT_EQ(count({"os-file", "os-file"}), once);
    EXPECT_EQ(count({"os-file", std::string(DEFTRACE_SOURCE_DIR) + "/probes/resources/os-file.json"}), once);
}

} // namespace
} // namespace deftrace::testing
