#include "goruntime/funcval.h"

#include "binary/load_bias.h"

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
    // file_words_ is only filled for a non-PIE binary, whose bias is zero.
    const LinkAddr at = LoadBias().link(funcval);
    for (const auto &[lo, hi] : file_words_)
        if (at >= lo && at.value() + 8 <= hi.value()) {
            if (auto b = bin_.elf().bytes_at(at, 8)) {
                uint64_t code;
                std::memcpy(&code, b->data(), 8);
                return Addr(code);
            }
            break;
        }
    return Addr(mem_.read_u64(funcval).value_or(0));
}

} // namespace deftrace
