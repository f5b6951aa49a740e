// A small, valid Go 1.20+ pclntab (magic 0xfffffff1) built in memory, with the offsets of its
// fields, so tests can damage one field at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace deftrace::testing {

struct SyntheticPclntab {
    std::vector<uint8_t> bytes;
    uint64_t text_start = 0x401000;
    uint64_t funcname_off = 0, cu_off = 0, filetab_off = 0, pctab_off = 0, pcln_off = 0;
    uint64_t func_record[2] = {0, 0}; // offsets inside pclntable
    uint32_t pcsp_off = 0, pcfile_off = 0, pcln_table_off = 0;

    // Two functions main.a [0x401000,0x401010) and main.b [0x401010,0x401020) in /src/main.go;
    // main.b has funcdata slot 4 = 0x40.
    static SyntheticPclntab make();

    void put32(uint64_t off, uint32_t v) { std::memcpy(bytes.data() + off, &v, 4); }
    void put64(uint64_t off, uint64_t v) { std::memcpy(bytes.data() + off, &v, 8); }
};

// A Go 1.2–1.15 table (magic 0xfffffffb) of the same two functions at 0x401000 and 0x401010,
// main.a with funcdata slot 0 = 0x600040 (a pointer, as before 1.18), line 10 of /src/main.go.
std::vector<uint8_t> go12_pclntab();

} // namespace deftrace::testing
