// runtime.moduledata: the runtime's per-module descriptor. deftrace needs it for the text start
// (Go 1.26+ no longer writes it into the pclntab header), for moduledata.gofunc (the base of
// every funcdata offset) and for the type section bounds.
#pragma once

#include "binary/address.h"
#include "binary/elf_file.h"
#include "binary/pclntab.h"
#include "release/go_releases.h"

#include <optional>

namespace deftrace {

struct ModuleData {
    LinkAddr address;
    LinkAddr text, etext;
    LinkAddr gofunc; // base of funcdata offsets (go:func.*); null before Go 1.18 (funcdata are pointers)
    LinkAddr types, etypes;
    bool from_symbol = false; // found through runtime.firstmoduledata rather than by scanning
};

// Finds moduledata: the `runtime.firstmoduledata` symbol when present, else by scanning the
// file-backed data segments for the word pair {pcHeader address, funcnametab address} that opens
// the structure (go-runtime.md §5.4). `facts` gives the version-dependent field offsets.
// Throws Error(Corrupt) when no candidate is consistent with the pclntab.
ModuleData locate_moduledata(const ElfFile &elf, const Pclntab &tab, const GoRelease &facts);

} // namespace deftrace
