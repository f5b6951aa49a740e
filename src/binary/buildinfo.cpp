#include "binary/buildinfo.h"

#include "binary/byte_reader.h"
#include "binary/error.h"

#include <elf.h>
#include <string_view>

namespace deftrace {

namespace {

constexpr std::string_view kMagic = "\xff Go buildinf:";
constexpr size_t kHeaderSize = 32;

// The blob lives in .go.buildinfo; binaries without section headers keep it at the start of the
// first writable, non-executable PT_LOAD (debug/buildinfo does the same search).
std::optional<Bytes> locate(const ElfFile &elf) {
    if (const auto *s = elf.section(".go.buildinfo"))
        return elf.section_bytes(*s);
    for (const auto &seg : elf.segments())
        if (seg.type == PT_LOAD && (seg.flags & PF_W) && !(seg.flags & PF_X))
            return elf.image().subspan(seg.offset, seg.filesz);
    return std::nullopt;
}

// Go's buildinfo module text is framed by 16-byte sentinels (cmd/go/internal/modload).
std::string strip_sentinels(std::string mod) {
    if (mod.size() >= 33 && mod[mod.size() - 17] == '\n')
        return mod.substr(16, mod.size() - 32);
    return mod;
}

std::string main_path_of(const std::string &mod) {
    // First line "path\t<import path>".
    if (mod.starts_with("path\t")) {
        auto end = mod.find('\n');
        return mod.substr(5, end == std::string::npos ? std::string::npos : end - 5);
    }
    return {};
}

// Whether [addr, addr+len) is loaded but has no bytes in the file: the zero-filled tail of a
// PT_LOAD (.bss). runtime.modinfo of a binary built outside a module (GOPATH mode, Go < 1.18) is
// an empty string there.
bool in_zero_fill(const ElfFile &elf, uint64_t addr, uint64_t len) {
    for (const auto &seg : elf.segments()) {
        const uint64_t start = seg.vaddr.value();
        if (seg.type == PT_LOAD && addr >= start + seg.filesz && addr - start <= seg.memsz &&
            len <= seg.memsz - (addr - start))
            return true;
    }
    return false;
}

std::string read_go_string(const ElfFile &elf, uint64_t header_addr, const std::string &what) {
    auto hdr = elf.bytes_at(LinkAddr(header_addr), 16);
    if (!hdr && in_zero_fill(elf, header_addr, 16))
        return {};
    if (!hdr)
        throw_truncated(what + ": string header at " + to_hex(header_addr) + " is not in the file");
    ByteReader h(*hdr, what);
    uint64_t ptr = h.u64(0), len = h.u64(8);
    if (len > (1u << 20))
        throw_corrupt(what + ": implausible string length " + std::to_string(len));
    auto body = elf.bytes_at(LinkAddr(ptr), len);
    if (!body)
        throw_truncated(what + ": string data at " + to_hex(ptr) + " is not in the file");
    return {reinterpret_cast<const char *>(body->data()), body->size()};
}

} // namespace

std::optional<BuildInfo> read_buildinfo(const ElfFile &elf) {
    auto region = locate(elf);
    if (!region)
        return std::nullopt;
    // The magic is 16-byte aligned within the region.
    ByteReader r(*region, ".go.buildinfo");
    std::optional<uint64_t> at;
    for (uint64_t off = 0; off + kHeaderSize <= r.size(); off += 16) {
        if (std::string_view(reinterpret_cast<const char *>(region->data() + off), kMagic.size()) == kMagic) {
            at = off;
            break;
        }
    }
    if (!at)
        return std::nullopt;

    BuildInfo bi;
    uint8_t ptr_size = r.u8(*at + 14);
    uint8_t flags = r.u8(*at + 15);
    if (flags & 1)
        throw Error(ErrorKind::UnsupportedElf, elf.path() + ": big-endian Go build info");
    if (flags & 2) {
        bi.inline_form = true;
        uint64_t off = *at + kHeaderSize;
        uint64_t vlen = r.uvarint(&off);
        auto v = r.slice(off, vlen);
        bi.go_version.assign(reinterpret_cast<const char *>(v.data()), v.size());
        off += vlen;
        uint64_t mlen = r.uvarint(&off);
        auto m = r.slice(off, mlen);
        bi.mod_info = strip_sentinels(std::string(reinterpret_cast<const char *>(m.data()), m.size()));
    } else {
        if (ptr_size != 8)
            throw_corrupt(".go.buildinfo: pointer size " + std::to_string(ptr_size) + " in an x86-64 binary");
        bi.go_version = read_go_string(elf, r.u64(*at + 16), ".go.buildinfo version");
        uint64_t mod_ptr = r.u64(*at + 24);
        if (mod_ptr != 0)
            bi.mod_info = strip_sentinels(read_go_string(elf, mod_ptr, ".go.buildinfo module info"));
    }
    bi.main_path = main_path_of(bi.mod_info);
    return bi;
}

} // namespace deftrace
