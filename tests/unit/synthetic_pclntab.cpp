#include "synthetic_pclntab.h"

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

} // namespace deftrace::testing
