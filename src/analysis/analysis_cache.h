// The defer-site analysis of a binary kept between runs. Analysing a large program (rclone,
// hugo: thousands of functions decoded) is most of deftrace's start-up, and the same binary is
// traced again and again (a test loop, a CI job). The analysis depends only on the binary, the
// functions asked for and deftrace itself, so that is the key:
//   - the binary: its Go build ID (the .note.go.buildid section, which stripping keeps) and its
//     size; without a build ID, the file's device, inode, size and modification time;
//   - `what`: the caller's name for the functions it analyses ("scope=all", ...);
//   - deftrace: its own executable's device, inode, size and modification time, so that a new
//     build of deftrace never reads what an old one wrote.
// Files live in $XDG_CACHE_HOME/deftrace/analysis (~/.cache/...), are written whole (a
// temporary file renamed into place) and hold a check of their own key; one that cannot be read
// back whole is ignored, and so is one that another user owns or could have written (the
// analysis decides where deftrace writes into a process). At most kMaxEntries are kept (the
// least recently written go first). DEFTRACE_NO_CACHE=1 neither reads nor writes. Any failure
// to read or write is silent: the analysis is then simply done.
#pragma once

#include "analysis/defer_sites.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace deftrace {

class AnalysisCache {
public:
    static constexpr size_t kMaxEntries = 256;

    // The user's cache, or one that does nothing (no HOME, DEFTRACE_NO_CACHE).
    static AnalysisCache for_user();
    explicit AnalysisCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

    // The analysis of `bin` for `what`, if an earlier run stored it.
    [[nodiscard]] std::optional<std::vector<FunctionDefers>> load(const GoBinary &bin, const std::string &what) const;
    void store(const GoBinary &bin, const std::string &what, const std::vector<FunctionDefers> &sites) const;
    [[nodiscard]] bool enabled() const { return !dir_.empty(); }

private:
    [[nodiscard]] std::string key(const GoBinary &bin, const std::string &what) const;
    std::filesystem::path dir_;
};

// The analysis as the cache stores it, and back (exposed for the round-trip test).
std::string serialize_analysis(const std::vector<FunctionDefers> &sites);
std::optional<std::vector<FunctionDefers>> deserialize_analysis(const std::string &text);

} // namespace deftrace
