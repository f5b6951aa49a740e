#include "binary/input_file.h"

#include "binary/error.h"
#include "binary/unique_fd.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace deftrace {

namespace {

[[noreturn]] void fail_errno(int e, const std::string &path, std::string_view what) {
    if (e == ENOENT || e == ENOTDIR)
        throw Error(ErrorKind::NotFound, path + ": no such " + std::string(what));
    if (e == EACCES || e == EPERM)
        throw Error(ErrorKind::Permission, path + ": permission denied");
    throw Error(ErrorKind::Io, path + ": " + std::strerror(e));
}

const char *type_of(mode_t m) {
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device";
    return "not a regular file";
}

// O_NONBLOCK: opening a FIFO for reading then returns at once instead of waiting for a writer,
// and the fstat below refuses it. It changes nothing for a regular file.
UniqueFd open_regular(const std::string &path, std::string_view what, struct stat &st) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0)
        fail_errno(errno, path, what);
    if (fstat(fd.get(), &st) != 0)
        fail_errno(errno, path, what);
    if (!S_ISREG(st.st_mode))
        throw Error(ErrorKind::Usage, path + ": " + type_of(st.st_mode) + ", not a " + std::string(what) + " file");
    return fd;
}

} // namespace

void check_input_file(const std::string &path, std::string_view what) {
    struct stat st {};
    (void)open_regular(path, what, st);
}

InputFile open_input_file(const std::string &path, std::string_view what) {
    struct stat st {};
    UniqueFd fd = open_regular(path, what, st);
    FILE *f = fdopen(fd.get(), "r");
    if (f == nullptr)
        fail_errno(errno, path, what);
    (void)fd.release(); // the FILE owns it now
    return InputFile(f);
}

std::string read_input_file(const std::string &path, std::string_view what, size_t max_bytes) {
    struct stat st {};
    UniqueFd fd = open_regular(path, what, st);
    if (static_cast<uint64_t>(st.st_size) > max_bytes)
        throw Error(ErrorKind::Usage, path + ": " + std::to_string(st.st_size) + " bytes, more than a " +
                                          std::string(what) + " file can be (" + std::to_string(max_bytes) + ")");
    std::string out;
    out.resize(static_cast<size_t>(st.st_size));
    size_t have = 0;
    for (;;) {
        if (have == out.size()) {
            if (out.size() >= max_bytes)
                break;
            out.resize(std::min(max_bytes, out.size() + 65536)); // the file grew, or st_size was 0 (procfs)
        }
        ssize_t n = ::read(fd.get(), out.data() + have, out.size() - have);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail_errno(errno, path, what);
        }
        if (n == 0)
            break;
        have += static_cast<size_t>(n);
    }
    out.resize(have);
    return out;
}

} // namespace deftrace
