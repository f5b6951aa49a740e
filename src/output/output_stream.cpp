#include "output/output_stream.h"

#include "binary/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace deftrace {

OutputStream::OutputStream(FILE *f, std::string name, bool owned)
    : owned_(owned ? f : nullptr), file_(f), name_(std::move(name)) {}

OutputStream::OutputStream(OutputStream &&o) noexcept
    : owned_(std::move(o.owned_)), file_(std::exchange(o.file_, nullptr)), name_(std::move(o.name_)), error_(o.error_) {
}

OutputStream::~OutputStream() {
    if (file_ != nullptr)
        std::fflush(file_);
}

OutputStream OutputStream::open(const std::string &path, Buffering buffering) {
    // O_CLOEXEC as "e" in the mode; O_NONBLOCK is not wanted here (a FIFO reader may come late,
    // and writing to a FIFO is a legitimate way to consume the trace).
    FILE *f = std::fopen(path.c_str(), "we");
    if (f == nullptr) {
        const int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            throw Error(ErrorKind::NotFound, path + ": no such directory");
        if (e == EACCES || e == EPERM || e == EROFS)
            throw Error(ErrorKind::Permission, path + ": " + std::strerror(e));
        if (e == EISDIR)
            throw Error(ErrorKind::Usage, path + ": is a directory");
        throw Error(ErrorKind::Io, path + ": " + std::strerror(e));
    }
    if (buffering == Buffering::Line)
        std::setvbuf(f, nullptr, _IOLBF, 0); // `tail -f` sees each event as it happens
    else
        std::setvbuf(f, nullptr, _IOFBF, 1 << 16);
    return OutputStream(f, path, true);
}

OutputStream OutputStream::borrow(FILE *f, std::string name) {
    return OutputStream(f, std::move(name), false);
}

bool OutputStream::is_terminal() const {
    return file_ != nullptr && isatty(fileno(file_)) == 1;
}

void OutputStream::check() {
    if (error_ == 0 && file_ != nullptr && std::ferror(file_))
        error_ = errno != 0 ? errno : EIO;
}

void OutputStream::write(std::string_view s) {
    if (error_ != 0 || file_ == nullptr)
        return;
    errno = 0;
    if (std::fwrite(s.data(), 1, s.size(), file_) != s.size())
        error_ = errno != 0 ? errno : EIO;
    check();
}

void OutputStream::flush() {
    if (error_ != 0 || file_ == nullptr)
        return;
    errno = 0;
    if (std::fflush(file_) != 0)
        error_ = errno != 0 ? errno : EIO;
    check();
}

void OutputStream::close() {
    flush();
    if (owned_) {
        errno = 0;
        if (std::fclose(owned_.release()) != 0 && error_ == 0)
            error_ = errno != 0 ? errno : EIO;
        file_ = nullptr;
    }
}

std::string OutputStream::failure() const {
    return "writing " + name_ + ": " + std::strerror(error_);
}

} // namespace deftrace
