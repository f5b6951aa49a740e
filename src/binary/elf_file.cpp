#include "binary/elf_file.h"

#include "binary/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace deftrace {

namespace {

std::string libelf_message() {
    const char *m = elf_errmsg(-1);
    return m != nullptr ? m : "unknown libelf error";
}

} // namespace

bool ElfSection::has_file_bytes() const {
    return type != SHT_NOBITS;
}

ElfFile::ElfFile(ElfFile &&o) noexcept {
    *this = std::move(o);
}

ElfFile &ElfFile::operator=(ElfFile &&o) noexcept {
    if (this != &o) {
        release();
        path_ = std::move(o.path_);
        fd_ = std::exchange(o.fd_, -1);
        owned_ = std::move(o.owned_); // the heap buffer moves, so elf_ and image_ stay valid
        elf_ = std::exchange(o.elf_, nullptr);
        image_ = std::exchange(o.image_, {});
        is_dyn_ = o.is_dyn_;
        entry_ = o.entry_;
        sections_ = std::move(o.sections_);
        segments_ = std::move(o.segments_);
        has_symtab_ = o.has_symtab_;
        symbols_ = std::move(o.symbols_);
    }
    return *this;
}

ElfFile::~ElfFile() {
    release();
}

void ElfFile::release() noexcept {
    if (elf_ != nullptr)
        elf_end(elf_);
    if (fd_ >= 0)
        ::close(fd_);
    elf_ = nullptr;
    fd_ = -1;
    owned_ = {};
    image_ = {};
}

namespace {

// Identifies the file ourselves before libelf sees it: libelf's verdicts on short or foreign
// files are vague. `ident` holds the first min(size, EI_NIDENT) bytes of a `size`-byte file.
void check_ident(const unsigned char *ident, uint64_t size, const std::string &path) {
    if (size < EI_NIDENT)
        throw Error(ErrorKind::NotElf, path + ": not an ELF file (only " + std::to_string(size) + " bytes)");
    if (std::memcmp(ident, ELFMAG, SELFMAG) != 0)
        throw Error(ErrorKind::NotElf, path + ": not an ELF file");
    if (ident[EI_CLASS] == ELFCLASS64 && size < sizeof(Elf64_Ehdr))
        throw Error(ErrorKind::Truncated, path + ": ELF header is truncated (" + std::to_string(size) + " bytes)");
    if (elf_version(EV_CURRENT) == EV_NONE)
        throw Error(ErrorKind::Io, "libelf initialisation failed: " + libelf_message());
}

} // namespace

ElfFile ElfFile::open(const std::string &path) {
    ElfFile f;
    f.path_ = path;
    // O_NONBLOCK: a FIFO opens at once (and is refused below) instead of blocking for a writer.
    f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f.fd_ < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            throw Error(ErrorKind::NotFound, path + ": no such file");
        if (e == EACCES || e == EPERM)
            throw Error(ErrorKind::Permission, path + ": permission denied");
        throw Error(ErrorKind::Io, path + ": " + std::strerror(e));
    }
    struct stat st {};
    if (fstat(f.fd_, &st) != 0)
        throw Error(ErrorKind::Io, path + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        throw Error(ErrorKind::NotElf, path + ": is a directory, not an ELF file");
    if (!S_ISREG(st.st_mode))
        throw Error(ErrorKind::NotElf, path + ": not a regular file");

    unsigned char ident[EI_NIDENT] = {};
    if (st.st_size >= static_cast<off_t>(EI_NIDENT) &&
        pread(f.fd_, ident, sizeof ident, 0) != static_cast<ssize_t>(sizeof ident))
        throw Error(ErrorKind::Io, path + ": " + std::strerror(errno));
    check_ident(ident, static_cast<uint64_t>(st.st_size), path);

    f.elf_ = elf_begin(f.fd_, ELF_C_READ_MMAP, nullptr);
    if (f.elf_ == nullptr)
        throw Error(ErrorKind::Io, path + ": " + libelf_message());
    f.validate_and_load();
    return f;
}

ElfFile ElfFile::from_bytes(Bytes image, const std::string &name) {
    ElfFile f;
    f.path_ = name;
    check_ident(image.data(), image.size(), name);
    f.owned_.assign(image.begin(), image.end());
    // elf_memory takes a mutable pointer but only reads an image of the host's byte order;
    // the copy keeps the caller's buffer out of it either way.
    f.elf_ = elf_memory(reinterpret_cast<char *>(f.owned_.data()), f.owned_.size());
    if (f.elf_ == nullptr)
        throw Error(ErrorKind::Io, name + ": " + libelf_message());
    f.validate_and_load();
    return f;
}

