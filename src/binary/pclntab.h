// The Go pc-line table (runtime.pcHeader and what follows it): function table, names, files,
// lines and the pc-value tables (pcsp, pcfile, pcln, pcdata), and each function's funcdata
// offsets. Formats are data (PclntabLayout), one entry per header magic; see go-runtime.md §5.
#pragma once

#include "binary/address.h"
#include "binary/byte_reader.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deftrace {

// How a generation lays out the table around its `_func` records (go-runtime.md §5,
// go-runtime-1.15.md §6).
enum class PclntabShape {
    // Go 1.2–1.15: {magic, pad, minLC, ptrSize, nfunc} then the function table inline: nfunc pairs
    // {entry uintptr, funcoff uintptr} and the end pc, then a u32 offset of the file table. Every
    // offset (names, pc-value tables, files, records) is from the table's start; a pcfile value
    // indexes the one file table.
    Go12,
    // Go 1.16–1.17: a header of sub-table offsets (no textStart); function table at pclnOffset of
    // {entry uintptr, funcoff uintptr} pairs, funcoff from pclnOffset; files per compilation unit.
    Go116,
    // Go 1.18+: the header gains textStart; the function table holds {entryoff u32, funcoff u32}
    // with entries relative to the text start; funcdata are u32 offsets from moduledata.gofunc.
    Go118,
};

// Field offsets of one `_func` generation and how its function table is encoded.
struct PclntabLayout {
    uint32_t magic;
    const char *go_versions; // the releases that write this magic, for messages
    PclntabShape shape;
    // _func fields (offsets inside the record)
    uint32_t nameoff, args, deferreturn, pcsp, pcfile, pcln, npcdata;
    int32_t cu_offset;  // -1: the field does not exist (files are global)
    int32_t start_line; // -1: the field does not exist
    uint32_t funcid, flag, nfuncdata, fixed_size;
};

// Looks up the layout for a header magic; nullptr for an unknown magic.
const PclntabLayout *pclntab_layout(uint32_t magic);

// The PCDATA index of the inline tree (stable 1.12–1.27). The FUNCDATA indices moved in 1.16
// (GoRelease::funcdata_inltree, funcdata_opendefer).
inline constexpr uint32_t kPcdataInlTreeIndex = 2;

// One decoded `_func` record.
struct FuncInfo {
    uint32_t index = 0;
    LinkAddr entry;
    LinkAddr end; // entry of the next function (or etext)
    uint32_t name_off = 0;
    int32_t args = 0;
    uint32_t deferreturn = 0; // offset from entry of the out-of-line CALL runtime.deferreturn; 0 = none
    uint32_t pcsp = 0, pcfile = 0, pcln = 0;
    uint32_t npcdata = 0;
    uint32_t cu_offset = 0;
    int32_t start_line = 0;
    uint8_t funcid = 0, flag = 0, nfuncdata = 0;
    uint64_t record_off = 0; // offset of the record inside pclntable
};

// A pc-value table decoded into runs: value `value` applies to [previous end, end).
struct PcValueRun {
    LinkAddr end;
    int32_t value;
};

class PcValueTable {
public:
    PcValueTable() = default;
    PcValueTable(LinkAddr start, std::vector<PcValueRun> runs) : start_(start), runs_(std::move(runs)) {}
    [[nodiscard]] std::optional<int32_t> at(LinkAddr pc) const;
    [[nodiscard]] const std::vector<PcValueRun> &runs() const { return runs_; }
    [[nodiscard]] LinkAddr start() const { return start_; }

private:
    LinkAddr start_;
    std::vector<PcValueRun> runs_;
};

struct SourcePos {
    std::string_view file;
    int32_t line = 0;
};

class Pclntab {
public:
    // Parses and sanity-checks the header at the start of `table` (mapped at `table_addr`).
    // `text_start` overrides the header's textStart (needed from Go 1.26, which writes 0).
    // Throws Error(NotGo) for a bad magic, Truncated/Corrupt for inconsistent offsets,
    // UnsupportedGo for a magic of a format deftrace cannot read yet.
    static Pclntab parse(Bytes table, LinkAddr table_addr, std::optional<LinkAddr> text_start = std::nullopt);

