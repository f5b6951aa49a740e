#include "shipped/shipped_data.h"

#include "analysis/layout_inference.h"
#include "binary/error.h"
#include "binary/input_file.h"
#include "binary/json_input.h"

#include <algorithm>
#include <cstdlib>

namespace deftrace {

namespace fs = std::filesystem;

std::vector<fs::path> ShippedData::search_path(const fs::path &exe, const char *probes_env) {
    if (probes_env != nullptr && *probes_env != '\0')
        return {fs::path(probes_env)};
    if (exe.empty())
        return {};
    // Lexically normal, so that the message names /opt/deftrace/share/..., not .../bin/../share;
    // the kernel gives /proc/self/exe with symbolic links resolved, so `..` is the real parent.
    const fs::path bin = exe.parent_path();
    return {(bin / ".." / "share" / "deftrace" / "probes").lexically_normal(),
            (bin / "share" / "deftrace" / "probes").lexically_normal()};
}

ShippedData ShippedData::of_this_process() {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec)
        exe.clear();
    return ShippedData(search_path(exe, std::getenv("DEFTRACE_PROBES_DIR")));
}

ShippedData::ShippedData(std::vector<fs::path> search_path) : search_path_(std::move(search_path)) {
    std::error_code ec;
    for (const fs::path &dir : search_path_)
        if (fs::is_directory(dir, ec)) {
            found_ = dir;
            break;
        }
}

const fs::path &ShippedData::dir() const {
    if (found_)
        return *found_;
    std::string looked;
    for (const fs::path &dir : search_path_)
        looked += (looked.empty() ? "" : ", ") + dir.string();
    if (looked.empty())
        looked = "nowhere (the executable's own path is unknown and DEFTRACE_PROBES_DIR is not set)";
    throw Error(ErrorKind::UnsupportedGo,
                "deftrace's data (runtime layout tables, resource probes) is missing: looked in " + looked);
}

StructLayouts layouts_for(const GoBinary &bin, const ShippedData &data) {
    if (bin.has_dwarf())
        if (auto l = StructLayouts::from_dwarf(bin.elf()); l && !l->empty())
            return *l;
    const std::string file = "go" + bin.version().minor_string() + ".json";
    std::string why; // why no table was used, for the message if the inference fails too
    try {
        const fs::path dir = data.layouts_dir();
        std::error_code ec;
        if (fs::exists(dir / file, ec)) {
            auto j = parse_json_input(read_input_file((dir / file).string(), "layout table"), 16);
            if (j)
                if (auto l = StructLayouts::from_table(*j))
                    return *l;
        }
        why = "no runtime layout table " + file + " is shipped for it in " + dir.string();
    } catch (const Error &e) {
        why = e.what();
    }
    // No table for this release (Go 1.18 and 1.20 have no toolchain to make one): read the
    // offsets from the runtime's own code.
    try {
        return infer_runtime_layouts(bin, Disassembler());
    } catch (const Error &e) {
        throw Error(ErrorKind::UnsupportedGo,
                    bin.path() + ": stripped binary built by " + bin.version().text + ", " + why + "; " + e.what());
    }
}

std::vector<ResourceProbe> resource_probes(const std::vector<std::string> &names_or_files, bool all_shipped,
                                           const ShippedData &data) {
    std::vector<ResourceProbe> out;
    auto known = [&](const ResourceProbe &p) {
        return std::any_of(out.begin(), out.end(), [&](const ResourceProbe &q) { return q.name == p.name; });
    };
    for (const auto &p : names_or_files) {
        // A probe file does not need the shipped data: a broken install must not refuse it.
        const fs::path dir = is_probe_file_name(p) ? fs::path() : data.resources_dir();
        if (ResourceProbe probe = find_resource_probe(p, dir); !known(probe)) {
            probe.named = true;
            out.push_back(std::move(probe));
        }
    }
    if (all_shipped)
        for (auto &p : shipped_resource_probes(data.resources_dir()))
            if (!known(p))
                out.push_back(std::move(p));
    return out;
}

} // namespace deftrace
