#include "binary/pclntab.h"

#include "binary/error.h"
#include "release/go_releases.h"

#include <algorithm>
#include <array>

namespace deftrace {

namespace {

// One row per pcHeader magic (runtime/symtab.go, internal/abi/symtab.go; go-runtime-1.15.md §6.2
// for 1.2–1.15). A format is read when a supported release writes it (release/go_releases.h).
using enum PclntabShape;
constexpr std::array kLayouts = {
    //             magic      versions        shape  name args defr pcsp pcfi pcln npcd cu start fid flag nfd size
    PclntabLayout{0xfffffff1, "Go 1.20+", Go118, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 41, 43, 44},
    PclntabLayout{0xfffffff0, "Go 1.18-1.19", Go118, 4, 8, 12, 16, 20, 24, 28, 32, -1, 36, 37, 39, 40},
    // _func opens with the entry uintptr; 1.16 has no flag byte (padding, read as 0).
    PclntabLayout{0xfffffffa, "Go 1.16-1.17", Go116, 8, 12, 16, 20, 24, 28, 32, 36, -1, 40, 41, 43, 44},
    // No cuOffset: pcfile values index the one file table. funcID, 2 bytes of padding, nfuncdata.
    PclntabLayout{0xfffffffb, "Go 1.2-1.15", Go12, 8, 12, 16, 20, 24, 28, 32, -1, -1, 36, 37, 39, 40},
};

} // namespace

const PclntabLayout *pclntab_layout(uint32_t magic) {
    for (const auto &l : kLayouts)
        if (l.magic == magic)
            return &l;
    return nullptr;
}

bool Pclntab::looks_like_header(Bytes table) {
    if (table.size() < 16)
        return false;
    ByteReader r(table, "pclntab");
    const auto *layout = pclntab_layout(r.u32(0));
    // pad1 = pad2 = 0, minLC = 1 (x86), ptrSize = 8.
    return layout != nullptr && r.u8(4) == 0 && r.u8(5) == 0 && r.u8(6) == 1 && r.u8(7) == 8;
}

Pclntab Pclntab::parse(Bytes table, LinkAddr table_addr, std::optional<LinkAddr> text_start) {
    ByteReader r(table, ".gopclntab");
    if (table.size() < 8)
        throw_truncated(".gopclntab: only " + std::to_string(table.size()) + " bytes");
    uint32_t magic = r.u32(0);
    const PclntabLayout *layout = pclntab_layout(magic);
    if (layout == nullptr)
        throw Error(ErrorKind::NotGo, "pclntab has unknown magic " + to_hex(magic));
    if (!looks_like_header(table))
        throw_corrupt(".gopclntab: header fields (pad, minLC, ptrSize) are not those of an x86-64 Go binary");
    const auto releases = go_releases();
    if (std::none_of(releases.begin(), releases.end(), [&](const GoRelease &g) { return g.pclntab_magic == magic; }))
        throw Error(ErrorKind::UnsupportedGo, "unsupported Go version (its pclntab format " + to_hex(magic) +
                                                  " is that of Go " + layout->go_versions + "); " +
                                                  supported_go_sentence());

    Pclntab p(table, table_addr, layout);
    p.read_header(r);
    p.text_start_ = text_start.value_or(p.header_text_start_);
    p.check_functab();
    return p;
}

void Pclntab::read_header(const ByteReader &r) {
    const uint64_t size = r.size();
    nfunc_ = r.u64(8);
    if (layout_->shape == PclntabShape::Go12) {
        // Everything is relative to the table's start: each "sub-table" is the whole table.
        const uint64_t functab_size = (nfunc_ * 2 + 1) * 8;
        if (nfunc_ == 0 || nfunc_ > size / 16 || !r.contains(16, functab_size + 4))
            throw_corrupt(".gopclntab: function count " + std::to_string(nfunc_) + " does not fit the table");
        funcnametab_ = filetab_ = pctab_ = pclntable_ = ByteReader(r.data(), ".gopclntab");
        functab_ = ByteReader(r.slice(16, functab_size), "functab");
        filetab_off_ = r.u32(16 + functab_size);
        file_index_ = ByteReader(r.tail(std::min<uint64_t>(filetab_off_, size)), "filetab");
        if (file_index_.size() < 4 || !file_index_.contains(0, uint64_t{file_index_.u32(0)} * 4))
            throw_truncated(".gopclntab: file table at " + to_hex(filetab_off_) + " runs past the table");
        pcln_off_ = 0;
        return;
    }
    // Go 1.18 inserted textStart after nfiles: the later fields move by one word.
    const bool has_text = layout_->shape == PclntabShape::Go118;
    const uint64_t o = has_text ? 32 : 24;
    header_text_start_ = has_text ? LinkAddr(r.u64(24)) : LinkAddr();
    funcname_off_ = r.u64(o);
    cu_off_ = r.u64(o + 8);
    filetab_off_ = r.u64(o + 16);
    pctab_off_ = r.u64(o + 24);
    pcln_off_ = r.u64(o + 32);
    const std::array<uint64_t, 6> bounds{o + 40, funcname_off_, cu_off_, filetab_off_, pctab_off_, pcln_off_};
    for (size_t i = 1; i < bounds.size(); ++i) {
        if (bounds[i] > size)
            throw_truncated(".gopclntab: sub-table offset " + to_hex(bounds[i]) + " is past the table's " +
                            std::to_string(size) + " bytes");
        if (bounds[i] < bounds[i - 1])
            throw_corrupt(".gopclntab: sub-table offsets are out of order");
    }
    funcnametab_ = ByteReader(r.slice(funcname_off_, cu_off_ - funcname_off_), "funcnametab");
    cutab_ = ByteReader(r.slice(cu_off_, filetab_off_ - cu_off_), "cutab");
    filetab_ = ByteReader(r.slice(filetab_off_, pctab_off_ - filetab_off_), "filetab");
    pctab_ = ByteReader(r.slice(pctab_off_, pcln_off_ - pctab_off_), "pctab");
    pclntable_ = ByteReader(r.tail(pcln_off_), "pclntable");
    // The function table opens pclntable: nfunc+1 pairs of u32 (1.18+) or uintptr (1.16–1.17).
    const uint64_t pair = wide() ? 16 : 8;
    if (nfunc_ == 0 || nfunc_ > pclntable_.size() / pair)
        throw_corrupt(".gopclntab: function count " + std::to_string(nfunc_) + " does not fit the table");
    if (!pclntable_.contains(0, (nfunc_ + 1) * pair))
        throw_truncated(".gopclntab: function table runs past the end of the table");
    functab_ = ByteReader(pclntable_.slice(0, (nfunc_ + 1) * pair), "functab");
}

// Entries sorted, every record inside the table.
void Pclntab::check_functab() const {
    uint64_t prev = 0;
    for (uint64_t i = 0; i <= nfunc_; ++i) {
        const uint64_t e = wide() ? functab_.u64(i * 16) : functab_.u32(i * 8);
        if (e < prev)
            throw_corrupt(".gopclntab: function table is not sorted at entry " + std::to_string(i));
        prev = e;
        if (i < nfunc_ && !pclntable_.contains(funcoff_at(i), layout_->fixed_size))
            throw_truncated(".gopclntab: _func record " + std::to_string(i) + " is outside the table");
    }
}

LinkAddr Pclntab::entry_at(size_t index) const {
    return wide() ? LinkAddr(functab_.u64(index * 16)) : text_start_ + functab_.u32(index * 8);
}

uint64_t Pclntab::funcoff_at(size_t index) const {
    return wide() ? functab_.u64(index * 16 + 8) : functab_.u32(index * 8 + 4);
}

FuncInfo Pclntab::func(size_t index) const {
    if (index >= nfunc_)
        throw_corrupt("function index " + std::to_string(index) + " out of range");
    const auto &L = *layout_;
    FuncInfo f;
    f.index = static_cast<uint32_t>(index);
    f.entry = entry_at(index);
    f.end = entry_at(index + 1);
    f.record_off = funcoff_at(index);
    const uint64_t o = f.record_off;
    f.name_off = pclntable_.u32(o + L.nameoff);
    f.args = pclntable_.i32(o + L.args);
    f.deferreturn = pclntable_.u32(o + L.deferreturn);
    f.pcsp = pclntable_.u32(o + L.pcsp);
    f.pcfile = pclntable_.u32(o + L.pcfile);
    f.pcln = pclntable_.u32(o + L.pcln);
    f.npcdata = pclntable_.u32(o + L.npcdata);
    f.cu_offset = L.cu_offset >= 0 ? pclntable_.u32(o + static_cast<uint32_t>(L.cu_offset)) : 0;
    f.start_line = L.start_line >= 0 ? pclntable_.i32(o + static_cast<uint32_t>(L.start_line)) : 0;
    f.funcid = pclntable_.u8(o + L.funcid);
    f.flag = pclntable_.u8(o + L.flag);
    f.nfuncdata = pclntable_.u8(o + L.nfuncdata);
    // The record is followed by npcdata + nfuncdata u32 slots, all inside the table.
    if (f.npcdata > 1024 || !pclntable_.contains(o + L.fixed_size, (uint64_t{f.npcdata} + f.nfuncdata) * 4))
        throw_corrupt("_func record " + std::to_string(index) + " has an implausible pcdata/funcdata count");
    return f;
}

std::string_view Pclntab::func_name(const FuncInfo &f) const {
    return funcnametab_.cstring(f.name_off);
}

std::string_view Pclntab::name_at(uint32_t off) const {
    return funcnametab_.cstring(off);
}

std::optional<FuncInfo> Pclntab::find_func(LinkAddr pc) const {
    if (pc < entry_at(0) || pc >= entry_at(nfunc_))
        return std::nullopt;
    // Largest i with entry(i) <= pc.
    size_t lo = 0, hi = nfunc_;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_at(mid) <= pc)
            lo = mid;
        else
            hi = mid;
    }
    return func(lo);
}

