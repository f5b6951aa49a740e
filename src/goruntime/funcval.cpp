#include "goruntime/funcval.h"

#include <cstring>
#include <elf.h>

namespace deftrace {

FuncvalReader::FuncvalReader(const GoBinary &bin, const ProcessMemory &mem) : bin_(bin), mem_(mem) {
    // Not in a PIE, whose pointers are relocated at load time.
    if (!bin.elf().is_pie())
        for (const auto &seg : bin.elf().segments())
            if (seg.type == PT_LOAD && (seg.flags & PF_W) == 0)
                file_words_.emplace_back(seg.vaddr, seg.vaddr + seg.filesz);
}

Addr FuncvalReader::code(Addr funcval) const {
    if (funcval.is_null())
        return {};
    for (const auto &[lo, hi] : file_words_)
        if (funcval >= lo && funcval.value() + 8 <= hi.value()) {
            if (auto b = bin_.elf().bytes_at(funcval, 8)) {
                uint64_t code;
                std::memcpy(&code, b->data(), 8);
                return Addr(code);
            }
            break;
        }
    return Addr(mem_.read_u64(funcval).value_or(0));
}

} // namespace deftrace
