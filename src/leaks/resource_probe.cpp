#include "leaks/resource_probe.h"

#include "binary/error.h"
#include "binary/input_file.h"
#include "binary/json_input.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace deftrace {

namespace fs = std::filesystem;

namespace {

HandleSlot parse_handle(const std::string &spec, const std::string &where) {
    HandleSlot h;
    const std::string s = spec.starts_with("*") ? spec.substr(1) : spec;
    h.deref = spec.starts_with("*");
    auto number = [&](std::string_view digits) {
        if (digits.empty() || digits.size() > 1 || digits[0] < '0' || digits[0] > '8')
            throw Error(ErrorKind::Usage,
                        where + ": handle \"" + spec + "\" must be [*]receiver, [*]argN or [*]resultN (N 0-8)");
        return digits[0] - '0';
    };
    if (s == "receiver") {
        h.from = HandleSlot::From::Argument;
        h.index = 0;
    } else if (s.starts_with("arg")) {
        h.from = HandleSlot::From::Argument;
        h.index = number(std::string_view(s).substr(3));
    } else if (s.starts_with("result")) {
        h.from = HandleSlot::From::Result;
        h.index = number(std::string_view(s).substr(6));
    } else {
        number("");
    }
    return h;
}

std::vector<ProbedFunction> parse_functions(const nlohmann::json &j, const char *key, const std::string &where) {
    std::vector<ProbedFunction> out;
    if (!j.contains(key) || !j[key].is_array() || j[key].empty())
        throw Error(ErrorKind::Usage, where + ": \"" + key + "\" must be a non-empty array");
    for (const auto &f : j[key]) {
        if (!f.is_object() || !f.contains("function") || !f["function"].is_string() || !f.contains("handle") ||
            !f["handle"].is_string())
            throw Error(ErrorKind::Usage, where + ": every \"" + key + "\" entry needs \"function\" and \"handle\"");
        ProbedFunction pf{f["function"].get<std::string>(), parse_handle(f["handle"].get<std::string>(), where),
                          std::nullopt};
        if (std::string_view(key) == "release" && pf.handle.from == HandleSlot::From::Result)
            throw Error(ErrorKind::Usage, where + ": " + pf.function +
                                              ": a release's handle is an argument (receiver or argN), not a result");
        if (f.contains("inlined")) {
            const auto &r = f["inlined"];
            if (!r.is_object() || !r.contains("instruction") || !r["instruction"].is_string() ||
                r["instruction"].get<std::string>().empty() ||
                (r.contains("offset") && !r["offset"].is_number_integer()))
                throw Error(ErrorKind::Usage, where + ": " + pf.function +
                                                  ": \"inlined\" must be {\"instruction\": MNEMONIC, \"offset\": N}");
            if (pf.handle.from == HandleSlot::From::Result)
                throw Error(ErrorKind::Usage,
                            where + ": " + pf.function +
                                ": \"inlined\" needs an argument handle (an inlined call has no return)");
            pf.inlined = InlinedRule{r["instruction"].get<std::string>(), r.value("offset", int64_t{0})};
        }
        out.push_back(std::move(pf));
    }
    return out;
}

} // namespace

ResourceProbe load_resource_probe(const fs::path &file) {
    const std::string where = file.string();
    // A probe file is a few hundred bytes and nests four levels; a megabyte and 16 are plenty.
    auto parsed = parse_json_input(read_input_file(where, "probe", size_t{1} << 20), 16);
    if (!parsed || !parsed->is_object())
        throw Error(ErrorKind::Usage, where + ": not JSON");
    const nlohmann::json j = *parsed;
    auto text = [&](const char *key, const std::string &fallback) {
        if (!j.contains(key))
            return fallback;
        if (!j[key].is_string())
            throw Error(ErrorKind::Usage, where + ": \"" + key + "\" must be a string");
        return j[key].get<std::string>();
    };
    if (text("schema", "") != "deftrace.probe/1")
        throw Error(ErrorKind::Usage, where + ": not a deftrace.probe/1 file");
    ResourceProbe p;
    p.name = text("name", file.stem().string());
    p.resource = text("resource", p.name);
    p.acquire = parse_functions(j, "acquire", where);
    p.release = parse_functions(j, "release", where);
    const std::string callers = text("callers", "all");
    if (callers != "all" && callers != "program")
        throw Error(ErrorKind::Usage, where + ": \"callers\" must be \"all\" or \"program\"");
    p.program_callers_only = callers == "program";
    return p;
}

bool is_probe_file_name(const std::string &name_or_file) {
    return name_or_file.find('/') != std::string::npos || name_or_file.ends_with(".json");
}

ResourceProbe find_resource_probe(const std::string &name_or_file, const fs::path &dir) {
    if (is_probe_file_name(name_or_file))
        return load_resource_probe(name_or_file);
    const fs::path file = dir / (name_or_file + ".json");
    if (!fs::exists(file)) {
        std::string known;
        for (const auto &p : shipped_resource_probes(dir))
            known += (known.empty() ? "" : ", ") + p.name;
        throw Error(ErrorKind::Usage, "no probe named " + name_or_file + " (shipped: " + known + ")");
    }
    return load_resource_probe(file);
}

std::vector<ResourceProbe> shipped_resource_probes(const fs::path &dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".json")
            files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<ResourceProbe> out;
    for (const auto &f : files)
        out.push_back(load_resource_probe(f));
    return out;
}

} // namespace deftrace
