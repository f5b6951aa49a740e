#include "output/view_text.h"

namespace deftrace {

namespace {
using json = nlohmann::ordered_json;
constexpr size_t kLabelBytes = 80;
constexpr size_t kArgBytes = 4096;
} // namespace

std::string str_of(const json &o, const char *key) {
    if (!o.is_object())
        return "";
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t int_of(const json &o, const char *key) {
    if (!o.is_object())
        return 0;
    auto it = o.find(key);
    return it != o.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string clipped(const std::string &s, size_t max) {
    if (s.size() <= max)
        return s;
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80)
        --cut; // not in the middle of a character
    return s.substr(0, cut) + "\u2026";
}

std::string value_label(const json &e) {
    auto it = e.find("value");
    if (it != e.end() && it->is_string()) {
        std::string v = it->get<std::string>();
        for (char &c : v)
            if (c == '\n' || c == '\r' || c == '\t')
                c = ' ';
        return clipped(v, kLabelBytes);
    }
    const std::string type = str_of(e, "type");
    return type.empty() || type == "nil" ? "<nil>" : "(" + type + ")";
}

std::string argv_text(const json &argv) {
    std::string out;
    if (argv.is_array())
        for (const auto &a : argv)
            if (a.is_string())
                out += (out.empty() ? "" : " ") + a.get<std::string>();
    return clipped(out, kLabelBytes);
}

std::string event_label(const json &e) {
    const std::string kind = str_of(e, "kind");
    auto with = [&](const char *key) { return clipped(str_of(e, key), kLabelBytes); };
    if (kind == "defer")
        return "defer " + with("fn") + " (" + with("defer_kind") + ")";
    if (kind == "defer_call")
        return "call " + with("fn") + " (" + with("cause") + ")";
    if (kind == "panic" || kind == "repanic")
        return kind + " " + value_label(e);
    if (kind == "recover")
        return e.value("recovered", false) ? "recover() = " + value_label(e)
                                           : "recover() = nil (" + with("reason") + ")";
    if (kind == "recovery")
        return "resume in " + with("resume");
    if (kind == "aborted")
        return "aborted " + value_label(e);
    if (kind == "fatal") {
        if (e.contains("error"))
            return "fatal error: " + with("error");
        const bool chain = e.contains("panics") && e["panics"].is_array() && !e["panics"].empty();
        return "fatal: panic " + (chain ? value_label(e["panics"].back()) : std::string("?"));
    }
    if (kind == "never_run") {
        const size_t n = e.contains("pending") && e["pending"].is_array() ? e["pending"].size() : 0;
        return "never run (" + with("cause") + "): " + std::to_string(n) + " pending";
    }
    if (kind == "exec" || kind == "child")
        return kind + " " + with("program");
    if (kind == "acquire" || kind == "release")
        return kind + " " + with("resource");
    if (kind == "divergence")
        return "divergence: " + with("rule");
    if (kind == "exit") {
        if (e.value("detached", false))
            return "detached";
        if (e.contains("signal_name"))
            return "killed by " + with("signal_name");
        return "exit " + std::to_string(int_of(e, "status"));
    }
    return kind;
}

json view_args(const json &e) {
    if (e.is_string()) {
        const auto &s = e.get_ref<const std::string &>();
        return s.size() > kArgBytes ? json(clipped(s, kArgBytes) + " (" + std::to_string(s.size()) + " bytes)") : e;
    }
    if (e.is_array()) {
        json a = json::array();
        for (const auto &x : e)
            a.push_back(view_args(x));
        return a;
    }
    if (!e.is_object())
        return e;
    json o = json::object();
    for (auto it = e.begin(); it != e.end(); ++it)
        if (it.key() != "seq")
            o[it.key()] = view_args(it.value());
    return o;
}

std::string view_dump(const json &j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace deftrace
