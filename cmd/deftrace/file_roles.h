// The files one trace command names, and the one mistake among them that destroys data: a file
// written that is also read or written under another name (`deftrace --json ./prog ./prog`
// truncates the program it is about to run; `-o t --json t` interleaves two traces in one file).
#pragma once

#include <string>
#include <vector>

namespace deftrace {

struct NamedFile {
    std::string role; // how the command line names it: "the program", "--json", "--expect"...
    std::string path;
    bool named = true; // false: a path of deftrace's own (/dev/stderr), not shown in messages
};

// Throws Error(Usage) naming both roles when an output is the same file (same device and inode,
// or, for files not yet created, the same path) as an input or another output. Only regular
// files and names not yet created count: two traces sent to /dev/null or a terminal are fine.
void refuse_shared_files(const std::vector<NamedFile> &inputs, const std::vector<NamedFile> &outputs);

} // namespace deftrace