std::optional<size_t> Pclntab::find_by_name(std::string_view name) const {
    for (size_t i = 0; i < nfunc_; ++i) {
        uint32_t off = pclntable_.u32(funcoff_at(i) + layout_->nameoff);
        if (funcnametab_.cstring(off) == name)
            return i;
    }
    return std::nullopt;
}

PcValueTable Pclntab::pc_table(const FuncInfo &f, uint32_t table_off) const {
    std::vector<PcValueRun> runs;
    if (table_off == 0)
        return {f.entry, {}};
    // Encoding (runtime.pcvalue / step): pairs of (zigzag value delta, pc delta * minLC); a zero
    // value delta after the first pair ends the table. The value starts at -1.
    uint64_t off = table_off;
    int64_t value = -1;
    uint64_t pc = f.entry.value();
    bool first = true;
    for (;;) {
        uint64_t uv = pctab_.uvarint(&off);
        if (uv == 0 && !first)
            break;
        int64_t delta = (uv & 1) ? ~static_cast<int64_t>(uv >> 1) : static_cast<int64_t>(uv >> 1);
        uint64_t pcdelta = pctab_.uvarint(&off);
        first = false;
        // The value stays an int32; a larger step is corruption, and rejecting it before the
        // addition keeps a 10-byte varint from overflowing `value`.
        if (delta < -(int64_t{1} << 32) || delta > (int64_t{1} << 32))
            throw_corrupt("pc-value table at " + to_hex(table_off) + " of " + std::string(func_name(f)) +
                          " steps its value by " + std::to_string(delta));
        value += delta;
        pc += pcdelta;
        if (value < INT32_MIN || value > INT32_MAX || pc > f.end.value() + 1 || runs.size() > (1u << 22))
            throw_corrupt("pc-value table at " + to_hex(table_off) + " of " + std::string(func_name(f)) +
                          " runs past its function");
        runs.push_back({LinkAddr(pc), static_cast<int32_t>(value)});
    }
    return {f.entry, std::move(runs)};
}

