#include "binary/struct_layouts.h"

#include "binary/error.h"
#include "binary/unique_fd.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <libelf.h>
#include <memory>
#include <tuple>
#include <unistd.h>
#include <utility>

namespace deftrace {

namespace {

// Which structures to extract and how. `fields` empty means every member; otherwise only those
// named (runtime.g and runtime.m have ~60 members each, most irrelevant to a tracer). `expand`
// names members whose own members are listed too, as "member.sub".
struct Wanted {
    std::string_view name;
    std::vector<std::string_view> fields;
    std::vector<std::string_view> expand;
};

const std::vector<Wanted> &wanted() {
    static const std::vector<Wanted> table = {
        {"runtime.g",
         {"stack",     "stackguard0", "stackguard1", "_panic", "_defer",       "m",         "sched",      "syscallsp",
          "syscallpc", "syscallbp",   "stktopsp",    "param",  "atomicstatus", "goid",      "waitreason", "sig",
          "sigcode0",  "sigcode1",    "sigpc",       "gopc",   "startpc",      "parentGoid"},
         {"stack", "sched"}},
        {"runtime.m", {"g0", "procid", "gsignal", "tls", "id", "curg"}, {}},
        {"runtime.gobuf", {}, {}},
        {"runtime._defer", {}, {}},
        // arg is an eface; its _type/data offsets save the tracer a second lookup.
        {"runtime._panic", {}, {"arg"}},
        {"runtime.savedOpenDeferState", {}, {}},
        {"runtime.funcval", {}, {}},
        {"runtime.moduledata", {}, {}},
        // Type descriptors, for printing panic values. Go 1.21 moved _type and uncommontype, and
        // Go 1.23 itab, into internal/abi; whichever names a release has are kept.
        {"runtime._type", {}, {}},
        {"internal/abi.Type", {}, {}},
        {"runtime.uncommontype", {}, {}},
        {"internal/abi.UncommonType", {}, {}},
        {"runtime.itab", {}, {}},
        {"internal/abi.ITab", {}, {}},
        {"runtime.iface", {}, {}},
        {"runtime.eface", {}, {}},
        {"runtime.stringStruct", {}, {}},
        {"runtime.boundsError", {}, {}},
    };
    return table;
}

const Wanted *wanted_entry(std::string_view name) {
    for (const auto &w : wanted())
        if (w.name == name)
            return &w;
    return nullptr;
}

bool contains(const std::vector<std::string_view> &v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

struct DwarfEnd {
    void operator()(Dwarf *d) const { dwarf_end(d); }
};
using DwarfHandle = std::unique_ptr<Dwarf, DwarfEnd>;

std::string libdw_message() {
    const char *m = dwarf_errmsg(-1);
    return m != nullptr ? m : "unknown libdw error";
}

std::optional<Dwarf_Die> type_of(Dwarf_Die *die) {
    Dwarf_Attribute attr;
    Dwarf_Die t;
    if (dwarf_attr_integrate(die, DW_AT_type, &attr) == nullptr || dwarf_formref_die(&attr, &t) == nullptr)
        return std::nullopt;
    return t;
}

// Go names every type through a typedef of the same name; the layout is on what it points to.
std::optional<Dwarf_Die> strip_typedefs(std::optional<Dwarf_Die> t) {
    for (int hops = 0; t && hops < 16; ++hops) {
        int tag = dwarf_tag(&*t);
        if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type)
            return t;
        t = type_of(&*t);
    }
    return std::nullopt;
}

uint64_t byte_size(std::optional<Dwarf_Die> t) {
    t = strip_typedefs(t);
    if (!t)
        return 0;
    Dwarf_Word size = 0;
    // Go emits DW_AT_byte_size on everything except pointer types, which carry the CU's
    // address size instead; dwarf_aggregate_size covers both and arrays without a byte size.
    if (dwarf_aggregate_size(&*t, &size) == 0)
        return size;
    if (dwarf_tag(&*t) == DW_TAG_pointer_type) {
        Dwarf_Die cu;
        uint8_t address_size = 0, offset_size = 0;
        if (dwarf_diecu(&*t, &cu, &address_size, &offset_size) != nullptr)
            return address_size;
    }
    return 0;
}

// DW_AT_data_member_location: a constant in every Go release seen, but DWARF also allows the
// location-expression form {DW_OP_plus_uconst N}, which older producers used.
std::optional<uint64_t> member_offset(Dwarf_Die *member) {
    Dwarf_Attribute attr;
    if (dwarf_attr(member, DW_AT_data_member_location, &attr) == nullptr)
        return std::nullopt;
    Dwarf_Word value = 0;
    if (dwarf_formudata(&attr, &value) == 0)
        return value;
    Dwarf_Op *ops = nullptr;
    size_t nops = 0;
    if (dwarf_getlocation(&attr, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_plus_uconst)
        return ops[0].number;
    return std::nullopt;
}

// Appends the members of `st` (a structure DIE) at `base`, with `prefix` before their names.
// Blank members ("_", padding) are skipped: they cannot be asked for and may repeat.
void add_members(Dwarf_Die *st, const std::string &prefix, uint64_t base, const Wanted *filter, StructLayout &out) {
    Dwarf_Die child;
    if (dwarf_child(st, &child) != 0)
        return;
    do {
        if (dwarf_tag(&child) != DW_TAG_member)
            continue;
        const char *raw_name = dwarf_diename(&child);
        auto off = member_offset(&child);
        if (raw_name == nullptr || !off || std::string_view(raw_name) == "_")
            continue;
        std::string_view name(raw_name);
        if (filter != nullptr && !filter->fields.empty() && !contains(filter->fields, name))
            continue;
        auto type = type_of(&child);
        out.fields.push_back({prefix + raw_name, base + *off, byte_size(type)});
        if (filter != nullptr && contains(filter->expand, name)) {
            auto t = strip_typedefs(type);
            if (t && dwarf_tag(&*t) == DW_TAG_structure_type)
                add_members(&*t, prefix + raw_name + ".", base + *off, nullptr, out);
        }
    } while (dwarf_siblingof(&child, &child) == 0);
}

// "Go cmd/compile go1.22.12; regabi" -> "go1.22.12".
std::string version_from_producer(std::string_view producer) {
    auto at = producer.find(" go1");
    if (at == std::string_view::npos)
        return {};
    auto rest = producer.substr(at + 1);
    return std::string(rest.substr(0, rest.find_first_of("; ")));
}

std::optional<uint64_t> unsigned_member(const nlohmann::json &j, const char *key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned())
        return std::nullopt;
    return it->get<uint64_t>();
}

// Offset order; a parent (fewer dots) before the members nested at the same offset; then name,
// so that tables read back from JSON (whose objects come sorted by key) print identically.
void sort_fields(std::vector<FieldLayout> &fields) {
    auto key = [](const FieldLayout &f) {
        return std::make_tuple(f.offset, std::count(f.name.begin(), f.name.end(), '.'), std::string_view(f.name));
    };
    std::sort(fields.begin(), fields.end(),
              [&](const FieldLayout &a, const FieldLayout &b) { return key(a) < key(b); });
}

} // namespace

const FieldLayout *StructLayout::field(std::string_view name) const {
    for (const auto &f : fields)
        if (f.name == name)
            return &f;
    return nullptr;
}

std::optional<StructLayouts> StructLayouts::from_dwarf(const ElfFile &elf) {
    if (!elf.has_debug_info())
        return std::nullopt;
    // A descriptor of our own, so libdw's Elf handle (and the sections it decompresses in
    // memory) is independent of the ElfFile's.
    UniqueFd fd(::open(elf.path().c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        throw Error(ErrorKind::Io, elf.path() + ": " + std::strerror(errno));
    elf_version(EV_CURRENT);
    DwarfHandle dw(dwarf_begin(fd.get(), DWARF_C_READ));
    // has_debug_info() saw .debug_info, so a failure here is damaged DWARF, not absent DWARF.
    if (!dw)
        throw Error(ErrorKind::Corrupt, elf.path() + ": unreadable DWARF: " + libdw_message());

    StructLayouts out;
    out.source_ = "dwarf";
    Dwarf_CU *unit = nullptr;
    Dwarf_Die cu;
    int rc = 0;
    // Go's linker emits type DIEs as direct children of a compile unit, so only the top level
    // of each unit is walked. dwarf_get_units reads DWARF 4 and 5 unit headers alike.
    while ((rc = dwarf_get_units(dw.get(), unit, &unit, nullptr, nullptr, &cu, nullptr)) == 0) {
        // Every unit's producer names the compiler: "Go cmd/compile go1.22.12; regabi".
        Dwarf_Attribute producer;
        if (out.go_version_.empty() && dwarf_attr(&cu, DW_AT_producer, &producer) != nullptr)
            if (const char *text = dwarf_formstring(&producer))
                out.go_version_ = version_from_producer(text);
        Dwarf_Die die;
        if (dwarf_child(&cu, &die) == 0) {
            do {
                if (dwarf_tag(&die) != DW_TAG_structure_type)
                    continue;
                const char *name = dwarf_diename(&die);
                const Wanted *w = name != nullptr ? wanted_entry(name) : nullptr;
                // The linker deduplicates types; should a name repeat, the first one wins.
                if (w == nullptr || out.structs_.contains(std::string_view(name)))
                    continue;
                StructLayout s;
                s.size = byte_size(die);
                add_members(&die, "", 0, w, s);
                sort_fields(s.fields);
                out.structs_.emplace(name, std::move(s));
            } while (dwarf_siblingof(&die, &die) == 0);
        }
    }
    if (rc < 0)
        throw Error(ErrorKind::Corrupt, elf.path() + ": unreadable DWARF unit header: " + libdw_message());
    return out;
}

std::optional<StructLayouts> StructLayouts::from_table(const nlohmann::json &j) {
    if (!j.is_object())
        return std::nullopt;
    auto structs = j.find("structs");
    if (structs == j.end() || !structs->is_object())
        return std::nullopt;
    StructLayouts out;
    out.source_ = "table";
    if (auto v = j.find("go_version"); v != j.end()) {
        if (!v->is_string())
            return std::nullopt;
        out.go_version_ = v->get<std::string>();
    }
    for (const auto &[name, sj] : structs->items()) {
        if (!sj.is_object())
            return std::nullopt;
        auto size = unsigned_member(sj, "size");
        auto fields = sj.find("fields");
        if (!size || fields == sj.end() || !fields->is_object())
            return std::nullopt;
        StructLayout s;
        s.size = *size;
        for (const auto &[fname, fj] : fields->items()) {
            if (!fj.is_object())
                return std::nullopt;
            auto foff = unsigned_member(fj, "offset");
            auto fsize = unsigned_member(fj, "size");
            if (!foff || !fsize)
                return std::nullopt;
            s.fields.push_back({fname, *foff, *fsize});
        }
        sort_fields(s.fields);
        out.structs_.emplace(name, std::move(s));
    }
    return out;
}

nlohmann::ordered_json StructLayouts::to_json() const {
    nlohmann::ordered_json j;
    j["go_version"] = go_version_;
    j["source"] = source_;
    auto structs = nlohmann::ordered_json::object();
    for (const auto &[name, s] : structs_) {
        auto fields = nlohmann::ordered_json::object();
        for (const auto &f : s.fields)
            fields[f.name] = {{"offset", f.offset}, {"size", f.size}};
        structs[name] = {{"size", s.size}, {"fields", std::move(fields)}};
    }
    j["structs"] = std::move(structs);
    return j;
}

void StructLayouts::add(std::string name, StructLayout layout) {
    sort_fields(layout.fields);
    structs_.insert_or_assign(std::move(name), std::move(layout));
}

const StructLayout *StructLayouts::find(std::string_view structure) const {
    auto it = structs_.find(structure);
    return it == structs_.end() ? nullptr : &it->second;
}

std::optional<uint64_t> StructLayouts::size_of(std::string_view structure) const {
    const auto *s = find(structure);
    return s != nullptr ? std::optional<uint64_t>(s->size) : std::nullopt;
}

std::optional<uint64_t> StructLayouts::offset(std::string_view structure, std::string_view field) const {
    const auto *s = find(structure);
    if (s == nullptr)
        return std::nullopt;
    const auto *f = s->field(field);
    return f != nullptr ? std::optional<uint64_t>(f->offset) : std::nullopt;
}

uint64_t StructLayouts::require(std::string_view structure, std::string_view field) const {
    if (auto v = offset(structure, field))
        return *v;
    const std::string where = "the " + (go_version_.empty() ? std::string("Go") : go_version_) + " runtime layout" +
                              (source_.empty() ? "" : " (from " + source_ + ")");
    const std::string what =
        find(structure) == nullptr
            ? "has no structure " + std::string(structure) + " (needed for field " + std::string(field) + ")"
            : "has no field " + std::string(structure) + "." + std::string(field);
    throw Error(ErrorKind::UnsupportedGo, where + " " + what + "; deftrace does not support this Go runtime");
}

} // namespace deftrace
