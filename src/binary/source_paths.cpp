#include "binary/source_paths.h"

namespace deftrace {

namespace {

// "mod\t<path>\t<version>" names the main module; without one, "path\t<pkg>" the main package.
std::string main_module(const BuildInfo &bi) {
    std::string module;
    for (size_t at = 0; at < bi.mod_info.size();) {
        size_t end = bi.mod_info.find('\n', at);
        std::string line = bi.mod_info.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (line.starts_with("mod\t"))
            module = line.substr(4, line.find('\t', 4) - 4);
        if (end == std::string::npos)
            break;
        at = end + 1;
    }
    return module.empty() ? bi.main_path : module;
}

// The source file of a function's entry, by its name; empty if there is no such function.
std::string file_of(const Pclntab &tab, std::string_view name) {
    auto i = tab.find_by_name(name);
    if (!i)
        return {};
    FuncInfo f = tab.func(*i);
    auto pos = tab.source_at(f, f.entry);
    return pos ? std::string(pos->file) : std::string();
}

} // namespace

nlohmann::ordered_json SourcePaths::to_json() const {
    nlohmann::ordered_json p = nlohmann::ordered_json::object();
    p["main_module"] = main_module;
    p["module_dir"] = module_dir;
    p["goroot"] = goroot;
    return p;
}

SourcePaths source_paths(const GoBinary &bin) {
    SourcePaths p;
    if (const auto &bi = bin.buildinfo())
        p.main_module = main_module(*bi);
    const Pclntab &tab = bin.pclntab();
    const std::string main_file = file_of(tab, "main.main");
    p.module_dir = main_file.substr(0, main_file.rfind('/') == std::string::npos ? 0 : main_file.rfind('/'));
    const std::string proc = file_of(tab, "runtime.main");
    const std::string tail = "/src/runtime/proc.go";
    p.goroot = proc.ends_with(tail) ? proc.substr(0, proc.size() - tail.size()) : std::string();
    return p;
}

} // namespace deftrace
