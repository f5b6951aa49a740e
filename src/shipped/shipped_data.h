// The data deftrace ships beside its executable — the runtime layout tables of stripped binaries
// and the resource probes of --leaks/--probes (the source tree's probes/) — where it is, and
// what is chosen from it for a program.
//
// Nothing is compiled in: the data is looked for relative to the running executable, so an
// installed tree (bin/deftrace, share/deftrace/probes) works wherever it is moved, and a build
// tree works through the copy of probes/ CMake links in next to the built binary.
#pragma once

#include "binary/go_binary.h"
#include "binary/struct_layouts.h"
#include "leaks/resource_probe.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

class ShippedData {
public:
    // The directories that may hold the data (each laid out as probes/: layouts/, resources/), in
    // the order they are tried. `probes_env` ($DEFTRACE_PROBES_DIR), when set, is the only one:
    // a directory the user names explicitly must not be silently replaced by another. Otherwise
    // <exe dir>/../share/deftrace/probes (an installed tree), then <exe dir>/share/deftrace/probes
    // (the build tree). Empty when `exe` is unknown and no directory is named.
    static std::vector<std::filesystem::path> search_path(const std::filesystem::path &exe, const char *probes_env);

    // The data of the running deftrace (/proc/self/exe, $DEFTRACE_PROBES_DIR). Only looks: a
    // missing directory is an error when something is asked of it, not before.
    static ShippedData of_this_process();

    explicit ShippedData(std::vector<std::filesystem::path> search_path);

    // The first directory of the search path that exists. Throws Error(UnsupportedGo) — exit 69,
    // as for an unsupported release — naming every directory looked in.
    [[nodiscard]] const std::filesystem::path &dir() const;
    [[nodiscard]] std::filesystem::path layouts_dir() const { return dir() / "layouts"; }
    [[nodiscard]] std::filesystem::path resources_dir() const { return dir() / "resources"; }

private:
    std::vector<std::filesystem::path> search_path_;
    std::optional<std::filesystem::path> found_;
};

// The runtime structure layouts for `bin`: from its own DWARF when it has any, otherwise the
// shipped table of its Go minor release (layouts/go1.NN.json), otherwise inferred from the
// runtime's code (analysis/layout_inference.h). Throws Error(UnsupportedGo) when none of these
// gives them, saying why each did not.
StructLayouts layouts_for(const GoBinary &bin, const ShippedData &data);

// The resource probes a command line asks for: each of `names_or_files` (a shipped NAME, or a
// probe FILE: see find_resource_probe) and, with `all_shipped`, every shipped probe. A probe
// named twice is kept once (each acquire and release would be reported twice otherwise). The
// data directory is only needed for names and `all_shipped`.
std::vector<ResourceProbe> resource_probes(const std::vector<std::string> &names_or_files, bool all_shipped,
                                           const ShippedData &data);

} // namespace deftrace
