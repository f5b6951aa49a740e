// deftrace's own exit codes (README "Exit codes"). They follow sysexits.h so that scripts can
// tell a deftrace failure from a traced program's own status.
#pragma once

#include "binary/error.h"

namespace deftrace {

enum ExitCode : int {
    kExitOk = 0,
    kExitUsage = 64,       // EX_USAGE: bad command line
    kExitBadBinary = 65,   // EX_DATAERR: not ELF / not x86-64 / not Go / truncated / corrupt tables
    kExitNoInput = 66,     // EX_NOINPUT: the file does not exist
    kExitUnsupported = 69, // EX_UNAVAILABLE: a Go release or table format deftrace cannot read
    kExitInternal = 70,    // EX_SOFTWARE: a bug in deftrace
    kExitOsError = 71,     // EX_OSERR: the traced process could not be started or controlled
    kExitIo = 74,          // EX_IOERR: reading or writing failed
    kExitPermission = 77,  // EX_NOPERM: permission denied
    // Outcomes rather than failures, above the sysexits range:
    kExitTraceMismatch = 79, // --expect / diff: the trace differs from the expectation
    kExitDivergence = 80,    // --strict: the runtime model disagreed with an observation (docs/validation.md)
    kExitLeak = 81,          // --fail-on-leak: a probed resource was still open at exit
};

inline int exit_code_for(ErrorKind k) {
    switch (k) {
    case ErrorKind::Usage: return kExitUsage;
    case ErrorKind::NotFound: return kExitNoInput;
    case ErrorKind::Permission: return kExitPermission;
    case ErrorKind::NotElf:
    case ErrorKind::UnsupportedElf:
    case ErrorKind::NotGo:
    case ErrorKind::Truncated:
    case ErrorKind::Corrupt: return kExitBadBinary;
    case ErrorKind::UnsupportedGo: return kExitUnsupported;
    case ErrorKind::Io: return kExitIo;
    case ErrorKind::Process: return kExitOsError;
    }
    return kExitInternal;
}

} // namespace deftrace
