// Resource probes: which functions acquire a resource and which release it, and where the handle
// is. Loaded from probes/resources/*.json (format: probes/README.md, schema deftrace.probe/1).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

// Where a probed function keeps the handle, under Go's register ABI (ABIInternal, amd64, Go 1.17+):
// integer arguments and results in RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11, the receiver first.
struct HandleSlot {
    enum class From { Argument, Result } from = From::Argument;
    int index = 0; // 0 is the receiver (or first argument), or the first result
    // "*result0": the handle is the pointer stored at the start of what the register points to
    // (an *os.File is a struct{ *file }: the inner *file is what os.(*file).close receives).
    bool deref = false;
};

// Where a call the compiler inlined is seen: such a call has no entry or return to stop at, so
// deftrace stops at the first `instruction` (mnemonic with its prefix: "lock cmpxchg") after the
// call site, in the code of the function that holds the copy; the handle is the address of that
// instruction's memory operand minus `offset`. For a lock, the atomic operation on its state word.
struct InlinedRule {
    std::string instruction;
    int64_t offset = 0;
};

struct ProbedFunction {
    std::string function; // as the pclntab names it: database/sql.(*DB).BeginTx
    // An acquire's handle is a result (taken at each return) or an argument (taken at entry, as
    // sync.(*Mutex).Lock's receiver); a release's is an argument.
    HandleSlot handle;
    std::optional<InlinedRule> inlined; // none: inlined calls are listed as not seen
};

struct ResourceProbe {
    std::string name;     // sql-tx
    std::string resource; // database/sql transaction
    std::vector<ProbedFunction> acquire, release;
    // "callers": "program": only calls from the program's own code count, not those the standard
    // library makes for itself (its many internal locks).
    bool program_callers_only = false;
    // Named on the command line (--probes), not one of the set --leaks follows: when none of its
    // acquire functions is in the program, the report says so (a shipped probe for what a
    // program does not use is no news).
    bool named = false;
};

// Parses one probe file; throws Error(Usage) naming the file and the problem.
ResourceProbe load_resource_probe(const std::filesystem::path &file);

// Whether a --probes argument is a probe file (contains '/' or ends in .json) rather than a name.
bool is_probe_file_name(const std::string &name_or_file);

// A probe by name (a file of `dir` named NAME.json) or by path (is_probe_file_name).
ResourceProbe find_resource_probe(const std::string &name_or_file, const std::filesystem::path &dir);

// Every probe shipped in `dir`, by name.
std::vector<ResourceProbe> shipped_resource_probes(const std::filesystem::path &dir);

} // namespace deftrace
