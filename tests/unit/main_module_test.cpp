// The main module of a binary built without modules, inferred from its packages' import paths and
// source files (binary/source_paths.h): the layouts GOPATH builds leave in the pclntab.
#include "binary/source_paths.h"

#include <gtest/gtest.h>

namespace deftrace {
namespace {

using Packages = std::vector<std::pair<std::string, std::string>>;

// Debian's restic: its own tree under the build's GOPATH, its dependencies under
// /usr/share/gocode, another GOPATH root.
TEST(MainModule, AGopathBuildTakesThePackagesOfItsOwnTree) {
    const Packages pkgs = {
        {"github.com/restic/restic/internal/repository",
         "/build/_build/src/github.com/restic/restic/internal/repository/repository.go"},
        {"github.com/restic/restic/internal/backend/sftp",
         "/build/_build/src/github.com/restic/restic/internal/backend/sftp/sftp.go"},
        {"github.com/restic/chunker", "/usr/share/gocode/src/github.com/restic/chunker/chunker.go"},
        {"github.com/minio/minio-go/v7", "/usr/share/gocode/src/github.com/minio/minio-go/v7/api.go"},
    };
    EXPECT_EQ(infer_main_module("github.com/restic/restic/cmd/restic",
                                "/build/_build/src/github.com/restic/restic/cmd/restic", pkgs),
              "github.com/restic/restic");
}

// -trimpath: every file is named by its import path; a dependency of the same owner is still
// another repository.
TEST(MainModule, ATrimmedBuildStopsAtTheRepository) {
    const Packages pkgs = {
        {"github.com/restic/chunker", "github.com/restic/chunker/chunker.go"},
        {"github.com/restic/restic/internal/fs", "github.com/restic/restic/internal/fs/fs.go"},
        {"golang.org/x/sync/errgroup", "golang.org/x/sync/errgroup/errgroup.go"},
    };
    EXPECT_EQ(infer_main_module("github.com/restic/restic/cmd/restic", "github.com/restic/restic/cmd/restic", pkgs),
              "github.com/restic/restic");
}

TEST(MainModule, VendoredPackagesAreNotTheProgramsOwn) {
    const Packages pkgs = {
        {"example.com/tool/vendor/example.com/lib", "/go/src/example.com/tool/vendor/example.com/lib/lib.go"},
        {"example.com/other", "/go/src/example.com/other/other.go"},
    };
    // No package of its own but main: the path before "cmd".
    EXPECT_EQ(infer_main_module("example.com/tool/cmd/tool", "/go/src/example.com/tool/cmd/tool", pkgs),
              "example.com/tool");
    // Nor that: the main package itself.
    EXPECT_EQ(infer_main_module("example.com/tool", "/go/src/example.com/tool", pkgs), "example.com/tool");
}

TEST(MainModule, APackageBelowMainDoesNotNarrowIt) {
    const Packages pkgs = {
        {"example.com/acme/tool/cmd/tool/flags", "/g/src/example.com/acme/tool/cmd/tool/flags/flags.go"},
        {"example.com/acme/tool/internal/store", "/g/src/example.com/acme/tool/internal/store/store.go"},
    };
    EXPECT_EQ(infer_main_module("example.com/acme/tool/cmd/tool", "/g/src/example.com/acme/tool/cmd/tool", pkgs),
              "example.com/acme/tool");
}

} // namespace
} // namespace deftrace
