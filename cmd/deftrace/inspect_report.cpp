#include "inspect_report.h"

#include <iomanip>
#include <map>

namespace deftrace {

namespace {

std::string hex32(uint32_t v) {
    return to_hex(v);
}

nlohmann::ordered_json site_json(const DeferSite &s) {
    nlohmann::ordered_json j;
    j["kind"] = to_string(s.kind);
    j["file"] = s.file;
    j["line"] = s.line;
    j["pc"] = s.pc.hex();
    if (s.kind == DeferKind::OpenCoded)
        j["bit"] = s.bit;
    else
        j["runtime_call"] = s.runtime_call;
    return j;
}

nlohmann::ordered_json open_coded_json(const OpenCodedFrame &f) {
    nlohmann::ordered_json j;
    j["defer_count"] = f.defer_count;
    j["frame_size"] = f.frame_size;
    j["deferbits_varp_offset"] = -static_cast<int64_t>(f.info.deferbits_offset);
    j["deferbits_sp_offset"] = f.deferbits_sp_offset;
    auto slots = nlohmann::ordered_json::array();
    for (size_t b = 0; b < f.slot_sp_offsets.size(); ++b) {
        auto off = f.info.closure_offset(static_cast<int>(b));
        nlohmann::ordered_json s;
        s["bit"] = b;
        s["varp_offset"] = off ? nlohmann::ordered_json(-*off) : nlohmann::ordered_json(nullptr);
        s["sp_offset"] =
            f.slot_sp_offsets[b] ? nlohmann::ordered_json(*f.slot_sp_offsets[b]) : nlohmann::ordered_json(nullptr);
        slots.push_back(s);
    }
    j["closure_slots"] = slots;
    auto exits = nlohmann::ordered_json::array();
    for (const auto &e : f.exits) {
        nlohmann::ordered_json x;
        x["bit"] = e.bit;
        x["clear_pc"] = e.clear_pc.hex();
        x["call_pc"] = e.call_pc.is_null() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.call_pc.hex());
        x["target"] = e.target ? nlohmann::ordered_json(e.target_name) : nlohmann::ordered_json("indirect");
        exits.push_back(x);
    }
    j["exits"] = exits;
    return j;
}

} // namespace

nlohmann::ordered_json inspect_json(const GoBinary &bin, const std::vector<FunctionDefers> &funcs,
                                    const LayoutReport &layout) {
    nlohmann::ordered_json j;
    j["schema"] = "deftrace.inspect/1";
    j["binary"] = bin.path();
    j["go_version"] = bin.version().text;
    j["go_version_source"] = bin.version_source();
    j["go_version_structure"] = "go" + bin.fingerprint().range();
    j["pclntab_magic"] = hex32(bin.pclntab().magic());
    j["pclntab_address"] = bin.pclntab().address().hex();
    j["pclntab_source"] = bin.pclntab_source();
    if (!layout.source.empty())
        j["runtime_layout"] = {{"source", layout.source}, {"detail", layout.detail}};
    j["moduledata_address"] = bin.moduledata().address.hex();
    j["text_start"] = bin.pclntab().text_start().hex();
    j["stripped"] = bin.stripped();
    j["dwarf"] = bin.has_dwarf();
    j["pie"] = bin.pie();
    j["function_count"] = bin.pclntab().num_funcs();
    nlohmann::ordered_json rt = nlohmann::ordered_json::object();
    for (const auto &[name, f] : bin.runtime().found())
        rt[std::string(name)] = f.entry.hex();
    j["runtime"] = rt;
    j["warnings"] = bin.warnings();

    auto arr = nlohmann::ordered_json::array();
    size_t counts[3] = {0, 0, 0};
    for (const auto &f : funcs) {
        nlohmann::ordered_json fj;
        fj["name"] = f.name;
        fj["entry"] = f.entry.hex();
        fj["end"] = f.end.hex();
        fj["file"] = f.file;
        fj["line"] = f.line;
        fj["deferreturn"] =
            f.deferreturn_call ? nlohmann::ordered_json(f.deferreturn_call->hex()) : nlohmann::ordered_json(nullptr);
        auto defers = nlohmann::ordered_json::array();
        for (const auto &s : f.sites) {
            defers.push_back(site_json(s));
            ++counts[static_cast<int>(s.kind)];
        }
        fj["defers"] = defers;
        if (f.open_coded)
            fj["open_coded"] = open_coded_json(*f.open_coded);
        if (!f.notes.empty())
            fj["notes"] = f.notes;
        arr.push_back(fj);
    }
    j["summary"] = {{"functions", funcs.size()},
                    {"open-coded", counts[static_cast<int>(DeferKind::OpenCoded)]},
                    {"stack", counts[static_cast<int>(DeferKind::Stack)]},
                    {"heap", counts[static_cast<int>(DeferKind::Heap)]}};
    j["functions"] = arr;
    return j;
}

