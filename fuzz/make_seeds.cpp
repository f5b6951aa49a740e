// Writes the generated seed corpora: deftrace_fuzz_seeds OUTDIR [GO_BINARY...]
//
// OUTDIR/<target>/ receives synthetic inputs (tests/unit/synthetic_*.cpp) for each target, and,
// from each real Go binary given, the pieces the component targets read: the whole file (ELF
// and inspect targets; libFuzzer cuts it to the target's -max_len), its .go.buildinfo blob and
// its open-coded defer payloads.
#include "binary/error.h"
#include "binary/go_binary.h"
#include "synthetic_go_binary.h"
#include "synthetic_pclntab.h"

#include <elf.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

using namespace deftrace;
using namespace deftrace::testing;
namespace fs = std::filesystem;

namespace {

fs::path out_dir;

void write_seed(const std::string &target, const std::string &name, const std::vector<uint8_t> &bytes) {
    const fs::path dir = out_dir / target;
    fs::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void synthetic_seeds() {
    const SynthGoOptions variants[] = {{19, true, false}, {20, true, false}, {22, true, false}, {22, false, false},
                                       {22, true, true},  {26, true, false}, {27, false, true}};
    for (const auto &v : variants) {
        const std::string name = "go1." + std::to_string(v.minor) + (v.section_headers ? "" : "-noshdr") +
                                 (v.pointer_buildinfo ? "-ptrbuildinfo" : "");
        const auto img = synthetic_go_binary(v);
        write_seed("fuzz_inspect", name, img.bytes);
        write_seed("fuzz_elf_file", name, img.bytes);
        if (v.section_headers && !v.pointer_buildinfo)
            write_seed("fuzz_pclntab", name,
                       {img.bytes.begin() + static_cast<long>(img.pclntab_file_off),
                        img.bytes.begin() + static_cast<long>(img.pclntab_file_off + img.pclntab_size)});
        // The data segment from its start: the build info blob, then moduledata.
        write_seed("fuzz_buildinfo", name,
                   {img.bytes.begin() + static_cast<long>(img.buildinfo_file_off),
                    img.bytes.begin() + static_cast<long>(img.moduledata_file_off)});
    }
    write_seed("fuzz_pclntab", "synthetic-two-funcs", SyntheticPclntab::make().bytes);
    write_seed("fuzz_pclntab", "synthetic-go12", go12_pclntab());
    write_seed("fuzz_elf_file", "header-only", build_elf({}));

    // decode_opendefer_info: format byte (0 Go117, 1 Go118, 2 Go122), then the payload.
    write_seed("fuzz_opendefer_info", "go122", {2, 0x21, 0x18});
    write_seed("fuzz_opendefer_info", "go118", {1, 0x21, 2, 0x18, 0x10});
    write_seed("fuzz_opendefer_info", "go117", {0, 0x10, 0x21, 2, 0, 0x18, 1, 0x08, 0x04, 0x02, 0, 0x10, 0});
}

void real_binary_seeds(const std::string &path) {
    const std::string base = fs::path(path).filename().string();
    const auto bytes = read_file(path);
    write_seed("fuzz_elf_file", base, bytes);
    write_seed("fuzz_inspect", base, bytes);
    const GoBinary bin = GoBinary::open(path);
    if (const auto *s = bin.elf().section(".go.buildinfo")) {
        const Bytes b = bin.elf().section_bytes(*s);
        write_seed("fuzz_buildinfo", base, {b.begin(), b.end()});
    }
    const uint8_t format_byte = static_cast<uint8_t>(bin.facts().opendefer_format);
    std::set<std::vector<uint8_t>> payloads;
    for (size_t i = 0; i < bin.pclntab().num_funcs() && payloads.size() < 32; ++i) {
        const FuncInfo f = bin.pclntab().func(i);
        auto at = bin.pclntab().funcdata(f, bin.facts().funcdata_opendefer, bin.moduledata().gofunc);
        if (!at)
            continue;
        if (auto b = bin.elf().bytes_from(*at)) {
            std::vector<uint8_t> p{format_byte};
            p.insert(p.end(), b->begin(), b->begin() + static_cast<long>(std::min<size_t>(b->size(), 24)));
            payloads.insert(p);
        }
    }
    int n = 0;
    for (const auto &p : payloads)
        write_seed("fuzz_opendefer_info", base + "-" + std::to_string(n++), p);
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::cerr << "usage: deftrace_fuzz_seeds OUTDIR [GO_BINARY...]\n";
        return 64;
    }
    out_dir = argv[1];
    try {
        synthetic_seeds();
        for (int i = 2; i < argc; ++i)
            real_binary_seeds(argv[i]);
    } catch (const Error &e) {
        std::cerr << "deftrace_fuzz_seeds: " << e.what() << "\n";
        return 65;
    }
    return 0;
}