void ElfFile::validate_and_load() {
    const std::string &path = path_;
    if (elf_kind(elf_) != ELF_K_ELF)
        throw Error(ErrorKind::NotElf, path + ": not an ELF file");

    size_t raw_size = 0;
    char *raw = elf_rawfile(elf_, &raw_size);
    if (raw == nullptr)
        throw Error(ErrorKind::Io, path + ": " + libelf_message());
    image_ = Bytes(reinterpret_cast<const uint8_t *>(raw), raw_size);

    int cls = gelf_getclass(elf_);
    if (cls == ELFCLASS32)
        throw Error(ErrorKind::UnsupportedElf, path + ": 32-bit ELF; deftrace supports x86-64 binaries only");
    if (cls != ELFCLASS64)
        throw Error(ErrorKind::NotElf, path + ": not a valid ELF file (bad class)");
    if (static_cast<unsigned char>(raw[EI_DATA]) != ELFDATA2LSB)
        throw Error(ErrorKind::UnsupportedElf, path + ": big-endian ELF; deftrace supports x86-64 binaries only");

    GElf_Ehdr eh;
    if (gelf_getehdr(elf_, &eh) == nullptr)
        throw Error(ErrorKind::Truncated, path + ": ELF header is truncated (" + libelf_message() + ")");
    if (eh.e_machine != EM_X86_64)
        throw Error(ErrorKind::UnsupportedElf,
                    path + ": ELF machine " + std::to_string(eh.e_machine) + " is not x86-64");
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
        throw Error(ErrorKind::UnsupportedElf,
                    path + ": not an executable (ELF type " + std::to_string(eh.e_type) + ")");
    is_dyn_ = eh.e_type == ET_DYN;
    entry_ = LinkAddr(eh.e_entry);
    load_tables();
}

void ElfFile::load_tables() {
    const uint64_t file_size = image_.size();
    size_t nphdr = 0;
    if (elf_getphdrnum(elf_, &nphdr) != 0)
        throw Error(ErrorKind::Truncated, path_ + ": program headers are unreadable (" + libelf_message() + ")");
    for (size_t i = 0; i < nphdr; ++i) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf_, static_cast<int>(i), &ph) == nullptr)
            throw Error(ErrorKind::Truncated, path_ + ": program header " + std::to_string(i) + " is unreadable");
        if (ph.p_type == PT_LOAD && (ph.p_offset > file_size || ph.p_filesz > file_size - ph.p_offset))
            throw Error(ErrorKind::Truncated, path_ + ": file is truncated (segment at offset " + to_hex(ph.p_offset) +
                                                  " needs " + std::to_string(ph.p_filesz) + " bytes, file has " +
                                                  std::to_string(file_size) + ")");
        segments_.push_back(
            {ph.p_type, ph.p_flags, LinkAddr(ph.p_vaddr), ph.p_offset, ph.p_filesz, ph.p_memsz, ph.p_align});
    }

    size_t shstrndx = 0;
    bool have_names = elf_getshdrstrndx(elf_, &shstrndx) == 0;
    Elf_Scn *symtab = nullptr;
    for (Elf_Scn *scn = elf_nextscn(elf_, nullptr); scn != nullptr; scn = elf_nextscn(elf_, scn)) {
        GElf_Shdr sh;
        if (gelf_getshdr(scn, &sh) == nullptr)
            throw Error(ErrorKind::Truncated, path_ + ": section header is unreadable (" + libelf_message() + ")");
        const char *name = have_names ? elf_strptr(elf_, shstrndx, sh.sh_name) : nullptr;
        ElfSection s{name != nullptr ? name : "", sh.sh_type,   sh.sh_flags,
                     LinkAddr(sh.sh_addr),        sh.sh_offset, sh.sh_size};
        if (s.has_file_bytes() && (s.offset > file_size || s.size > file_size - s.offset))
            throw Error(ErrorKind::Truncated, path_ + ": file is truncated (section " + s.name + " at offset " +
                                                  to_hex(s.offset) + " extends past the end of the file)");
        if (sh.sh_type == SHT_SYMTAB)
            symtab = scn;
        sections_.push_back(std::move(s));
    }

    if (symtab != nullptr) {
        GElf_Shdr sh;
        gelf_getshdr(symtab, &sh);
        Elf_Data *data = elf_getdata(symtab, nullptr);
        if (data != nullptr && sh.sh_entsize != 0) {
            has_symtab_ = true;
            size_t n = sh.sh_size / sh.sh_entsize;
            for (size_t i = 0; i < n; ++i) {
                GElf_Sym sym;
                if (gelf_getsym(data, static_cast<int>(i), &sym) == nullptr)
                    break;
                const char *name = elf_strptr(elf_, sh.sh_link, sym.st_name);
                if (name == nullptr || *name == 0)
                    continue;
                symbols_.try_emplace(name, ElfSymbol{name, LinkAddr(sym.st_value), sym.st_size,
                                                     static_cast<uint8_t>(GELF_ST_TYPE(sym.st_info))});
            }
        }
    }
}

const ElfSection *ElfFile::section(std::string_view name) const {
    for (const auto &s : sections_)
        if (s.name == name)
            return &s;
    return nullptr;
}

std::optional<ElfSymbol> ElfFile::symbol(std::string_view name) const {
    auto it = symbols_.find(std::string(name));
    if (it == symbols_.end())
        return std::nullopt;
    return it->second;
}

std::optional<Bytes> ElfFile::bytes_from(LinkAddr addr) const {
    for (const auto &seg : segments_) {
        if (seg.type != PT_LOAD)
            continue;
        if (addr >= seg.vaddr && addr - seg.vaddr < seg.filesz) {
            uint64_t delta = addr - seg.vaddr;
            return image_.subspan(seg.offset + delta, seg.filesz - delta);
        }
    }
    return std::nullopt;
}

std::optional<Bytes> ElfFile::bytes_at(LinkAddr addr, uint64_t len) const {
    auto b = bytes_from(addr);
    if (!b || b->size() < len)
        return std::nullopt;
    return b->first(len);
}

Bytes ElfFile::section_bytes(const ElfSection &s) const {
    if (!s.has_file_bytes())
        return {};
    return image_.subspan(s.offset, s.size);
}

} // namespace deftrace
