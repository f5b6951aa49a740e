#include "binary/go_binary.h"

#include "binary/error.h"

#include <algorithm>
#include <elf.h>

namespace deftrace {

namespace {

// Bytes from `addr` to the end of its section/segment: a bound for tables whose size is not
// stored (the pclntab found by scanning).
std::optional<Bytes> region_from(const ElfFile &elf, LinkAddr addr) {
    for (const auto &s : elf.sections())
        if (s.has_file_bytes() && s.size > 0 && addr >= s.addr && addr - s.addr < s.size)
            return elf.section_bytes(s).subspan(addr - s.addr);
    return elf.bytes_from(addr);
}

} // namespace

GoBinary GoBinary::open(const std::string &path) {
    return load(ElfFile::open(path));
}

GoBinary GoBinary::from_bytes(Bytes image, const std::string &name) {
    return load(ElfFile::from_bytes(image, name));
}

GoBinary GoBinary::load(ElfFile elf) {
    GoBinary b(std::move(elf));
    const std::string path = b.path();
    b.buildinfo_ = read_buildinfo(b.elf_);
    // A release outside the registry is refused by its version before any of its tables is read:
    // their formats may be ones deftrace has no reader for.
    if (b.buildinfo_)
        if (auto v = GoVersion::parse(b.buildinfo_->go_version); v && v->major == 1 && !go_release(1, v->minor))
            throw Error(ErrorKind::UnsupportedGo, path + ": " + unsupported_go_message(v->text));
    try {
        b.locate_pclntab();
    } catch (const Error &e) {
        std::string v = b.buildinfo_ ? b.buildinfo_->go_version + ": " : "";
        throw Error(e.kind(), path + ": " + v + e.what());
    }
    b.runtime_ = RuntimeFunctions::resolve(*b.pclntab_);
    if (!b.runtime_.has("runtime.gopanic"))
        throw Error(ErrorKind::NotGo, path + ": has a Go pclntab but no runtime.gopanic; not a Go program");
    b.fingerprint_ = deftrace::fingerprint(b.elf_, *b.pclntab_, b.runtime_);
    b.determine_version();

    try {
        b.moduledata_ = locate_moduledata(b.elf_, *b.pclntab_, *b.facts_);
    } catch (const Error &e) {
        throw Error(e.kind(), path + ": " + e.what());
    }
    // Go 1.26+ writes 0 as the header's textStart; function entries are then relative to
    // moduledata.text. Earlier releases must agree with it.
    const LinkAddr text = b.moduledata_.text;
    if (b.pclntab_->header_text_start().is_null()) {
        b.pclntab_ = Pclntab::parse(b.pclntab_->bytes(), b.pclntab_->address(), text);
    } else if (b.pclntab_->header_text_start() != text) {
        b.warnings_.push_back("pcHeader.textStart " + b.pclntab_->header_text_start().hex() +
                              " differs from moduledata.text " + text.hex());
    }
    b.runtime_ = RuntimeFunctions::resolve(*b.pclntab_);
    return b;
}

void GoBinary::locate_pclntab() {
    for (const char *name : {".gopclntab", ".data.rel.ro.gopclntab"}) {
        if (const auto *s = elf_.section(name); s != nullptr && s->has_file_bytes()) {
            // Everything the pclntab points at (moduledata, funcdata, code) is read by address
            // through the program headers; a table they do not load where its section header
            // says is a damaged file, whichever of the two headers is wrong.
            const Bytes bytes = elf_.section_bytes(*s);
            if (auto mapped = elf_.bytes_at(s->addr, s->size); !mapped || mapped->data() != bytes.data())
                throw_corrupt(std::string("section ") + name + " at " + s->addr.hex() +
                              " is not where the program headers load it");
            pclntab_ = Pclntab::parse(bytes, s->addr);
            pclntab_source_ = name;
            return;
        }
    }
    if (auto sym = elf_.symbol("runtime.pclntab")) {
        if (auto bytes = region_from(elf_, sym->value)) {
            pclntab_ = Pclntab::parse(*bytes, sym->value);
            pclntab_source_ = "symbol runtime.pclntab";
            return;
        }
    }
    // No section headers and no symbols: scan read-only data for a header (4-aligned magic that
    // passes the structural checks and parses).
    std::optional<Error> last;
    for (const auto &seg : elf_.segments()) {
        if (seg.type != PT_LOAD || (seg.flags & PF_X))
            continue;
        Bytes bytes = elf_.image().subspan(seg.offset, seg.filesz);
        for (uint64_t off = 0; off + 64 <= bytes.size(); off += 4) {
            if (bytes[off + 1] != 0xff || bytes[off + 2] != 0xff || bytes[off + 3] != 0xff)
                continue;
            if (!Pclntab::looks_like_header(bytes.subspan(off)))
                continue;
            try {
                pclntab_ = Pclntab::parse(bytes.subspan(off), seg.vaddr + off);
                pclntab_source_ = "scan";
                return;
            } catch (const Error &e) {
                if (e.kind() == ErrorKind::UnsupportedGo)
                    throw;
                last = e;
            }
        }
    }
    if (buildinfo_)
        throw Error(ErrorKind::Corrupt, "has Go build info but no usable pclntab" +
                                            (last ? std::string(" (") + last->what() + ")" : std::string()));
    throw Error(ErrorKind::NotGo, "not a Go program (no Go build info, no pclntab)");
}

// runtime.buildVersion, the Go string every binary carries: read through the symbol table, for a
// binary without build info (Go ≤1.12, or a build info the linker did not write).
std::optional<std::string> GoBinary::build_version_symbol() const {
    auto sym = elf_.symbol("runtime.buildVersion");
    if (!sym)
        return std::nullopt;
    auto header = elf_.bytes_at(sym->value, 16);
    if (!header)
        return std::nullopt;
    ByteReader r(*header, "runtime.buildVersion");
    const uint64_t len = r.u64(8);
    if (len == 0 || len > 64)
        return std::nullopt;
    auto bytes = elf_.bytes_at(LinkAddr(r.u64(0)), len);
    if (!bytes)
        return std::nullopt;
    return std::string(bytes->begin(), bytes->end());
}

void GoBinary::determine_version() {
    std::optional<GoVersion> v;
    if (buildinfo_) {
        v = GoVersion::parse(buildinfo_->go_version);
        if (!v)
            warnings_.push_back("unparsable Go version '" + buildinfo_->go_version + "' in build info");
        else if (v->major == 1 && !fingerprint_.admits(v->minor))
            warnings_.push_back("build info says " + v->text + " but the binary's structure points to Go " +
                                fingerprint_.range());
        version_source_ = "buildinfo";
    } else if (auto text = build_version_symbol()) {
        v = GoVersion::parse(*text);
        version_source_ = "runtime.buildVersion";
    }
    if (!v) {
        if (fingerprint_.max_minor >= 99)
            throw Error(ErrorKind::UnsupportedGo, path() +
                                                      ": no Go version in the build info, and the structure only "
                                                      "says Go " +
                                                      fingerprint_.range());
        if (go_release(1, fingerprint_.max_minor) == nullptr)
            throw Error(ErrorKind::UnsupportedGo, path() + ": unsupported Go version (its structure says Go " +
                                                      fingerprint_.range() + "); " + supported_go_sentence());
        v = GoVersion{1, fingerprint_.max_minor, 0, "go1." + std::to_string(fingerprint_.max_minor)};
        version_source_ = "fingerprint";
        warnings_.push_back("Go version estimated from the binary's structure: Go " + fingerprint_.range());
    }
    version_ = *v;
    facts_ = go_release(version_.major, version_.minor);
    if (facts_ == nullptr)
        throw Error(ErrorKind::UnsupportedGo, path() + ": " + unsupported_go_message(version_.text));
}

std::optional<OpenDeferInfo> GoBinary::open_defer_info(const FuncInfo &f) const {
    auto where = pclntab_->funcdata(f, facts_->funcdata_opendefer, moduledata_.gofunc);
    if (!where)
        return std::nullopt;
    const LinkAddr at = *where;
    auto bytes = elf_.bytes_from(at);
    if (!bytes)
        throw_truncated("open-coded defer info of " + std::string(pclntab_->func_name(f)) + " at " + at.hex() +
                        " is not in the file");
    return decode_opendefer_info(bytes->first(std::min<size_t>(bytes->size(), 128)), facts_->opendefer_format);
}

// runtime.inlinedCall, the records of FUNCDATA_InlTree: ≤1.19 {parent int16, funcID, _, file,
// line, func_, parentPc} (20 bytes); 1.20+ {funcID, _ [3], nameOff, parentPc, startLine} (16
// bytes), whose parent is the record in force at parentPc. parentPc is relative to the entry of
// the function that holds the tree.
class GoBinary::InlineTree {
public:
    InlineTree(const GoBinary &bin, const FuncInfo &f) : bin_(bin), f_(f) {
        auto idx_table = bin.pclntab_->pcdata_offset(f, kPcdataInlTreeIndex);
        auto tree = bin.pclntab_->funcdata(f, bin.facts_->funcdata_inltree, bin.moduledata_.gofunc);
        if (idx_table && tree) {
            index_.emplace(bin.pclntab_->pc_table(f, *idx_table));
            base_ = *tree;
        }
    }
    [[nodiscard]] bool empty() const { return !index_; }
    [[nodiscard]] const PcValueTable &index() const { return *index_; }
    // The record in force at `pc` of the function (nullopt: the function's own code).
    [[nodiscard]] std::optional<int32_t> at(LinkAddr pc) const {
        auto i = index_ ? index_->at(pc) : std::nullopt;
        return i && *i >= 0 ? i : std::nullopt;
    }
    struct Record {
        std::string_view name;
        LinkAddr call_pc;              // the call site, in the function
        std::optional<int32_t> parent; // the record of the inlined function that made the call
    };
    [[nodiscard]] std::optional<Record> record(int32_t i) const {
        const bool v120 = bin_.facts_->inltree_name_off;
        const uint64_t size = v120 ? 16 : 20;
        auto rec = bin_.elf_.bytes_at(base_ + static_cast<uint64_t>(i) * size, size);
        if (!rec)
            return std::nullopt;
        ByteReader r(*rec, "inline tree");
        Record out{bin_.pclntab_->name_at(r.u32(v120 ? 4 : 12)), f_.entry + static_cast<uint64_t>(r.i32(v120 ? 8 : 16)),
                   std::nullopt};
        if (v120) {
            out.parent = at(out.call_pc);
        } else if (const auto parent = static_cast<int16_t>(r.u8(0) | (r.u8(1) << 8)); parent >= 0) {
            out.parent = parent;
        }
        return out;
    }

private:
    const GoBinary &bin_;
    const FuncInfo &f_;
    std::optional<PcValueTable> index_;
    LinkAddr base_;
};

std::optional<std::string_view> GoBinary::outermost_inlined(const FuncInfo &f, LinkAddr pc) const {
    std::optional<std::string_view> outer;
    for (const auto &in : inlined_calls(f, pc))
        outer = in.name;
    return outer;
}

std::vector<GoBinary::InlinedCall> GoBinary::inlined_calls(const FuncInfo &f, LinkAddr pc) const {
    std::vector<InlinedCall> out;
    const InlineTree tree(*this, f);
    auto i = tree.at(pc);
    for (int depth = 0; i && depth < 64; ++depth) {
        auto rec = tree.record(*i);
        if (!rec)
            break;
        out.push_back({rec->name, rec->call_pc});
        i = rec->parent;
    }
    return out;
}

std::map<std::string, std::vector<GoBinary::InlinedCopy>, std::less<>>
GoBinary::inlined_copies(const std::vector<std::string> &names) const {
    std::map<std::string, std::vector<InlinedCopy>, std::less<>> out;
    for (const auto &n : names)
        out[n];
    for (size_t fi = 0; fi < pclntab_->num_funcs(); ++fi) {
        const FuncInfo f = pclntab_->func(fi);
        const InlineTree tree(*this, f);
        if (tree.empty())
            continue;
        // Every record in use, and the records of the calls that lead to them (a record whose
        // whole body was inlined further may appear only as a parent).
        std::vector<int32_t> seen;
        for (const auto &run : tree.index().runs()) {
            std::optional<int32_t> i = run.value >= 0 ? std::optional<int32_t>(run.value) : std::nullopt;
            for (int depth = 0; i && depth < 64; ++depth) {
                if (std::find(seen.begin(), seen.end(), *i) != seen.end())
                    break;
                seen.push_back(*i);
                auto rec = tree.record(*i);
                if (!rec)
                    break;
                if (auto it = out.find(rec->name); it != out.end()) {
                    std::string_view caller = pclntab_->func_name(f);
                    if (rec->parent)
                        if (auto p = tree.record(*rec->parent))
                            caller = p->name;
                    it->second.push_back({fi, rec->call_pc, caller});
                }
                i = rec->parent;
            }
        }
    }
    for (auto &[name, copies] : out)
        std::sort(copies.begin(), copies.end(),
                  [](const InlinedCopy &a, const InlinedCopy &b) { return a.call_pc < b.call_pc; });
    return out;
}

std::map<std::string, std::vector<std::string>, std::less<>>
GoBinary::inlined_into(const std::vector<std::string> &names) const {
    std::map<std::string, std::vector<std::string>, std::less<>> out;
    for (const auto &[name, copies] : inlined_copies(names)) {
        auto &hosts = out[name];
        for (const auto &c : copies) {
            std::string host(pclntab_->func_name(pclntab_->func(c.func_index)));
            if (std::find(hosts.begin(), hosts.end(), host) == hosts.end())
                hosts.push_back(std::move(host));
        }
    }
    return out;
}

Bytes GoBinary::code(const FuncInfo &f) const {
    if (f.end < f.entry)
        throw_corrupt("function " + std::string(pclntab_->func_name(f)) + " ends before it starts");
    auto bytes = elf_.bytes_at(f.entry, f.end - f.entry);
    if (!bytes)
        throw_truncated("code of " + std::string(pclntab_->func_name(f)) + " at " + f.entry.hex() +
                        " is not in the file");
    return *bytes;
}

} // namespace deftrace
