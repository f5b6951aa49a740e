#include "file_roles.h"

#include "binary/error.h"
#include "output/text_safety.h"

#include <filesystem>
#include <optional>
#include <sys/stat.h>
#include <variant>

namespace deftrace {

namespace {

namespace fs = std::filesystem;

struct Inode {
    dev_t dev;
    ino_t ino;
    bool operator==(const Inode &) const = default;
};

// What makes two names one file: its inode if it exists, else where its name leads. A file that
// is neither regular nor absent (a device, a pipe, a terminal) has no identity worth comparing.
using Identity = std::variant<std::monostate, Inode, fs::path>;

Identity identity_of(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0)
        return S_ISREG(st.st_mode) ? Identity{Inode{st.st_dev, st.st_ino}} : Identity{};
    std::error_code ec;
    fs::path where = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return ec ? Identity{} : Identity{where};
}

std::string shown(const NamedFile &f) {
    return f.named ? f.role + " " + terminal_safe(f.path) : f.role;
}

} // namespace

void refuse_shared_files(const std::vector<NamedFile> &inputs, const std::vector<NamedFile> &outputs) {
    std::vector<std::pair<const NamedFile *, Identity>> seen;
    for (const NamedFile &f : inputs)
        seen.emplace_back(&f, identity_of(f.path));
    for (const NamedFile &out : outputs) {
        Identity id = identity_of(out.path);
        if (std::holds_alternative<std::monostate>(id))
            continue;
        for (const auto &[other, other_id] : seen)
            if (other_id == id)
                throw Error(ErrorKind::Usage, shown(out) + " is the same file as " + shown(*other) +
                                                  ": writing the trace there would destroy it");
        seen.emplace_back(&out, std::move(id));
    }
}

} // namespace deftrace
