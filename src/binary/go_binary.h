// The static picture of one Go executable: ELF, Go version, pclntab, moduledata, runtime
// functions, funcdata. Everything above this layer reads the binary through GoBinary.
#pragma once

#include "binary/buildinfo.h"
#include "binary/elf_file.h"
#include "binary/fingerprint.h"
#include "binary/go_version.h"
#include "binary/moduledata.h"
#include "binary/opendefer_info.h"
#include "binary/pclntab.h"
#include "binary/runtime_functions.h"
#include "release/go_releases.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

class GoBinary {
public:
    // Loads and validates everything; throws Error with a user-facing one-line message.
    static GoBinary open(const std::string &path);
    // The same from an image in memory (copied); `name` stands for the path in messages.
    static GoBinary from_bytes(Bytes image, const std::string &name);

    [[nodiscard]] const ElfFile &elf() const { return elf_; }
    [[nodiscard]] const std::string &path() const { return elf_.path(); }
    [[nodiscard]] const GoVersion &version() const { return version_; }
    // "buildinfo" when read from .go.buildinfo, "fingerprint" when estimated from structure.
    [[nodiscard]] const std::string &version_source() const { return version_source_; }
    [[nodiscard]] const std::optional<BuildInfo> &buildinfo() const { return buildinfo_; }
    [[nodiscard]] const Fingerprint &fingerprint() const { return fingerprint_; }
    // The registry row of the release that built it (every GoBinary has one: open() refuses the rest).
    [[nodiscard]] const GoRelease &facts() const { return *facts_; }
    [[nodiscard]] const Pclntab &pclntab() const { return *pclntab_; }
    // Where the pclntab was found: a section name, "symbol runtime.pclntab" or "scan".
    [[nodiscard]] const std::string &pclntab_source() const { return pclntab_source_; }
    [[nodiscard]] const ModuleData &moduledata() const { return moduledata_; }
    [[nodiscard]] const RuntimeFunctions &runtime() const { return runtime_; }

    [[nodiscard]] bool stripped() const { return !elf_.has_symtab(); }
    [[nodiscard]] bool pie() const { return elf_.is_pie(); }
    [[nodiscard]] bool has_dwarf() const { return elf_.has_debug_info(); }
    // Non-fatal observations (e.g. the build info disagrees with the structure).
    [[nodiscard]] const std::vector<std::string> &warnings() const { return warnings_; }

    // FUNCDATA_OpenCodedDeferInfo of `f`, decoded; nullopt when `f` has no open-coded defers.
    [[nodiscard]] std::optional<OpenDeferInfo> open_defer_info(const FuncInfo &f) const;
    // The outermost function inlined at `pc` of `f` (FUNCDATA_InlTree walked up through
    // runtime.inlinedCall parents), or nullopt when the instruction is `f`'s own code.
    [[nodiscard]] std::optional<std::string_view> outermost_inlined(const FuncInfo &f, LinkAddr pc) const;
    // The calls inlined at `pc`, innermost first: each inlined function's name and the pc, in `f`,
    // of its call site in the function it was inlined into. Empty when `pc` is not in inlined code.
    struct InlinedCall {
        std::string_view name;
        LinkAddr call_pc;
    };
    [[nodiscard]] std::vector<InlinedCall> inlined_calls(const FuncInfo &f, LinkAddr pc) const;
    // For each of `names`, the functions that contain an inlined copy of it (from every
    // function's inline tree). One pass over the binary.
    [[nodiscard]] std::map<std::string, std::vector<std::string>, std::less<>>
    inlined_into(const std::vector<std::string> &names) const;
    // Every inlined call of each of `names`: the function holding the copy (its pclntab index),
    // the pc of the call site in that function, and the function that made the call (the host,
    // or the inlined function the call sits in). Sorted by call_pc. One pass over the binary.
    struct InlinedCopy {
        size_t func_index;
        LinkAddr call_pc;
        std::string_view caller;
    };
    [[nodiscard]] std::map<std::string, std::vector<InlinedCopy>, std::less<>>
    inlined_copies(const std::vector<std::string> &names) const;
    // The bytes of a function's code.
    [[nodiscard]] Bytes code(const FuncInfo &f) const;

private:
    class InlineTree;
    explicit GoBinary(ElfFile elf) : elf_(std::move(elf)) {}
    static GoBinary load(ElfFile elf);
    void locate_pclntab();
    void determine_version();
    [[nodiscard]] std::optional<std::string> build_version_symbol() const;

    ElfFile elf_;
    std::optional<BuildInfo> buildinfo_;
    GoVersion version_;
    std::string version_source_;
    Fingerprint fingerprint_;
    const GoRelease *facts_ = nullptr;
    std::optional<Pclntab> pclntab_;
    std::string pclntab_source_;
    ModuleData moduledata_;
    RuntimeFunctions runtime_;
    std::vector<std::string> warnings_;
};

} // namespace deftrace
