// A file deftrace writes a trace to, that fails politely.
//
// The trace is the tool's output, the program is the user's: when the trace cannot be written
// (a closed pipe — `deftrace prog 2>&1 | head -1` —, a full disk, /dev/full) the program must
// run on exactly as it would untraced. So a write error is remembered, not thrown: the stream
// drops everything after it, and the command reports it once the program has ended (exit 74).
// deftrace ignores SIGPIPE for the same reason (see main.cpp).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace deftrace {

class OutputStream {
public:
    enum class Buffering { Line, Full };

    // Creates or truncates `path` (close-on-exec, so the traced program never inherits it).
    // Throws Error: NotFound (no such directory), Permission, Usage (a directory), Io.
    static OutputStream open(const std::string &path, Buffering buffering);
    // Writes to a stream deftrace does not own (stderr); `name` is used in messages.
    static OutputStream borrow(FILE *f, std::string name);

    OutputStream(OutputStream &&o) noexcept;
    OutputStream &operator=(OutputStream &&) = delete;
    OutputStream(const OutputStream &) = delete;
    OutputStream &operator=(const OutputStream &) = delete;
    ~OutputStream();

    void write(std::string_view s);
    void flush();
    // Flushes and closes an owned file, recording any error (a full disk often shows only here).
    void close();

    [[nodiscard]] FILE *file() const { return file_; }
    [[nodiscard]] bool is_terminal() const;
    [[nodiscard]] bool failed() const { return error_ != 0; }
    // "writing FILE: No space left on device" when failed.
    [[nodiscard]] std::string failure() const;
    [[nodiscard]] const std::string &name() const { return name_; }

private:
    OutputStream(FILE *f, std::string name, bool owned);
    void check();

    struct Closer {
        void operator()(FILE *f) const { std::fclose(f); }
    };
    std::unique_ptr<FILE, Closer> owned_;
    FILE *file_ = nullptr;
    std::string name_;
    int error_ = 0;
};

} // namespace deftrace
