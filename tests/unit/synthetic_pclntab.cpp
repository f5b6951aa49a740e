#include "synthetic_pclntab.h"

#include <cstring>

#include <string>

namespace deftrace::testing {

namespace {

void append(std::vector<uint8_t> &v, const void *p, size_t n) {
    auto b = static_cast<const uint8_t *>(p);
    v.insert(v.end(), b, b + n);
}
void append32(std::vector<uint8_t> &v, uint32_t x) {
    append(v, &x, 4);
}
void append_str(std::vector<uint8_t> &v, const std::string &s) {
    append(v, s.c_str(), s.size() + 1);
}

} // namespace

SyntheticPclntab SyntheticPclntab::make() {
    SyntheticPclntab t;
    std::vector<uint8_t> names, cutab, files, pctab, pcln;
    append_str(names, "main.a");
    append_str(names, "main.b");
    append32(cutab, 0); // CU 0, file 0 -> filetab offset 0
    append_str(files, "/src/main.go");
    pctab.push_back(0); // offset 0 means "no table"
    // pcsp: value 8 over 16 bytes. (value starts at -1: delta +9 -> zigzag 18)
    t.pcsp_off = static_cast<uint32_t>(pctab.size());
    for (uint8_t b : {18, 16, 0})
        pctab.push_back(b);
    // pcfile: file index 0 over 16 bytes (delta +1 -> zigzag 2)
    t.pcfile_off = static_cast<uint32_t>(pctab.size());
    for (uint8_t b : {2, 16, 0})
        pctab.push_back(b);
    // pcln: line 10 over 8 bytes, then line 12 over 8 (deltas +11 -> 22, +2 -> 4)
    t.pcln_table_off = static_cast<uint32_t>(pctab.size());
    for (uint8_t b : {22, 8, 4, 8, 0})
        pctab.push_back(b);

    // pclntable: functab (3 pairs) then two _func records (44 bytes + pcdata + funcdata).
    const uint32_t functab_size = 3 * 8;
    const uint32_t rec0 = functab_size, rec1 = rec0 + 44 + 4 * 0 + 4 * 0;
    append32(pcln, 0x00);
    append32(pcln, rec0);
    append32(pcln, 0x10);
    append32(pcln, rec1);
    append32(pcln, 0x20);
    append32(pcln, 0);
    auto record = [&](uint32_t entryoff, uint32_t nameoff, uint8_t nfuncdata) {
        append32(pcln, entryoff);
        append32(pcln, nameoff);
        append32(pcln, 0);                                                // args
        append32(pcln, 0);                                                // deferreturn
        append32(pcln, t.pcsp_off);                                       // pcsp
        append32(pcln, t.pcfile_off);                                     // pcfile
        append32(pcln, t.pcln_table_off);                                 // pcln
        append32(pcln, 0);                                                // npcdata
        append32(pcln, 0);                                                // cuOffset
        append32(pcln, 7);                                                // startLine
        for (uint8_t b : {uint8_t{0}, uint8_t{0}, uint8_t{0}, nfuncdata}) // funcID flag pad nfuncdata
            pcln.push_back(b);
    };
    record(0x00, 0, 0);
    record(0x10, 7, 5);
    for (uint32_t k = 0; k < 5; ++k)
        append32(pcln, k == 4 ? 0x40 : 0xffffffffu);

    t.funcname_off = 72;
    t.cu_off = t.funcname_off + names.size();
    t.filetab_off = t.cu_off + cutab.size();
    t.pctab_off = t.filetab_off + files.size();
    t.pcln_off = t.pctab_off + pctab.size();
    t.func_record[0] = rec0;
    t.func_record[1] = rec1;

    t.bytes.resize(72);
    t.put32(0, 0xfffffff1);
    t.bytes[4] = t.bytes[5] = 0;
    t.bytes[6] = 1;
    t.bytes[7] = 8;
    t.put64(8, 2);
    t.put64(16, 1);
    t.put64(24, t.text_start);
    t.put64(32, t.funcname_off);
    t.put64(40, t.cu_off);
    t.put64(48, t.filetab_off);
    t.put64(56, t.pctab_off);
    t.put64(64, t.pcln_off);
    for (auto *part : {&names, &cutab, &files, &pctab, &pcln})
        t.bytes.insert(t.bytes.end(), part->begin(), part->end());
    return t;
}

// A Go 1.2–1.15 table (magic 0xfffffffb): the function table inline after the 16-byte header,
// absolute entries, every offset from the table's start, one file table, funcdata as pointers.
std::vector<uint8_t> go12_pclntab() {
    std::vector<uint8_t> t(200, 0);
    auto put = [&](size_t off, uint64_t v, size_t n) { std::memcpy(t.data() + off, &v, n); };
    put(0, 0xfffffffb, 4);
    t[6] = 1;                                     // minLC
    t[7] = 8;                                     // ptrSize
    put(8, 2, 8);                                 // nfunc
    put(16, 0x401000, 8), put(24, 64, 8);         // main.a, its _func at 64
    put(32, 0x401010, 8), put(40, 112, 8);        // main.b, at 112
    put(48, 0x401020, 8);                         // the end pc
    put(56, 180, 4);                              // the file table
    for (size_t f : {64u, 112u}) {                // two 40-byte _func records
        put(f, f == 64 ? 0x401000 : 0x401010, 8); // entry
        put(f + 8, f == 64 ? 152 : 159, 4);       // nameoff
        put(f + 20, 188, 4), put(f + 24, 191, 4); // pcsp, pcfile
        put(f + 28, 194, 4);                      // pcln
    }
    t[64 + 39] = 1;        // main.a: one funcdata slot,
    put(104, 0x600040, 8); // a pointer, 8-aligned after the (no) pcdata
    std::memcpy(t.data() + 152, "main.a\0main.b\0/src/main.go", 27);
    put(180, 2, 4), put(184, 166, 4);            // two entries: [0] the count, [1] main.go
    const uint8_t tables[] = {0x02, 0x10, 0x00,  // pcsp: 0 over 16 bytes
                              0x04, 0x10, 0x00,  // pcfile: file 1
                              0x16, 0x10, 0x00}; // pcln: line 10
    std::memcpy(t.data() + 188, tables, sizeof tables);
    return t;
}

} // namespace deftrace::testing
