#include "synthetic_go_binary.h"

#include <cstring>
#include <elf.h>
#include <string_view>

namespace deftrace::testing {

namespace {

void append(std::vector<uint8_t> &v, const void *p, size_t n) {
    auto b = static_cast<const uint8_t *>(p);
    v.insert(v.end(), b, b + n);
}
void append8(std::vector<uint8_t> &v, uint8_t x) {
    v.push_back(x);
}
void append32(std::vector<uint8_t> &v, uint32_t x) {
    append(v, &x, 4);
}
void append64(std::vector<uint8_t> &v, uint64_t x) {
    append(v, &x, 8);
}
void append_str(std::vector<uint8_t> &v, std::string_view s) {
    append(v, s.data(), s.size());
    v.push_back(0);
}
void append_uvarint(std::vector<uint8_t> &v, uint64_t x) {
    while (x >= 0x80) {
        v.push_back(static_cast<uint8_t>(x | 0x80));
        x >>= 7;
    }
    v.push_back(static_cast<uint8_t>(x));
}
void pad_to(std::vector<uint8_t> &v, size_t align, uint8_t fill = 0) {
    while (v.size() % align != 0)
        v.push_back(fill);
}
void put32(std::vector<uint8_t> &v, size_t off, uint32_t x) {
    std::memcpy(v.data() + off, &x, 4);
}
void put64(std::vector<uint8_t> &v, size_t off, uint64_t x) {
    std::memcpy(v.data() + off, &x, 8);
}
uint64_t zigzag(int64_t d) {
    return d < 0 ? (static_cast<uint64_t>(~d) << 1) | 1 : static_cast<uint64_t>(d) << 1;
}

// A pc-value table: (value, length) runs, encoded as runtime.pcvalue reads them.
std::vector<uint8_t> pc_value_table(const std::vector<std::pair<int32_t, uint32_t>> &runs) {
    std::vector<uint8_t> out;
    int64_t value = -1;
    for (const auto &[v, len] : runs) {
        append_uvarint(out, zigzag(v - value));
        append_uvarint(out, len);
        value = v;
    }
    out.push_back(0);
    return out;
}

struct SynthFunc {
    std::string name;
    std::vector<uint8_t> code; // padded to the next function
    uint32_t deferreturn = 0;
    uint8_t funcid = 0;
    int32_t frame = 0;
    std::vector<std::vector<uint8_t>> pcdata;           // tables; an empty one is "absent" (0)
    std::vector<uint32_t> funcdata;                     // offsets from gofunc; 0xffffffff absent
    std::vector<std::pair<int32_t, uint32_t>> inl_runs; // PCDATA_InlTreeIndex, when non-empty
};

} // namespace

std::vector<uint8_t> build_elf(const std::vector<SynthSegment> &segments, const std::vector<SynthSection> &sections) {
    std::vector<uint8_t> out(sizeof(Elf64_Ehdr) + segments.size() * sizeof(Elf64_Phdr), 0);
    std::vector<uint64_t> seg_off;
    for (const auto &s : segments) {
        pad_to(out, 16);
        seg_off.push_back(out.size());
        out.insert(out.end(), s.bytes.begin(), s.bytes.end());
    }
    for (size_t i = 0; i < segments.size(); ++i) {
        Elf64_Phdr ph{};
        ph.p_type = PT_LOAD;
        ph.p_flags = segments[i].flags;
        ph.p_offset = seg_off[i];
        ph.p_vaddr = ph.p_paddr = segments[i].vaddr;
        ph.p_filesz = ph.p_memsz = segments[i].bytes.size();
        ph.p_align = 16;
        std::memcpy(out.data() + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), &ph, sizeof ph);
    }

    Elf64_Ehdr eh{};
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = segments.empty() ? 0 : segments[0].vaddr;
    eh.e_phoff = segments.empty() ? 0 : sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = static_cast<uint16_t>(segments.size());
    eh.e_shentsize = sizeof(Elf64_Shdr);

    if (!sections.empty()) {
        std::vector<uint8_t> names(1, 0);
        std::vector<Elf64_Shdr> shdrs(1); // index 0 is the null section
        for (const auto &s : sections) {
            Elf64_Shdr sh{};
            sh.sh_name = static_cast<uint32_t>(names.size());
            append_str(names, s.name);
            sh.sh_type = s.type;
            sh.sh_flags = SHF_ALLOC;
            sh.sh_addr = segments[s.segment].vaddr + s.offset;
            sh.sh_offset = seg_off[s.segment] + s.offset;
            sh.sh_size = s.size;
            sh.sh_addralign = 1;
            shdrs.push_back(sh);
        }
        Elf64_Shdr strtab{};
        strtab.sh_name = static_cast<uint32_t>(names.size());
        append_str(names, ".shstrtab");
        strtab.sh_type = SHT_STRTAB;
        strtab.sh_offset = out.size();
        strtab.sh_size = names.size();
        strtab.sh_addralign = 1;
        out.insert(out.end(), names.begin(), names.end());
        shdrs.push_back(strtab);
        pad_to(out, 8);
        eh.e_shoff = out.size();
        eh.e_shnum = static_cast<uint16_t>(shdrs.size());
        eh.e_shstrndx = static_cast<uint16_t>(shdrs.size() - 1);
        for (const auto &sh : shdrs)
            append(out, &sh, sizeof sh);
    }
    std::memcpy(out.data(), &eh, sizeof eh);
    return out;
}

