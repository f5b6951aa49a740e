#include "release/go_releases.h"

#include <array>

namespace deftrace {

namespace {

using enum OpenDeferFormat;
using enum Era;
using enum RecoverRule;
using enum CallingConvention;

// Sources: runtime2.go, panic.go, symtab.go / internal/abi/symtab.go of each release, and
// moduledata offsets measured with DWARF (go-runtime.md §2.4, §3, §4.2, §5.4; go-runtime-1.15.md).
// 1.14, 1.16, 1.17, 1.18 and 1.20 have no toolchain in the matrix: their rows come from the
// sources of the releases around them, checked on real binaries (scripts/real-binaries.txt).
constexpr std::array kReleases = {
    // clang-format off
    //       minor magic      opendefer text gofunc types inltree opendefer gopanic wrapper inltree-nameoff name-varint
    //                        abi       deferproc-siz jmpdefer reflectcall
    //                        era deferproc-flag aborted open-scan-stops purge-when-done repanicked
    //                                                                    skips-older recover-rule in-matrix
    GoRelease{14, 0xfffffffb, Go117,  96,   0, 200, 4, 5, 18, 22, false, false, Stack,    true,  true,  true,
                              A, true,  true,  false, true,  false, false, ArgpMatch,       false},
    GoRelease{15, 0xfffffffb, Go117,  96,   0, 200, 4, 5, 18, 22, false, false, Stack,    true,  true,  true,
                              A, true,  true,  false, true,  false, false, ArgpMatch,       true},
    GoRelease{16, 0xfffffffa, Go117, 176,   0, 280, 3, 4, 18, 22, false, false, Stack,    true,  true,  true,
                              A, true,  true,  false, false, false, false, ArgpMatch,       false},
    GoRelease{17, 0xfffffffa, Go117, 176,   0, 280, 3, 4,  9, 22, false, true,  Register, true,  true,  false,
                              A, true,  true,  false, false, false, false, ArgpMatch,       false},
    GoRelease{18, 0xfffffff0, Go118, 176, 304, 280, 3, 4,  9, 21, false, true,  Register, false, false, false,
                              A, true,  true,  true,  false, false, false, ArgpMatch,       false},
    GoRelease{19, 0xfffffff0, Go118, 176, 304, 280, 3, 4,  9, 21, false, true,  Register, false, false, false,
                              A, true,  true,  true,  false, false, false, ArgpMatch,       true},
    GoRelease{20, 0xfffffff1, Go118, 176, 320, 296, 3, 4,  9, 21, true,  true,  Register, false, false, false,
                              A, true,  true,  true,  false, false, false, ArgpMatch,       false},
    GoRelease{21, 0xfffffff1, Go118, 176, 320, 296, 3, 4,  9, 21, true,  true,  Register, false, false, false,
                              A, true,  true,  true,  false, false, false, ArgpMatch,       true},
    GoRelease{22, 0xfffffff1, Go122, 176, 320, 296, 3, 4, 10, 22, true,  true,  Register, false, false, false,
                              B, true,  false, true,  false, false, false, ArgpMatch,       true},
    GoRelease{23, 0xfffffff1, Go122, 176, 320, 296, 3, 4, 10, 22, true,  true,  Register, false, false, false,
                              B, true,  false, true,  false, false, false, ArgpMatch,       true},
    GoRelease{24, 0xfffffff1, Go122, 176, 320, 296, 3, 4, 10, 22, true,  true,  Register, false, false, false,
                              B, true,  false, true,  false, false, false, ArgpMatch,       true},
    GoRelease{25, 0xfffffff1, Go122, 176, 320, 296, 3, 4, 10, 23, true,  true,  Register, false, false, false,
                              B, false, false, true,  false, true,  false, ArgpMatch,       true},
    GoRelease{26, 0xfffffff1, Go122, 176, 320, 296, 3, 4, 10, 23, true,  true,  Register, false, false, false,
                              B, false, false, true,  false, true,  false, FrameCountFP,    true},
    GoRelease{27, 0xfffffff1, Go122, 176, 344, 296, 3, 4, 10, 23, true,  true,  Register, false, false, false,
                              B, false, false, true,  false, true,  true,  FrameCountStart, true},
    // clang-format on
};

// go_release() indexes the table by minor, and the range is its first and last row: a gap or a
// row out of order would make both wrong.
constexpr bool consecutive() {
    for (size_t i = 1; i < kReleases.size(); ++i)
        if (kReleases[i].minor != kReleases[i - 1].minor + 1)
            return false;
    return true;
}
static_assert(!kReleases.empty() && consecutive(), "kReleases must list consecutive minor releases, oldest first");

} // namespace

const char *era_name(Era era) {
    switch (era) {
    case Era::A: return "A";
    case Era::B: return "B";
    }
    return "?";
}

std::string GoRelease::name() const {
    return "1." + std::to_string(minor);
}

std::span<const GoRelease> go_releases() {
    return kReleases;
}

const GoRelease &first_go_release() {
    return kReleases.front();
}

const GoRelease &last_go_release() {
    return kReleases.back();
}

const GoRelease *go_release(int major, int minor) {
    if (major != 1 || minor < kReleases.front().minor || minor > kReleases.back().minor)
        return nullptr;
    return &kReleases[static_cast<size_t>(minor - kReleases.front().minor)];
}

std::string supported_go_range() {
    return first_go_release().name() + "\u2013" + last_go_release().name();
}

std::string supported_go_sentence() {
    return "deftrace supports " + supported_go_range();
}

std::string unsupported_go_message(std::string_view version) {
    return "unsupported Go version " + std::string(version) + "; " + supported_go_sentence();
}

} // namespace deftrace
