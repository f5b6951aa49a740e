#include "binary/name_pattern.h"

#include "binary/error.h"

#include <re2/re2.h>

namespace deftrace {

NamePattern NamePattern::compile(const std::string &text, const std::string &option) {
    RE2::Options o;
    o.set_log_errors(false); // the error is ours to say, in one line
    // RE2's default memory budget (8 MiB) bounds what a pattern may compile to; a larger pattern
    // is refused as invalid rather than run slowly.
    auto re = std::make_shared<const RE2>(text, o);
    if (!re->ok())
        throw Error(ErrorKind::Usage, option + ": not a valid regular expression: " + text + " (" + re->error() + ")");
    return NamePattern(text, std::move(re));
}

bool NamePattern::search(std::string_view name) const {
    return RE2::PartialMatch(re2::StringPiece(name.data(), name.size()), *re_);
}

} // namespace deftrace
