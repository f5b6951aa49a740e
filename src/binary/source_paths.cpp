#include "binary/source_paths.h"

#include "binary/go_names.h"

#include <algorithm>
#include <array>
#include <optional>
#include <unordered_set>

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

bool has_module_line(const BuildInfo &bi) {
    return bi.mod_info.starts_with("mod\t") || bi.mod_info.find("\nmod\t") != std::string::npos;
}

std::vector<std::string_view> elements(std::string_view path) {
    std::vector<std::string_view> out;
    for (size_t at = 0; at <= path.size();) {
        const size_t slash = std::min(path.find('/', at), path.size());
        out.push_back(path.substr(at, slash - at));
        at = slash + 1;
    }
    return out;
}

// How many elements of an import path name a repository: host/owner/repo on the code hosts
// whose paths have an owner, host/repo on any other host (a vanity domain), the first element
// alone for a path without a host (GOPATH's own "myapp/...").
size_t repository_depth(const std::vector<std::string_view> &elems) {
    static const std::array<std::string_view, 6> kHostsWithOwners = {"github.com",   "gitlab.com", "bitbucket.org",
                                                                     "codeberg.org", "git.sr.ht",  "golang.org"};
    if (elems.empty() || elems[0].find('.') == std::string_view::npos)
        return 1;
    for (std::string_view host : kHostsWithOwners)
        if (elems[0] == host)
            return std::min<size_t>(3, elems.size());
    return std::min<size_t>(2, elems.size());
}

// Each package the program's functions belong to, but main and the standard library (no host in
// its first element), with the source file of the first of its functions found.
std::vector<std::pair<std::string, std::string>> package_files(const Pclntab &tab) {
    std::vector<std::pair<std::string, std::string>> out;
    std::unordered_set<std::string_view> seen;
    for (size_t i = 0; i < tab.num_funcs(); ++i) {
        const FuncInfo f = tab.func(i);
        const std::string_view pkg = package_of(tab.func_name(f));
        if (pkg.empty() || pkg == "main" || pkg.substr(0, pkg.find('/')).find('.') == std::string_view::npos ||
            !seen.insert(pkg).second)
            continue;
        if (const auto pos = tab.source_at(f, f.entry))
            out.emplace_back(std::string(pkg), std::string(pos->file));
    }
    return out;
}

} // namespace

nlohmann::ordered_json SourcePaths::to_json() const {
    nlohmann::ordered_json p = nlohmann::ordered_json::object();
    p["main_module"] = main_module;
    p["module_dir"] = module_dir;
    p["goroot"] = goroot;
    return p;
}

MainModule find_main_module(const GoBinary &bin) {
    const auto &bi = bin.buildinfo();
    if (bi && has_module_line(*bi))
        return {main_module(*bi), false};
    if (auto tested = tested_package(bin.pclntab()))
        return {tested->path, false};
    const std::string main_file = file_of(bin.pclntab(), "main.main");
    const std::string main_dir =
        main_file.substr(0, main_file.rfind('/') == std::string::npos ? 0 : main_file.rfind('/'));
    std::string main_path = bi ? bi->main_path : std::string();
    // A GOPATH build before Go 1.18 records no path at all: main's directory under the GOPATH
    // tree's src/ is its import path, when that starts with a host name; a command of the Go
    // distribution (cmd/vet) is at its path under GOROOT/src.
    if (bi && main_path.empty()) {
        const std::string goroot = goroot_of(bin.pclntab());
        if (!goroot.empty() && main_dir.starts_with(goroot + "/src/cmd/"))
            main_path = main_dir.substr(goroot.size() + 5);
        else if (const size_t src = main_dir.rfind("/src/"); src != std::string::npos) {
            const std::string candidate = main_dir.substr(src + 5);
            if (candidate.substr(0, candidate.find('/')).find('.') != std::string::npos)
                main_path = candidate;
        }
    }
    if (main_path.empty() || main_path == "command-line-arguments")
        return {main_path, false};
    return {infer_main_module(main_path, main_dir, package_files(bin.pclntab())), true};
}

std::string infer_main_module(const std::string &main_package, const std::string &main_dir,
                              const std::vector<std::pair<std::string, std::string>> &packages) {
    const std::vector<std::string_view> main_elems = elements(main_package);
    // A GOPATH tree keeps a package's sources at <root>/src/<import path> (with -trimpath, at the
    // import path itself): the program's own packages are under main's <root>; a dependency
    // installed elsewhere (a distribution's /usr/share/gocode) or vendored is not the program's.
    const bool gopath = main_dir.ends_with("/" + main_package);
    const bool trimmed = main_dir == main_package;
    const std::string root = gopath ? main_dir.substr(0, main_dir.size() - main_package.size()) : std::string();
    auto own = [&](const std::string &pkg, const std::string &file) {
        if (file.find("/vendor/") != std::string::npos)
            return false;
        return gopath ? file.starts_with(root) : trimmed && file.starts_with(pkg + "/");
    };
    const size_t floor = repository_depth(main_elems);
    size_t best = 0;
    for (const auto &[pkg, file] : packages) {
        if (!own(pkg, file))
            continue;
        const std::vector<std::string_view> elems = elements(pkg);
        size_t common = 0;
        while (common < elems.size() && common < main_elems.size() && elems[common] == main_elems[common])
            ++common;
        if (common >= floor && common < main_elems.size() && (best == 0 || common < best))
            best = common;
    }
    if (best == 0) // no other package of the program's: a "cmd" element ends the module's path
        for (size_t i = floor; i < main_elems.size(); ++i)
            if (main_elems[i] == "cmd") {
                best = i;
                break;
            }
    if (best == 0)
        return main_package;
    std::string out;
    for (size_t i = 0; i < best; ++i)
        out += (i == 0 ? "" : "/") + std::string(main_elems[i]);
    return out;
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
