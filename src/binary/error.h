// Errors that reach the user as one line and a documented exit code.
//
// Every failure deftrace can explain is an Error with a kind; the CLI maps kinds to exit codes
// (see README "Exit codes"). Anything else escaping to main is a bug and is reported as such.
#pragma once

#include <stdexcept>
#include <string>

namespace deftrace {

enum class ErrorKind {
    Usage,          // bad command line
    NotFound,       // input file does not exist
    Permission,     // input file exists but cannot be read/executed
    NotElf,         // not an ELF file at all
    UnsupportedElf, // ELF, but 32-bit or not x86-64
    NotGo,          // ELF x86-64, but no Go runtime tables
    Truncated,      // a table or header points past the end of the file
    Corrupt,        // a table's contents are inconsistent
    UnsupportedGo,  // a Go version or table format deftrace has no adapter for
    Io,             // reading or writing a file failed
    Process,        // starting or controlling the traced process failed (ptrace, fork, exec)
};

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string &message) : std::runtime_error(message), kind_(kind) {}
    [[nodiscard]] ErrorKind kind() const { return kind_; }

private:
    ErrorKind kind_;
};

// Shorthands for the two kinds every table reader throws.
[[noreturn]] void throw_corrupt(const std::string &what);
[[noreturn]] void throw_truncated(const std::string &what);

} // namespace deftrace
