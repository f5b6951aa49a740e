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

// Field offsets of one `_func` generation and how its function table is encoded.
struct PclntabLayout {
    uint32_t magic;
    const char *go_versions; // the releases that write this magic, for messages
    // _func fields (offsets inside the record)
    uint32_t nameoff, args, deferreturn, pcsp, pcfile, pcln, npcdata, cu_offset;
    int32_t start_line; // -1: the field does not exist
    uint32_t funcid, flag, nfuncdata, fixed_size;
};

// Looks up the layout for a header magic; nullptr for an unknown magic.
const PclntabLayout *pclntab_layout(uint32_t magic);

// FUNCDATA and PCDATA indices deftrace reads (stable 1.17–1.27, go-runtime.md §4.1).
inline constexpr uint32_t kFuncdataOpenCodedDeferInfo = 4;
inline constexpr uint32_t kFuncdataInlTree = 3;
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
    // funcdata slot k: an offset from moduledata.gofunc, nullopt when absent (0xffffffff).
    [[nodiscard]] std::optional<uint32_t> funcdata_offset(const FuncInfo &f, uint32_t k) const;

    [[nodiscard]] std::string_view file_name(const FuncInfo &f, int32_t file_index) const;
    [[nodiscard]] std::optional<SourcePos> source_at(const FuncInfo &f, LinkAddr pc) const;

private:
    Pclntab(Bytes table, LinkAddr addr, const PclntabLayout *layout)
        : table_(table, ".gopclntab"), addr_(addr), layout_(layout), funcnametab_({}, "funcnametab"),
          cutab_({}, "cutab"), filetab_({}, "filetab"), pctab_({}, "pctab"), pclntable_({}, "pclntable") {}
    [[nodiscard]] LinkAddr entry_at(size_t index) const;

    ByteReader table_;
    LinkAddr addr_;
    const PclntabLayout *layout_;
    LinkAddr header_text_start_, text_start_;
    uint64_t nfunc_ = 0;
    uint64_t funcname_off_ = 0, cu_off_ = 0, filetab_off_ = 0, pctab_off_ = 0, pcln_off_ = 0;
    ByteReader funcnametab_, cutab_, filetab_, pctab_, pclntable_;
};

} // namespace deftrace
