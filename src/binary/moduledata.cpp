#include "binary/moduledata.h"

#include "binary/error.h"

#include <cstring>
#include <elf.h>

namespace deftrace {

namespace {

constexpr uint64_t kReadSize = 400; // covers every field deftrace reads, all versions

// The slices that tie a candidate to this pclntab. 1.16+: pcHeader at +0, funcnametab at +8 and
// ftab {ptr, len} at +128; ≤1.15: pclntable {ptr, len} at +0 and ftab at +24, right after the
// 16-byte header.
bool consistent(const ByteReader &r, const Pclntab &tab, const GoRelease &facts) {
    const uint64_t base = tab.address().value();
    const uint32_t text = facts.moduledata_text;
    if (r.u64(text) > r.u64(text + 8))
        return false;
    if (tab.layout().shape == PclntabShape::Go12)
        return r.u64(0) == base && r.u64(8) == tab.size() && r.u64(24) == base + 16 && r.u64(32) == tab.num_funcs() + 1;
    return r.u64(0) == base && r.u64(8) == base + tab.funcname_offset() && r.u64(128) == base + tab.pcln_offset() &&
           r.u64(136) == tab.num_funcs() + 1;
}

ModuleData decode(const ByteReader &r, LinkAddr at, const GoRelease &facts) {
    ModuleData m;
    m.address = at;
    m.text = LinkAddr(r.u64(facts.moduledata_text));
    m.etext = LinkAddr(r.u64(facts.moduledata_text + 8));
    if (facts.moduledata_gofunc != 0)
        m.gofunc = LinkAddr(r.u64(facts.moduledata_gofunc));
    m.types = LinkAddr(r.u64(facts.moduledata_types));
    m.etypes = LinkAddr(r.u64(facts.moduledata_types + 8));
    return m;
}

} // namespace

ModuleData locate_moduledata(const ElfFile &elf, const Pclntab &tab, const GoRelease &facts) {
    if (auto sym = elf.symbol("runtime.firstmoduledata")) {
        if (auto b = elf.bytes_at(sym->value, kReadSize)) {
            ByteReader r(*b, "runtime.firstmoduledata");
            if (consistent(r, tab, facts)) {
                auto m = decode(r, sym->value, facts);
                m.from_symbol = true;
                return m;
            }
        }
    }
    // Scan every file-backed, non-executable PT_LOAD (it is in .noptrdata up to 1.25 and in the
    // .go.module section from 1.26) for the first word, 8-aligned.
    const uint64_t want = tab.address().value();
    for (const auto &seg : elf.segments()) {
        if (seg.type != PT_LOAD || (seg.flags & PF_X) || seg.filesz < kReadSize)
            continue;
        Bytes bytes = elf.image().subspan(seg.offset, seg.filesz);
        for (uint64_t off = 0; off + kReadSize <= bytes.size(); off += 8) {
            uint64_t word;
            std::memcpy(&word, bytes.data() + off, 8);
            if (word != want)
                continue;
            ByteReader r(bytes.subspan(off, kReadSize), "moduledata");
            if (consistent(r, tab, facts))
                return decode(r, seg.vaddr + off, facts);
        }
    }
    throw_corrupt("runtime.moduledata not found: no data word points at the pclntab at " + tab.address().hex());
}

} // namespace deftrace
