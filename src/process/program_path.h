// Which file a command name runs, found as Tracee::launch's execvp will find it.
#pragma once

#include <string>

namespace deftrace {

// A name with a slash is a path as it is; otherwise the first executable regular file of that
// name in $PATH (an empty entry is the current directory; no PATH: /usr/local/bin:/usr/bin:/bin).
// Throws Error(NotFound) when there is none.
std::string resolve_program(const std::string &name);

} // namespace deftrace
