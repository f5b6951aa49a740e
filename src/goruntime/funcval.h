// A func value (runtime.funcval) names its code in its first word. Reading it is the commonest
// memory read of a trace (every defer and every deferred call), so a funcval in the binary's
// read-only data (a closure that captures nothing) is read from the file instead.
#pragma once

#include "binary/go_binary.h"
#include "process/process_memory.h"

#include <utility>
#include <vector>

namespace deftrace {

class FuncvalReader {
public:
    FuncvalReader(const GoBinary &bin, const ProcessMemory &mem);

    // The code address (run-time) the funcval at `funcval` calls; null for a nil or unreadable one.
    [[nodiscard]] Addr code(Addr funcval) const;

private:
    const GoBinary &bin_;
    const ProcessMemory &mem_;
    std::vector<std::pair<LinkAddr, LinkAddr>> file_words_; // [lo, hi): read-only words the same in the file
};

} // namespace deftrace