    // True when `table` starts with something that passes the header's structural checks.
    static bool looks_like_header(Bytes table);

    [[nodiscard]] uint32_t magic() const { return layout_->magic; }
    [[nodiscard]] const PclntabLayout &layout() const { return *layout_; }
    [[nodiscard]] LinkAddr address() const { return addr_; }
    [[nodiscard]] LinkAddr header_text_start() const { return header_text_start_; }
    [[nodiscard]] LinkAddr text_start() const { return text_start_; }
    [[nodiscard]] uint64_t funcname_offset() const { return funcname_off_; }
    [[nodiscard]] uint64_t pcln_offset() const { return pcln_off_; }
    [[nodiscard]] uint64_t size() const { return table_.size(); }
    [[nodiscard]] Bytes bytes() const { return table_.data(); }

    [[nodiscard]] size_t num_funcs() const { return nfunc_; }
    [[nodiscard]] FuncInfo func(size_t index) const;
    [[nodiscard]] std::string_view func_name(const FuncInfo &f) const;
    // A name in the function-name table by offset (inline trees refer to names this way).
    [[nodiscard]] std::string_view name_at(uint32_t off) const;
    // The function containing `pc`, by binary search of the function table.
    [[nodiscard]] std::optional<FuncInfo> find_func(LinkAddr pc) const;
    // Index of the first function with exactly this name (linear; callers cache).
    [[nodiscard]] std::optional<size_t> find_by_name(std::string_view name) const;

    [[nodiscard]] PcValueTable pc_table(const FuncInfo &f, uint32_t table_off) const;
    [[nodiscard]] PcValueTable pcsp(const FuncInfo &f) const { return pc_table(f, f.pcsp); }
    [[nodiscard]] std::optional<uint32_t> pcdata_offset(const FuncInfo &f, uint32_t k) const;
    // Where funcdata slot k points, nullopt when absent. From Go 1.18 a slot is a u32 offset from
    // moduledata.gofunc (0xffffffff: absent); before, an absolute pointer (0: absent), `gofunc`
    // unused.
    [[nodiscard]] std::optional<LinkAddr> funcdata(const FuncInfo &f, uint32_t k, LinkAddr gofunc) const;

    [[nodiscard]] std::string_view file_name(const FuncInfo &f, int32_t file_index) const;
    [[nodiscard]] std::optional<SourcePos> source_at(const FuncInfo &f, LinkAddr pc) const;

private:
    Pclntab(Bytes table, LinkAddr addr, const PclntabLayout *layout)
        : table_(table, ".gopclntab"), addr_(addr), layout_(layout), funcnametab_({}, "funcnametab"),
          cutab_({}, "cutab"), filetab_({}, "filetab"), pctab_({}, "pctab"), pclntable_({}, "pclntable") {}
    void read_header(const ByteReader &r);
    void check_functab() const;
    [[nodiscard]] LinkAddr entry_at(size_t index) const;
    [[nodiscard]] uint64_t funcoff_at(size_t index) const;
    [[nodiscard]] bool wide() const { return layout_->shape != PclntabShape::Go118; }

    ByteReader table_;
    LinkAddr addr_;
    const PclntabLayout *layout_;
    LinkAddr header_text_start_, text_start_;
    uint64_t nfunc_ = 0;
    uint64_t funcname_off_ = 0, cu_off_ = 0, filetab_off_ = 0, pctab_off_ = 0, pcln_off_ = 0;
    // functab_: the function table; pclntable_: what funcoffs are relative to. Go12: file_index_
    // is the u32 array of file name offsets (its [0] is the count).
    ByteReader funcnametab_, cutab_, filetab_, pctab_, pclntable_, functab_{{}, "functab"}, file_index_{{}, "filetab"};
};

} // namespace deftrace
