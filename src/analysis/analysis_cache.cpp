#include "analysis/analysis_cache.h"

#include "binary/fnv1a.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace deftrace {

namespace {

using json = nlohmann::json;

// Bump when the stored form changes.
constexpr int kFormat = 1;

std::string hex64(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// A file's identity: device, inode, size, modification time (ns).
std::string identity(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return {};
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

std::string self_identity() {
    static const std::string id = identity("/proc/self/exe");
    return id;
}

json opt_addr(const std::optional<LinkAddr> &a) {
    return a ? json(a->value()) : json();
}
std::optional<LinkAddr> addr_opt(const json &j) {
    return j.is_null() ? std::nullopt : std::optional(LinkAddr(j.get<uint64_t>()));
}

json to_json(const DeferSite &s) {
    return json::array({static_cast<int>(s.kind), s.pc.value(), s.file, s.line, s.runtime_call, s.bit});
}
DeferSite site_from(const json &j) {
    DeferSite s;
    s.kind = static_cast<DeferKind>(j.at(0).get<int>());
    s.pc = LinkAddr(j.at(1).get<uint64_t>());
    s.file = j.at(2).get<std::string>();
    s.line = j.at(3).get<int32_t>();
    s.runtime_call = j.at(4).get<std::string>();
    s.bit = j.at(5).get<int>();
    return s;
}

json to_json(const OpenCodedFrame &f) {
    json slots = json::array(), exits = json::array();
    for (const auto &o : f.slot_sp_offsets)
        slots.push_back(o ? json(*o) : json());
    for (const auto &e : f.exits)
        exits.push_back(json::array({e.bit, e.clear_pc.value(), e.call_pc.value(), opt_addr(e.target), e.target_name}));
    const OpenDeferInfo &i = f.info;
    json info =
        json::array({static_cast<int>(i.format), i.deferbits_offset, i.slots_offset ? json(*i.slots_offset) : json(),
                     i.closure_offsets, i.defer_count ? json(*i.defer_count) : json()});
    return json::array({info, f.frame_size, f.deferbits_sp_offset, f.defer_count, slots, exits});
}
OpenCodedFrame frame_from(const json &j) {
    OpenCodedFrame f;
    const json &info = j.at(0);
    f.info.format = static_cast<OpenDeferFormat>(info.at(0).get<int>());
    f.info.deferbits_offset = info.at(1).get<uint64_t>();
    if (!info.at(2).is_null())
        f.info.slots_offset = info.at(2).get<uint64_t>();
    f.info.closure_offsets = info.at(3).get<std::vector<uint64_t>>();
    if (!info.at(4).is_null())
        f.info.defer_count = info.at(4).get<uint32_t>();
    f.frame_size = j.at(1).get<int64_t>();
    f.deferbits_sp_offset = j.at(2).get<int64_t>();
    f.defer_count = j.at(3).get<int>();
    for (const auto &o : j.at(4))
        f.slot_sp_offsets.push_back(o.is_null() ? std::nullopt : std::optional(o.get<int64_t>()));
    for (const auto &e : j.at(5)) {
        OpenCodedExit x;
        x.bit = e.at(0).get<int>();
        x.clear_pc = LinkAddr(e.at(1).get<uint64_t>());
        x.call_pc = LinkAddr(e.at(2).get<uint64_t>());
        x.target = addr_opt(e.at(3));
        x.target_name = e.at(4).get<std::string>();
        f.exits.push_back(std::move(x));
    }
    return f;
}

std::filesystem::path user_dir() {
    if (const char *no = std::getenv("DEFTRACE_NO_CACHE"); no != nullptr && *no != '\0' && std::string_view(no) != "0")
        return {};
    if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/')
        return std::filesystem::path(xdg) / "deftrace" / "analysis";
    if (const char *home = std::getenv("HOME"); home != nullptr && *home == '/')
        return std::filesystem::path(home) / ".cache" / "deftrace" / "analysis";
    return {};
}

// The least recently written entries beyond kMaxEntries go.
void prune(const std::filesystem::path &dir) {
    std::error_code ec;
    std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> entries;
    for (const auto &e : std::filesystem::directory_iterator(dir, ec))
        if (e.path().extension() == ".json")
            entries.emplace_back(e.last_write_time(ec), e.path());
    if (entries.size() <= AnalysisCache::kMaxEntries)
        return;
    std::sort(entries.begin(), entries.end());
    for (size_t i = 0; i + AnalysisCache::kMaxEntries < entries.size(); ++i)
        std::filesystem::remove(entries[i].second, ec);
}

} // namespace

std::string serialize_analysis(const std::vector<FunctionDefers> &sites) {
    json out = json::array();
    for (const auto &f : sites) {
        json s = json::array();
        for (const auto &d : f.sites)
            s.push_back(to_json(d));
        out.push_back(json::array({f.name, f.entry.value(), f.end.value(), f.file, f.line, opt_addr(f.deferreturn_call),
                                   s, f.open_coded ? to_json(*f.open_coded) : json(), f.notes}));
    }
    return out.dump();
}

std::optional<std::vector<FunctionDefers>> deserialize_analysis(const std::string &text) {
    const json in = json::parse(text, nullptr, false);
    if (!in.is_array())
        return std::nullopt;
    try {
        std::vector<FunctionDefers> out;
        out.reserve(in.size());
        for (const auto &j : in) {
            FunctionDefers f;
            f.name = j.at(0).get<std::string>();
            f.entry = LinkAddr(j.at(1).get<uint64_t>());
            f.end = LinkAddr(j.at(2).get<uint64_t>());
            f.file = j.at(3).get<std::string>();
            f.line = j.at(4).get<int32_t>();
            f.deferreturn_call = addr_opt(j.at(5));
            for (const auto &s : j.at(6))
                f.sites.push_back(site_from(s));
            if (!j.at(7).is_null())
                f.open_coded = frame_from(j.at(7));
            f.notes = j.at(8).get<std::vector<std::string>>();
            out.push_back(std::move(f));
        }
        return out;
    } catch (const json::exception &) {
        return std::nullopt;
    }
}

AnalysisCache AnalysisCache::for_user() {
    return AnalysisCache(user_dir());
}

std::string AnalysisCache::key(const GoBinary &bin, const std::string &what) const {
    std::string binary;
    // A Go build ID (actionID/contentID, the latter a hash of the linked file) is some 80 bytes;
    // `-ldflags=-buildid=` leaves the note without one, and then the file itself is the key.
    const ElfSection *note = bin.elf().section(".note.go.buildid");
    if (note != nullptr && note->has_file_bytes() && note->size >= 16 + 40) {
        const Bytes b = bin.elf().section_bytes(*note);
        struct stat st {};
        if (::stat(bin.path().c_str(), &st) != 0)
            return {}; // not a file (an image in memory): not kept
        binary = "buildid " + hex64(fnv1a(std::string_view(reinterpret_cast<const char *>(b.data()), b.size()))) +
                 " size " + std::to_string(st.st_size);
    } else {
        binary = "file " + identity(bin.path());
    }
    const std::string self = self_identity();
    if (self.empty() || binary.ends_with("file "))
        return {};
    return "deftrace-analysis/" + std::to_string(kFormat) + " deftrace " + self + " " + binary + " " + what;
}

std::optional<std::vector<FunctionDefers>> AnalysisCache::load(const GoBinary &bin, const std::string &what) const {
    if (!enabled())
        return std::nullopt;
    const std::string k = key(bin, what);
    if (k.empty())
        return std::nullopt;
    // Only what this user wrote, in a directory no one else may write: what the analysis says
    // decides where deftrace writes into a process.
    const std::filesystem::path path = dir_ / (hex64(fnv1a(k)) + ".json");
    struct stat dir_st = {};
    struct stat file_st = {};
    if (::stat(dir_.c_str(), &dir_st) != 0 || ::stat(path.c_str(), &file_st) != 0 || dir_st.st_uid != ::geteuid() ||
        file_st.st_uid != ::geteuid() || (dir_st.st_mode & 022) != 0 || (file_st.st_mode & 022) != 0)
        return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    std::string first;
    if (!in || !std::getline(in, first) || first != k)
        return std::nullopt; // absent, or another key with the same hash
    std::stringstream rest;
    rest << in.rdbuf();
    return deserialize_analysis(rest.str());
}

void AnalysisCache::store(const GoBinary &bin, const std::string &what,
                          const std::vector<FunctionDefers> &sites) const {
    if (!enabled())
        return;
    const std::string k = key(bin, what);
    if (k.empty() || k.find('\n') != std::string::npos)
        return;
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
    const std::string stem = hex64(fnv1a(k));
    const std::filesystem::path final_path = dir_ / (stem + ".json");
    const std::filesystem::path tmp = dir_ / (stem + "." + std::to_string(::getpid()) + ".tmp");
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << k << "\n" << serialize_analysis(sites);
        if (!out.flush()) {
            std::filesystem::remove(tmp, ec);
            return;
        }
    }
    std::filesystem::rename(tmp, final_path, ec);
    if (ec)
        std::filesystem::remove(tmp, ec);
    prune(dir_);
}

} // namespace deftrace
