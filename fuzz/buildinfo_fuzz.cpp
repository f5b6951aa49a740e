// read_buildinfo on an arbitrary blob: the input is the first writable PT_LOAD of a small ELF
// (mapped at 0x4e0000, no section headers), where the reader looks for the blob, so both the
// inline form and the pointer form (addresses into the same segment) are reachable. The strings
// read are then used as GoBinary and `inspect --json` use them.
#include "binary/buildinfo.h"
#include "binary/go_version.h"
#include "fuzz_common.h"
#include "synthetic_go_binary.h"

#include <elf.h>
#include <nlohmann/json.hpp>

using namespace deftrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const testing::SynthSegment text{PF_R | PF_X, 0x401000, {0xc3}};
    const testing::SynthSegment blob{PF_R | PF_W, 0x4e0000, std::vector<uint8_t>(data, data + size)};
    const auto image = testing::build_elf({text, blob});
    fuzz::run_reader([&] {
        const ElfFile elf = ElfFile::from_bytes(image, "fuzz");
        const auto bi = read_buildinfo(elf);
        if (!bi)
            return;
        if (auto v = GoVersion::parse(bi->go_version))
            (void)v->minor_string();
        nlohmann::json j;
        j["go_version"] = bi->go_version;
        j["main_path"] = bi->main_path;
        j["mod_info"] = bi->mod_info;
        (void)j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    });
    return 0;
}
