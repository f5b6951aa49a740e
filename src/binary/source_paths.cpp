#include "binary/source_paths.h"

#include <optional>

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

// The Go root: where runtime.main's file is.
std::string goroot_of(const Pclntab &tab) {
    const std::string proc = file_of(tab, "runtime.main");
    const std::string tail = "/src/runtime/proc.go";
    return proc.ends_with(tail) ? proc.substr(0, proc.size() - tail.size()) : std::string();
}

// A test binary (go test): its main.main is in the _testmain.go that go test generates, recorded
// without a directory, and before Go 1.20ish its build information names no main module. The
// package under test is that of its Test functions, in their directory.
struct TestedPackage {
    std::string dir, path;
};
std::optional<TestedPackage> tested_package(const Pclntab &tab) {
    if (file_of(tab, "main.main").find('/') != std::string::npos)
        return std::nullopt;
    const std::string goroot = goroot_of(tab);
    for (size_t i = 0; i < tab.num_funcs(); ++i) {
        const FuncInfo f = tab.func(i);
        const std::string_view name = tab.func_name(f);
        const size_t dot = name.rfind('.');
        if (dot == std::string_view::npos || !name.substr(dot + 1).starts_with("Test") ||
            name.substr(0, dot).find_first_of("()[") != std::string_view::npos)
            continue;
        const auto pos = tab.source_at(f, f.entry);
        if (!pos || !pos->file.starts_with('/') || (!goroot.empty() && pos->file.starts_with(goroot + "/")))
            continue;
        const std::string file(pos->file);
        std::string path(name.substr(0, dot));
        if (path.ends_with("_test")) // an external test package: package foo_test
            path.resize(path.size() - 5);
        return TestedPackage{file.substr(0, file.rfind('/')), path};
    }
    return std::nullopt;
}

} // namespace

nlohmann::ordered_json SourcePaths::to_json() const {
    nlohmann::ordered_json p = nlohmann::ordered_json::object();
    p["main_module"] = main_module;
    p["module_dir"] = module_dir;
    p["goroot"] = goroot;
    return p;
}

std::string main_module_of(const GoBinary &bin) {
    const auto &bi = bin.buildinfo();
    std::string module = bi ? main_module(*bi) : std::string();
    if (module.empty())
        if (auto tested = tested_package(bin.pclntab()))
            module = tested->path;
    return module;
}

SourcePaths source_paths(const GoBinary &bin) {
    SourcePaths p;
    p.main_module = main_module_of(bin);
    const Pclntab &tab = bin.pclntab();
    p.goroot = goroot_of(tab);
    const std::string main_file = file_of(tab, "main.main");
    p.module_dir = main_file.substr(0, main_file.rfind('/') == std::string::npos ? 0 : main_file.rfind('/'));
    if (auto tested = tested_package(tab))
        p.module_dir = tested->dir;
    return p;
}

} // namespace deftrace
