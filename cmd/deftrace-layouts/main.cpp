// deftrace-layouts BINARY: prints the runtime structure layouts of a Go binary, read from its
// DWARF, as the JSON table deftrace ships for stripped binaries (scripts/gen-layouts.sh).
#include "binary/error.h"
#include "binary/go_binary.h"
#include "binary/struct_layouts.h"

#include <iostream>

int main(int argc, char **argv) {
    using namespace deftrace;
    if (argc != 2) {
        std::cerr << "usage: deftrace-layouts BINARY\n";
        return 64;
    }
    try {
        auto bin = GoBinary::open(argv[1]);
        auto l = StructLayouts::from_dwarf(bin.elf());
        if (!l) {
            std::cerr << "deftrace-layouts: " << argv[1] << ": no DWARF\n";
            return 65;
        }
        l->go_version = bin.version().text;
        std::cout << l->to_json().dump(1) << "\n";
        return 0;
    } catch (const Error &e) {
        std::cerr << "deftrace-layouts: " << e.what() << "\n";
        return 65;
    }
}
