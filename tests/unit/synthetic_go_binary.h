// Small ELF images built in memory: a generic writer (segments and named sections), and on top
// of it a whole "Go binary" of a few kilobytes — code, pclntab, moduledata, build info, an
// open-coded defer payload and an inline tree — that GoBinary opens and the defer analysis walks.
// Tests damage one field of it at a time; the fuzz targets use it as a seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deftrace::testing {

struct SynthSegment {
    uint32_t flags = 0; // PF_R | PF_W | PF_X
    uint64_t vaddr = 0;
    std::vector<uint8_t> bytes;
};

struct SynthSection {
    std::string name;
    uint32_t type = 1;  // SHT_PROGBITS
    size_t segment = 0; // the section is [offset, offset+size) of that segment's bytes
    uint64_t offset = 0;
    uint64_t size = 0;
};

// An x86-64 ET_EXEC image: ELF header, one PT_LOAD per segment (file offsets 16-aligned, in
// order), then the sections' headers and .shstrtab (none at all when `sections` is empty).
std::vector<uint8_t> build_elf(const std::vector<SynthSegment> &segments,
                               const std::vector<SynthSection> &sections = {});

struct SynthGoOptions {
    int minor = 22;                 // 19: pclntab 0xfffffff0 and the Go 1.18 defer payload; 26+: textStart 0
    bool section_headers = true;    // false: every table must be found by scanning
    bool pointer_buildinfo = false; // the pre-1.18 build info form (pointers to Go strings)
};

// Where the pieces of a synthetic Go binary ended up (file offsets), for tests that damage them.
struct SynthGoBinary {
    std::vector<uint8_t> bytes;
    uint64_t text_vaddr = 0, rodata_vaddr = 0, data_vaddr = 0;
    uint64_t pclntab_file_off = 0, pclntab_size = 0;
    uint64_t opendefer_file_off = 0; // the FUNCDATA_OpenCodedDeferInfo payload of main.open
    uint64_t buildinfo_file_off = 0;
    uint64_t moduledata_file_off = 0;
    std::vector<uint64_t> phdr_file_offs; // one per PT_LOAD: text, rodata, data
};

// Functions: runtime.gopanic, runtime.deferreturn, runtime.deferproc, runtime.deferprocStack,
// main.heap (CALL runtime.deferproc, an inlined call) and main.open (one open-coded defer).
SynthGoBinary synthetic_go_binary(const SynthGoOptions &opts = {});

} // namespace deftrace::testing
