// ElfFile on arbitrary bytes: identity checks, program and section headers, symbols, and every
// read by address that the Go layer does afterwards.
#include "binary/buildinfo.h"
#include "binary/elf_file.h"
#include "fuzz_common.h"

#include <elf.h>

using namespace deftrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz::run_reader([&] {
        const ElfFile elf = ElfFile::from_bytes(fuzz::input(data, size), "fuzz");
        volatile uint8_t sink = 0;
        for (const auto &s : elf.sections()) {
            // Touch both ends: ASan then checks the section really lies inside the image.
            const Bytes b = elf.section_bytes(s);
            if (!b.empty())
                sink = sink + b.front() + b.back();
            (void)elf.bytes_from(s.addr);
            (void)elf.bytes_at(s.addr, s.size);
        }
        for (const auto &seg : elf.segments()) {
            if (auto b = elf.bytes_from(seg.vaddr); b && !b->empty())
                sink = sink + b->front() + b->back();
            if (auto b = elf.bytes_at(seg.vaddr + seg.filesz - 1, 1))
                sink = sink + b->front();
        }
        for (const char *name : {"runtime.pclntab", "runtime.firstmoduledata", "main.main"})
            if (auto sym = elf.symbol(name))
                (void)elf.bytes_at(sym->value, sym->size);
        (void)elf.has_debug_info();
        (void)elf.entry();
        (void)read_buildinfo(elf);
    });
    return 0;
}