std::optional<int32_t> PcValueTable::at(LinkAddr pc) const {
    if (pc < start_)
        return std::nullopt;
    auto it =
        std::upper_bound(runs_.begin(), runs_.end(), pc, [](LinkAddr a, const PcValueRun &r) { return a < r.end; });
    if (it == runs_.end())
        return std::nullopt;
    return it->value;
}

std::optional<uint32_t> Pclntab::pcdata_offset(const FuncInfo &f, uint32_t k) const {
    if (k >= f.npcdata)
        return std::nullopt;
    uint32_t v = pclntable_.u32(f.record_off + layout_->fixed_size + 4ull * k);
    return v == 0 ? std::nullopt : std::optional(v);
}

std::optional<LinkAddr> Pclntab::funcdata(const FuncInfo &f, uint32_t k, LinkAddr gofunc) const {
    if (k >= f.nfuncdata)
        return std::nullopt;
    uint64_t slots = f.record_off + layout_->fixed_size + 4ull * f.npcdata;
    if (layout_->shape == PclntabShape::Go118) {
        uint32_t v = pclntable_.u32(slots + 4ull * k);
        return v == 0xffffffffu ? std::nullopt : std::optional(gofunc + v);
    }
    // Pointer slots, aligned to 8 in memory (runtime.funcdata before 1.18).
    const uint64_t table_base = addr_.value() + pcln_off_;
    if ((table_base + slots) % 8 != 0)
        slots += 4;
    uint64_t v = pclntable_.u64(slots + 8ull * k);
    return v == 0 ? std::nullopt : std::optional(LinkAddr(v));
}

std::string_view Pclntab::file_name(const FuncInfo &f, int32_t file_index) const {
    if (file_index < 0)
        return {};
    if (layout_->shape == PclntabShape::Go12) {
        // One table for the program: [0] is the count, [i] the offset of file i's name.
        if (static_cast<uint64_t>(file_index) >= file_index_.u32(0))
            return {};
        return filetab_.cstring(file_index_.u32(4ull * static_cast<uint64_t>(file_index)));
    }
    uint32_t off = cutab_.u32((uint64_t{f.cu_offset} + static_cast<uint64_t>(file_index)) * 4);
    if (off == 0xffffffffu)
        return {};
    return filetab_.cstring(off);
}

std::optional<SourcePos> Pclntab::source_at(const FuncInfo &f, LinkAddr pc) const {
    auto file = pc_table(f, f.pcfile).at(pc);
    auto line = pc_table(f, f.pcln).at(pc);
    if (!file || !line)
        return std::nullopt;
    return SourcePos{file_name(f, *file), *line};
}

} // namespace deftrace
