// Byte layouts of the Go runtime structures the tracer reads from a live process (runtime.g,
// runtime.m, runtime._defer, runtime._panic, type descriptors, moduledata, ...): per structure,
// its size and field name -> {offset, size}.
//
// Offsets move between Go releases (go-runtime.md §1, §5.4), so deftrace never hard-codes them.
// They come from the binary's own DWARF when it has any; a stripped binary falls back to the
// table generated for its Go minor release by scripts/gen-layouts.sh (probes/layouts/go1.NN.json),
// which is the same DWARF extraction run on a probe program built by that toolchain.
//
// Names are DWARF's: "runtime.g", "internal/abi.Type". Members of a few embedded structures are
// listed with dotted paths ("stack.lo", "sched.sp", "arg._type"). A field that does not exist in
// a release is simply absent; callers test for presence, never for a version number.
#pragma once

#include "binary/elf_file.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deftrace {

struct FieldLayout {
    std::string name; // "goid", "sched.sp"
    uint64_t offset = 0;
    uint64_t size = 0; // 0 when DWARF gives no size (never for the fields deftrace reads)
};

struct StructLayout {
    uint64_t size = 0;
    std::vector<FieldLayout> fields; // in offset order, a nested member after its parent

    [[nodiscard]] const FieldLayout *field(std::string_view name) const;
};

class StructLayouts {
public:
    // Reads the layouts from the DWARF of `elf` (plain or SHF_COMPRESSED sections, DWARF 4 or 5).
    // nullopt when the binary carries no DWARF (-ldflags=-w); an empty result when it has DWARF
    // but none of the runtime structures. Throws Error(Corrupt) when libdw cannot read the DWARF.
    static std::optional<StructLayouts> from_dwarf(const ElfFile &elf);
    // Parses a table written by to_json(); nullopt when `j` is not a well-formed table.
    static std::optional<StructLayouts> from_table(const nlohmann::json &j);
    // {"go_version", "source", "structs": {name: {"size", "fields": {name: {"offset", "size"}}}}},
    // structures by name and fields by offset, so the output is byte-for-byte reproducible.
    [[nodiscard]] nlohmann::ordered_json to_json() const;

    [[nodiscard]] bool empty() const { return structs_.empty(); }
    [[nodiscard]] const StructLayout *find(std::string_view structure) const;
    [[nodiscard]] std::optional<uint64_t> size_of(std::string_view structure) const;
    [[nodiscard]] std::optional<uint64_t> offset(std::string_view structure, std::string_view field) const;
    // As offset(), but a missing structure or field means deftrace cannot handle this Go release:
    // throws Error(UnsupportedGo) naming the structure, the field and the Go version.
    [[nodiscard]] uint64_t require(std::string_view structure, std::string_view field) const;

    [[nodiscard]] const std::map<std::string, StructLayout, std::less<>> &structs() const { return structs_; }
    // "go1.22.12": the compiler named by the DWARF producer, or the table's toolchain.
    [[nodiscard]] const std::string &go_version() const { return go_version_; }
    void set_go_version(std::string v) { go_version_ = std::move(v); }
    // "dwarf", "table" or "inferred": where these layouts came from (for messages).
    [[nodiscard]] const std::string &source() const { return source_; }
    void set_source(std::string s) { source_ = std::move(s); }

    // Adds or replaces a structure (for tests and synthetic layouts); its fields are put in offset order.
    void add(std::string name, StructLayout layout);

private:
    std::map<std::string, StructLayout, std::less<>> structs_;
    std::string go_version_;
    std::string source_;
};

} // namespace deftrace