SynthGoBinary synthetic_go_binary(const SynthGoOptions &opts) {
    const bool v118 = opts.minor < 20; // pclntab 0xfffffff0, 40-byte _func, 20-byte inline records
    const bool v122 = opts.minor >= 22;
    const uint64_t text = 0x401000, rodata = 0x4c0000, data = 0x4e0000;
    const uint32_t gofunc_off = opts.minor >= 27 ? 344 : v118 ? 304 : 320;
    const uint32_t types_off = v118 ? 280 : 296;

    // go:func.* (start of rodata): the open-coded defer payload of main.open at +0, a static
    // funcval for main.heap at +16, main.heap's inline tree at +32.
    std::vector<uint8_t> gofunc;
    if (v122) { // deferBitsOffset, slotsOffset
        append_uvarint(gofunc, 0x21);
        append_uvarint(gofunc, 0x18);
    } else { // deferBitsOffset, nDefers, closureOffset...
        append_uvarint(gofunc, 0x21);
        append_uvarint(gofunc, 1);
        append_uvarint(gofunc, 0x18);
    }
    pad_to(gofunc, 16);
    append64(gofunc, text + 0x40); // funcval -> main.heap
    pad_to(gofunc, 32);

    // Code, 16-byte aligned functions padded with int3.
    auto rel32 = [](uint64_t from_next, uint64_t to) { return static_cast<uint32_t>(to - from_next); };
    std::vector<SynthFunc> funcs;
    auto ret_only = [](const char *name) {
        SynthFunc f;
        f.name = name;
        f.code = {0xc3};
        return f;
    };
    funcs.push_back(ret_only("runtime.gopanic"));
    funcs.back().funcid = v122 ? 10 : 9;
    funcs.push_back(ret_only("runtime.deferreturn"));
    funcs.push_back(ret_only("runtime.deferproc"));
    funcs.push_back(ret_only("runtime.deferprocStack"));
    {
        // main.heap @ text+0x40: sub rsp,0x18; call deferproc; call deferreturn; add rsp,0x18; ret
        SynthFunc f;
        f.name = "main.heap";
        f.frame = 0x18;
        const uint64_t at = text + 0x40;
        f.code = {0x48, 0x83, 0xec, 0x18, 0xe8, 0, 0, 0, 0, 0xe8, 0, 0, 0, 0, 0x48, 0x83, 0xc4, 0x18, 0xc3};
        put32(f.code, 5, rel32(at + 9, text + 0x20));
        put32(f.code, 10, rel32(at + 14, text + 0x10));
        f.deferreturn = 9;
        // The deferproc call is the inlined body of main.inl (inline tree record 0).
        f.inl_runs = {{-1, 4}, {0, 5}, {-1, 23}};
        f.funcdata = {0xffffffffu, 0xffffffffu, 0xffffffffu, 32};
        funcs.push_back(f);
    }
    {
        // main.open @ text+0x60: deferBits at rsp+7, the closure of defer 0 at rsp+0x10.
        SynthFunc f;
        f.name = "main.open";
        f.frame = 0x28;
        const uint64_t at = text + 0x60;
        f.code = {0x48, 0x83, 0xec, 0x28,             // sub rsp,0x28
                  0xc6, 0x44, 0x24, 0x07, 0x00,       // mov byte [rsp+7],0
                  0x48, 0x8d, 0x15, 0,    0,    0, 0, // lea rdx,[rip+funcval]
                  0x48, 0x89, 0x54, 0x24, 0x10,       // mov [rsp+0x10],rdx
                  0xc6, 0x44, 0x24, 0x07, 0x01,       // mov byte [rsp+7],1  (defer 0)
                  0xc6, 0x44, 0x24, 0x07, 0x00,       // mov byte [rsp+7],0  (exit: clear)
                  0x48, 0x8b, 0x54, 0x24, 0x10,       // mov rdx,[rsp+0x10]
                  0x48, 0x8b, 0x02,                   // mov rax,[rdx]
                  0xff, 0xd0,                         // call rax
                  0x48, 0x83, 0xc4, 0x28,             // add rsp,0x28
                  0xc3,                               // ret
                  0xe8, 0,    0,    0,    0};         // call runtime.deferreturn
        put32(f.code, 12, rel32(at + 16, rodata + 16));
        put32(f.code, 47, rel32(at + 51, text + 0x10));
        f.deferreturn = 46;
        f.funcdata = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0};
        funcs.push_back(f);
    }
    std::vector<uint8_t> code;
    std::vector<uint32_t> entry;
    for (auto &f : funcs) {
        entry.push_back(static_cast<uint32_t>(code.size()));
        code.insert(code.end(), f.code.begin(), f.code.end());
        pad_to(code, f.name == "main.heap" ? 32 : 16, 0xcc);
    }
    const auto etext_off = static_cast<uint32_t>(code.size());

    // The inline tree of main.heap: one record, main.inl, whose call site is main.heap+0.
    std::vector<uint8_t> names;
    std::vector<uint32_t> name_off;
    for (const auto &f : funcs) {
        name_off.push_back(static_cast<uint32_t>(names.size()));
        append_str(names, f.name);
    }
    const auto inl_name = static_cast<uint32_t>(names.size());
    append_str(names, "main.inl");
    if (v118) { // parent int16, funcID, _, file, line, func_ (name), parentPc
        for (uint8_t b : {0xff, 0xff, 0, 0})
            append8(gofunc, b);
        append32(gofunc, 0);
        append32(gofunc, 12);
        append32(gofunc, inl_name);
        append32(gofunc, 0);
    } else { // funcID, _ [3], nameOff, parentPc (an instruction of the host), startLine
        append32(gofunc, 0);
        append32(gofunc, inl_name);
        append32(gofunc, 0);
        append32(gofunc, 11);
    }
    pad_to(gofunc, 64);

    // pclntab.
    std::vector<uint8_t> cutab, files, pctab(1, 0); // pctab offset 0 means "no table"
    append32(cutab, 0);
    append_str(files, "/src/main.go");
    struct Tables {
        uint32_t pcsp, pcfile, pcln;
        std::vector<uint32_t> pcdata;
    };
    std::vector<Tables> tables;
    for (size_t i = 0; i < funcs.size(); ++i) {
        const auto &f = funcs[i];
        const uint32_t size = (i + 1 < funcs.size() ? entry[i + 1] : etext_off) - entry[i];
        auto add = [&](const std::vector<uint8_t> &t) {
            auto off = static_cast<uint32_t>(pctab.size());
            pctab.insert(pctab.end(), t.begin(), t.end());
            return off;
        };
        Tables t;
        t.pcsp = f.frame == 0 ? add(pc_value_table({{0, size}})) : add(pc_value_table({{0, 4}, {f.frame, size - 4}}));
        t.pcfile = add(pc_value_table({{0, size}}));
        t.pcln = add(pc_value_table(
            {{10 + static_cast<int32_t>(i) * 5, size / 2}, {11 + static_cast<int32_t>(i) * 5, size - size / 2}}));
        if (!f.inl_runs.empty())
            t.pcdata = {0, 0, add(pc_value_table(f.inl_runs))};
        tables.push_back(t);
    }
    std::vector<uint8_t> pcln;
    for (size_t i = 0; i < funcs.size(); ++i) {
        append32(pcln, entry[i]);
        append32(pcln, 0); // record offset, patched below
    }
    append32(pcln, etext_off);
    append32(pcln, 0);
    for (size_t i = 0; i < funcs.size(); ++i) {
        const auto &f = funcs[i];
        const auto &t = tables[i];
        put32(pcln, i * 8 + 4, static_cast<uint32_t>(pcln.size()));
        append32(pcln, entry[i]);
        append32(pcln, name_off[i]);
        append32(pcln, 0); // args
        append32(pcln, f.deferreturn);
        append32(pcln, t.pcsp);
        append32(pcln, t.pcfile);
        append32(pcln, t.pcln);
        append32(pcln, static_cast<uint32_t>(t.pcdata.size()));
        append32(pcln, 0); // cuOffset
        if (!v118)
            append32(pcln, 10 + static_cast<uint32_t>(i) * 5); // startLine
        for (uint8_t b : {f.funcid, uint8_t{0}, uint8_t{0}, static_cast<uint8_t>(f.funcdata.size())})
            append8(pcln, b);
        for (uint32_t p : t.pcdata)
            append32(pcln, p);
        for (uint32_t d : f.funcdata)
            append32(pcln, d);
    }
    std::vector<uint8_t> tab(72, 0);
    const uint64_t funcname_off = tab.size(), cu_off = funcname_off + names.size(), filetab_off = cu_off + cutab.size(),
                   pctab_off = filetab_off + files.size(), pcln_off = pctab_off + pctab.size();
    put32(tab, 0, v118 ? 0xfffffff0u : 0xfffffff1u);
    tab[6] = 1;
    tab[7] = 8;
    put64(tab, 8, funcs.size());
    put64(tab, 16, 1);
    put64(tab, 24, opts.minor >= 26 ? 0 : text);
    put64(tab, 32, funcname_off);
    put64(tab, 40, cu_off);
    put64(tab, 48, filetab_off);
    put64(tab, 56, pctab_off);
    put64(tab, 64, pcln_off);
    for (const auto *part : {&names, &cutab, &files, &pctab, &pcln})
        tab.insert(tab.end(), part->begin(), part->end());

    std::vector<uint8_t> ro = gofunc;
    const uint64_t pclntab_seg_off = ro.size();
    ro.insert(ro.end(), tab.begin(), tab.end());
    pad_to(ro, 16);

    // Data: build info at the start (16-aligned magic), then moduledata.
    std::vector<uint8_t> dat;
    const std::string version = "go1." + std::to_string(opts.minor) + ".0";
    const std::string mod = std::string("0w\xaf\x0c\x92t\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6", 16) +
                            "path\tmain\nmod\tmain\t(devel)\t\n" +
                            std::string("\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2", 16);
    append(dat, "\xff Go buildinf:", 14);
    append8(dat, 8);                              // pointer size
    append8(dat, opts.pointer_buildinfo ? 0 : 2); // flags: 2 = inline strings
    if (opts.pointer_buildinfo) {
        // {version *string, modinfo *string}: two string headers at +32 and +48, their bytes after.
        append64(dat, data + 32);
        append64(dat, data + 48);
        append64(dat, data + 64);
        append64(dat, version.size());
        append64(dat, data + 64 + version.size());
        append64(dat, mod.size());
        append(dat, version.data(), version.size());
        append(dat, mod.data(), mod.size());
    } else {
        dat.resize(32, 0);
        append_uvarint(dat, version.size());
        append(dat, version.data(), version.size());
        append_uvarint(dat, mod.size());
        append(dat, mod.data(), mod.size());
    }
    const uint64_t buildinfo_size = dat.size();
    pad_to(dat, 64);
    const uint64_t md_off = dat.size();
    dat.resize(md_off + 400, 0);
    const uint64_t pclntab_addr = rodata + pclntab_seg_off;
    put64(dat, md_off + 0, pclntab_addr);
    put64(dat, md_off + 8, pclntab_addr + funcname_off);
    put64(dat, md_off + 16, names.size());
    put64(dat, md_off + 128, pclntab_addr + pcln_off);
    put64(dat, md_off + 136, funcs.size() + 1);
    put64(dat, md_off + 176, text);
    put64(dat, md_off + 184, text + etext_off);
    put64(dat, md_off + types_off, rodata);
    put64(dat, md_off + types_off + 8, rodata + ro.size());
    put64(dat, md_off + gofunc_off, rodata);

    std::vector<SynthSegment> segs{{PF_R | PF_X, text, code}, {PF_R, rodata, ro}, {PF_R | PF_W, data, dat}};
    std::vector<SynthSection> secs;
    if (opts.section_headers) {
        secs = {{".text", SHT_PROGBITS, 0, 0, code.size()},
                {".rodata", SHT_PROGBITS, 1, 0, pclntab_seg_off},
                {".gopclntab", SHT_PROGBITS, 1, pclntab_seg_off, tab.size()},
                {".go.buildinfo", SHT_PROGBITS, 2, 0, buildinfo_size},
                {".noptrdata", SHT_PROGBITS, 2, md_off, 400}};
        if (opts.minor >= 26)
            secs.back().name = ".go.module";
    }
    SynthGoBinary out;
    out.bytes = build_elf(segs, secs);
    out.text_vaddr = text;
    out.rodata_vaddr = rodata;
    out.data_vaddr = data;
    // build_elf lays segments out in order, each 16-aligned after the program headers.
    uint64_t off = sizeof(Elf64_Ehdr) + segs.size() * sizeof(Elf64_Phdr);
    std::vector<uint64_t> seg_off;
    for (const auto &s : segs) {
        off = (off + 15) & ~uint64_t{15};
        seg_off.push_back(off);
        off += s.bytes.size();
    }
    out.pclntab_file_off = seg_off[1] + pclntab_seg_off;
    out.pclntab_size = tab.size();
    out.opendefer_file_off = seg_off[1];
    out.buildinfo_file_off = seg_off[2];
    out.moduledata_file_off = seg_off[2] + md_off;
    for (size_t i = 0; i < segs.size(); ++i)
        out.phdr_file_offs.push_back(sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr));
    return out;
}

} // namespace deftrace::testing
