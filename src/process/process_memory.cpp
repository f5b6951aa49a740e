#include "process/process_memory.h"

#include "binary/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/uio.h>

namespace deftrace {

ProcessMemory::ProcessMemory(pid_t pid) : pid_(pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/mem";
    mem_ = UniqueFd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!mem_.valid())
        throw Error(ErrorKind::Process, "cannot open " + path + ": " + std::strerror(errno));
}

bool ProcessMemory::read(Addr addr, std::span<uint8_t> out) const {
    if (out.empty())
        return true;
    iovec local{out.data(), out.size()};
    iovec remote{reinterpret_cast<void *>(addr.value()), out.size()};
    ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
    if (n == static_cast<ssize_t>(out.size()))
        return true;
    // process_vm_readv refuses pages without read permission; /proc/PID/mem does not.
    n = pread(mem_.get(), out.data(), out.size(), static_cast<off_t>(addr.value()));
    return n == static_cast<ssize_t>(out.size());
}

std::optional<uint64_t> ProcessMemory::read_u64(Addr addr) const {
    uint64_t v;
    if (!read(addr, {reinterpret_cast<uint8_t *>(&v), 8}))
        return std::nullopt;
    return v;
}

std::optional<uint32_t> ProcessMemory::read_u32(Addr addr) const {
    uint32_t v;
    if (!read(addr, {reinterpret_cast<uint8_t *>(&v), 4}))
        return std::nullopt;
    return v;
}

std::optional<uint8_t> ProcessMemory::read_u8(Addr addr) const {
    uint8_t v;
    if (!read(addr, {&v, 1}))
        return std::nullopt;
    return v;
}

std::optional<std::string> ProcessMemory::read_bytes(Addr addr, uint64_t len) const {
    std::string s(len, '\0');
    if (!read(addr, {reinterpret_cast<uint8_t *>(s.data()), s.size()}))
        return std::nullopt;
    return s;
}

std::optional<std::string> ProcessMemory::read_cstring(Addr addr, size_t max) const {
    std::string s;
    uint8_t chunk[64];
    while (s.size() < max) {
        if (!read(addr + s.size(), chunk))
            return std::nullopt;
        for (uint8_t c : chunk) {
            if (c == 0)
                return s;
            s.push_back(static_cast<char>(c));
        }
    }
    return s;
}

void ProcessMemory::write(Addr addr, std::span<const uint8_t> data) const {
    ssize_t n = pwrite(mem_.get(), data.data(), data.size(), static_cast<off_t>(addr.value()));
    if (n != static_cast<ssize_t>(data.size()))
        throw Error(ErrorKind::Process, "writing " + std::to_string(data.size()) + " bytes at " + addr.hex() +
                                            " in process " + std::to_string(pid_) + ": " + std::strerror(errno));
}

} // namespace deftrace
