// One ELF file opened with libelf: identity checks, sections, segments, symbols, and reads by
// link-time virtual address. Knows nothing about Go.
#pragma once

#include "binary/address.h"
#include "binary/byte_reader.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct Elf; // libelf's handle

namespace deftrace {

struct ElfSection {
    std::string name;
    uint32_t type = 0;
    uint64_t flags = 0;
    LinkAddr addr;
    uint64_t offset = 0;
    uint64_t size = 0;
    [[nodiscard]] bool has_file_bytes() const; // false for SHT_NOBITS (.bss)
};

struct ElfSegment {
    uint32_t type = 0;
    uint32_t flags = 0; // PF_R | PF_W | PF_X
    LinkAddr vaddr;
    uint64_t offset = 0;
    uint64_t filesz = 0;
    uint64_t memsz = 0;
    uint64_t align = 0;
};

struct ElfSymbol {
    std::string name;
    LinkAddr value;
    uint64_t size = 0;
    uint8_t type = 0; // STT_*
};

class ElfFile {
public:
    // Opens and validates `path`: it must exist, be readable, be a 64-bit x86-64 ELF whose
    // headers lie inside the file. Throws Error with the matching kind otherwise.
    static ElfFile open(const std::string &path);
    // The same checks on an image already in memory; `name` stands for the path in messages.
    // The bytes are copied, so the result does not depend on `image` staying alive.
    static ElfFile from_bytes(Bytes image, const std::string &name);

    ElfFile(ElfFile &&) noexcept;
    ElfFile &operator=(ElfFile &&) noexcept;
    ~ElfFile();

    [[nodiscard]] const std::string &path() const { return path_; }
    [[nodiscard]] Bytes image() const { return image_; }
    [[nodiscard]] bool is_pie() const { return is_dyn_; } // ET_DYN executable
    [[nodiscard]] LinkAddr entry() const { return entry_; }

    [[nodiscard]] const std::vector<ElfSection> &sections() const { return sections_; }
    [[nodiscard]] const std::vector<ElfSegment> &segments() const { return segments_; }
    [[nodiscard]] const ElfSection *section(std::string_view name) const;

    // Symbols from .symtab (absent in binaries linked with -s).
    [[nodiscard]] bool has_symtab() const { return has_symtab_; }
    [[nodiscard]] std::optional<ElfSymbol> symbol(std::string_view name) const;
    [[nodiscard]] bool has_section(std::string_view name) const { return section(name) != nullptr; }
    [[nodiscard]] bool has_debug_info() const { return has_section(".debug_info") || has_section(".zdebug_info"); }

    // The file bytes backing [addr, addr+len) through a PT_LOAD segment, or nullopt when the
    // range is not file-backed (unmapped, or in the zero-filled tail of a segment).
    [[nodiscard]] std::optional<Bytes> bytes_at(LinkAddr addr, uint64_t len) const;
    // The file bytes from `addr` to the end of the file-backed part of its segment.
    [[nodiscard]] std::optional<Bytes> bytes_from(LinkAddr addr) const;
    // The file bytes of a section (empty for NOBITS).
    [[nodiscard]] Bytes section_bytes(const ElfSection &s) const;

private:
    ElfFile() = default;
    // Everything after libelf has a handle (elf_): class, machine, type, then load_tables().
    void validate_and_load();
    void load_tables();
    void release() noexcept;

    std::string path_;
    int fd_ = -1;
    std::vector<uint8_t> owned_; // the image, for from_bytes (libelf reads it in place)
    ::Elf *elf_ = nullptr;
    Bytes image_;
    bool is_dyn_ = false;
    LinkAddr entry_;
    std::vector<ElfSection> sections_;
    std::vector<ElfSegment> segments_;
    bool has_symtab_ = false;
    std::unordered_map<std::string, ElfSymbol> symbols_;
};

} // namespace deftrace
