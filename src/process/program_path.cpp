#include "process/program_path.h"

#include "binary/error.h"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace deftrace {

std::string resolve_program(const std::string &name) {
    namespace fs = std::filesystem;
    if (name.find('/') != std::string::npos)
        return name;
    const char *path = std::getenv("PATH");
    std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= p.size()) {
        size_t end = p.find(':', start);
        std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
        fs::path cand = fs::path(dir.empty() ? "." : dir) / name;
        if (access(cand.c_str(), X_OK) == 0 && fs::is_regular_file(cand))
            return cand.string();
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    throw Error(ErrorKind::NotFound, name + ": command not found");
}

} // namespace deftrace
