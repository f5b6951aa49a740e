// deftrace-layouts BINARY: prints the Go runtime structure layouts of BINARY, read from its DWARF,
// as the JSON table deftrace ships for stripped binaries. scripts/gen-layouts.sh runs it on a
// probe built by each toolchain to produce probes/layouts/go1.NN.json.
//
// Only the ELF and its DWARF are needed (not the pclntab), so that a table can be produced for a
// release deftrace cannot trace yet: that is when one is wanted.
//
// deftrace-layouts --infer BINARY: the layouts deftrace infers from the runtime's code when a
// stripped binary has no table (analysis/layout_inference.h), in the same form; the test
// layouts.inferred compares them with the DWARF's.
#include "../deftrace/exit_codes.h"
#include "analysis/layout_inference.h"
#include "binary/buildinfo.h"
#include "binary/elf_file.h"
#include "binary/error.h"
#include "binary/go_binary.h"
#include "binary/struct_layouts.h"

#include <exception>
#include <iostream>
#include <string>

namespace {

int infer(const std::string &path) {
    using namespace deftrace;
    GoBinary bin = GoBinary::open(path);
    StructLayouts layouts;
    try {
        layouts = infer_runtime_layouts(bin, Disassembler());
    } catch (const Error &e) {
        throw Error(e.kind(), path + ": " + e.what());
    }
    std::cout << layouts.to_json().dump(2) << "\n";
    return std::cout.flush() ? kExitOk : kExitIo;
}

int from_dwarf(const std::string &arg) {
    using namespace deftrace;
    ElfFile elf = ElfFile::open(arg);
    auto layouts = StructLayouts::from_dwarf(elf);
    if (!layouts)
        throw Error(ErrorKind::UnsupportedGo, arg + ": no DWARF (built with -ldflags=-w or stripped)");
    if (layouts->empty())
        throw Error(ErrorKind::NotGo, arg + ": its DWARF describes no Go runtime structures");
    // The DWARF producer names the compiler; the build info names the toolchain that linked.
    // They agree for any ordinary build, but say so when they do not.
    auto info = read_buildinfo(elf);
    if (layouts->go_version().empty() && info)
        layouts->set_go_version(info->go_version);
    else if (info && info->go_version != layouts->go_version())
        std::cerr << "deftrace-layouts: warning: DWARF producer says " << layouts->go_version() << ", build info says "
                  << info->go_version << "\n";
    std::cout << layouts->to_json().dump(2) << "\n";
    return std::cout.flush() ? kExitOk : kExitIo;
}

} // namespace

int main(int argc, char **argv) {
    using namespace deftrace;
    const std::string arg = argc >= 2 ? argv[1] : "";
    const bool inferring = argc == 3 && arg == "--infer";
    if ((argc != 2 && !inferring) || arg.empty() || arg == "-h" || arg == "--help") {
        std::cerr << "usage: deftrace-layouts [--infer] BINARY\n"
                     "Prints the Go runtime structure layouts of BINARY (from its DWARF) as JSON;\n"
                     "with --infer, those deftrace infers from the runtime's code.\n";
        return argc == 2 && (arg == "-h" || arg == "--help") ? kExitOk : kExitUsage;
    }
    try {
        return inferring ? infer(argv[2]) : from_dwarf(arg);
    } catch (const Error &e) {
        std::cerr << "deftrace-layouts: " << e.what() << "\n";
        return exit_code_for(e.kind());
    } catch (const std::exception &e) {
        std::cerr << "deftrace-layouts: internal error: " << e.what() << "\n";
        return kExitInternal;
    }
}