std::string inspect_json_text(const GoBinary &bin, const std::vector<FunctionDefers> &funcs,
                              const LayoutReport &layout) {
    return inspect_json(bin, funcs, layout).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void inspect_text(std::ostream &os, const GoBinary &bin, const std::vector<FunctionDefers> &funcs,
                  const LayoutReport &layout) {
    const auto &tab = bin.pclntab();
    os << "binary       " << bin.path() << "\n";
    os << "go version   " << bin.version().text << " (from " << bin.version_source() << "; structure says Go "
       << bin.fingerprint().range() << ")\n";
    os << "pclntab      magic " << to_hex(tab.magic()) << " at " << tab.address().hex() << " (" << bin.pclntab_source()
       << "), " << tab.num_funcs() << " functions, text " << tab.text_start().hex() << "\n";
    os << "moduledata   " << bin.moduledata().address.hex() << (bin.moduledata().from_symbol ? " (symbol)" : " (scan)")
       << "\n";
    os << "stripped     " << (bin.stripped() ? "yes" : "no") << " (DWARF " << (bin.has_dwarf() ? "present" : "absent")
       << ")\n";
    os << "pie          " << (bin.pie() ? "yes" : "no") << "\n";
    if (layout.source == "dwarf")
        os << "layout       from the DWARF\n";
    else if (layout.source == "table")
        os << "layout       table " << layout.detail << "\n";
    else if (layout.source == "inferred")
        os << "layout       inferred from the runtime's code (no table for Go " << bin.version().minor_string()
           << ")\n";
    else if (layout.source == "none")
        os << "layout       none, the binary cannot be traced: " << layout.detail << "\n";
    for (const auto &w : bin.warnings())
        os << "warning      " << w << "\n";
    os << "runtime functions\n";
    for (const auto &[name, f] : bin.runtime().found())
        os << "  " << std::left << std::setw(40) << name << " " << f.entry.hex() << "\n";

    size_t counts[3] = {0, 0, 0};
    for (const auto &f : funcs)
        for (const auto &s : f.sites)
            ++counts[static_cast<int>(s.kind)];
    os << "defer sites  " << funcs.size() << " functions; " << counts[0] << " open-coded, " << counts[1] << " stack, "
       << counts[2] << " heap\n";
    for (const auto &f : funcs) {
        os << "\n" << f.name << "  " << f.entry.hex() << "  " << f.file << ":" << f.line << "\n";
        for (const auto &s : f.sites) {
            os << "  " << std::left << std::setw(11) << to_string(s.kind) << " " << s.file << ":" << s.line << "  pc "
               << s.pc.hex();
            if (s.kind == DeferKind::OpenCoded)
                os << "  bit " << s.bit;
            else
                os << "  " << s.runtime_call;
            os << "\n";
        }
        if (f.open_coded) {
            const auto &oc = *f.open_coded;
            os << "  frame: deferBits at sp+" << to_hex(static_cast<uint64_t>(oc.deferbits_sp_offset)) << " (varp-"
               << oc.info.deferbits_offset << "), " << oc.defer_count << " slot(s):";
            for (size_t b = 0; b < oc.slot_sp_offsets.size(); ++b) {
                if (oc.slot_sp_offsets[b])
                    os << " sp+" << to_hex(static_cast<uint64_t>(*oc.slot_sp_offsets[b]));
                else
                    os << " ?";
            }
            os << "\n  exits: " << oc.exits.size() << " inline call(s)";
            if (f.deferreturn_call)
                os << "; out-of-line deferreturn at " << f.deferreturn_call->hex();
            os << "\n";
        } else if (f.deferreturn_call) {
            os << "  deferreturn call at " << f.deferreturn_call->hex() << "\n";
        }
        for (const auto &n : f.notes)
            os << "  note: " << n << "\n";
    }
}

} // namespace deftrace
