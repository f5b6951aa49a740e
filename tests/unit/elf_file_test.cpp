#include "binary/elf_file.h"
#include "binary/error.h"
#include "binary/go_binary.h"

#include <cstring>
#include <elf.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

namespace deftrace::testing {
namespace {

namespace fs = std::filesystem;

class ElfErrors : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("deftrace-elf-" + std::to_string(getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string &name, const std::vector<uint8_t> &bytes) {
        auto p = (dir_ / name).string();
        std::ofstream(p, std::ios::binary)
            .write(reinterpret_cast<const char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        return p;
    }

    static ErrorKind kind_of(const std::string &path) {
        try {
            (void)GoBinary::open(path);
        } catch (const Error &e) {
            EXPECT_NE(std::string(e.what()).find(path), std::string::npos)
                << "message should name the file: " << e.what();
            return e.kind();
        }
        ADD_FAILURE() << path << " was accepted";
        return ErrorKind::Io;
    }

    // A minimal ELF header: class, data, machine as given; no program or section headers.
    static std::vector<uint8_t> elf_header(uint8_t cls, uint16_t machine) {
        std::vector<uint8_t> b(64, 0);
        std::memcpy(b.data(), ELFMAG, SELFMAG);
        b[EI_CLASS] = cls;
        b[EI_DATA] = ELFDATA2LSB;
        b[EI_VERSION] = EV_CURRENT;
        uint16_t type = ET_EXEC;
        std::memcpy(b.data() + 16, &type, 2);
        std::memcpy(b.data() + 18, &machine, 2);
        uint32_t version = EV_CURRENT;
        std::memcpy(b.data() + 20, &version, 4);
        if (cls == ELFCLASS64) {
            uint16_t ehsize = 64;
            std::memcpy(b.data() + 52, &ehsize, 2);
        } else {
            b.resize(52);
            uint16_t ehsize = 52;
            std::memcpy(b.data() + 40, &ehsize, 2);
        }
        return b;
    }

    fs::path dir_;
};

TEST_F(ElfErrors, MissingFile) {
    EXPECT_EQ(kind_of((dir_ / "nope").string()), ErrorKind::NotFound);
}

TEST_F(ElfErrors, Directory) {
    EXPECT_EQ(kind_of(dir_.string()), ErrorKind::NotElf);
}

TEST_F(ElfErrors, EmptyAndTextFiles) {
    EXPECT_EQ(kind_of(write("empty", {})), ErrorKind::NotElf);
    std::string text = "#!/bin/sh\necho hello, this is not an ELF file at all\n";
    EXPECT_EQ(kind_of(write("script", std::vector<uint8_t>(text.begin(), text.end()))), ErrorKind::NotElf);
}

TEST_F(ElfErrors, ThirtyTwoBit) {
    EXPECT_EQ(kind_of(write("elf32", elf_header(ELFCLASS32, EM_386))), ErrorKind::UnsupportedElf);
}

TEST_F(ElfErrors, NotX86_64) {
    EXPECT_EQ(kind_of(write("arm64", elf_header(ELFCLASS64, EM_AARCH64))), ErrorKind::UnsupportedElf);
}

TEST_F(ElfErrors, TruncatedHeader) {
    auto b = elf_header(ELFCLASS64, EM_X86_64);
    b.resize(40);
    auto k = kind_of(write("short", b));
    EXPECT_TRUE(k == ErrorKind::Truncated || k == ErrorKind::NotElf);
}

TEST_F(ElfErrors, X86_64ButNotGo) {
    // This test program itself: a real x86-64 executable without Go tables.
    EXPECT_EQ(kind_of(fs::read_symlink("/proc/self/exe").string()), ErrorKind::NotGo);
}

TEST_F(ElfErrors, PermissionDenied) {
    // Root reads everything, so the check runs in a child that gives up its privileges.
    auto path = write("secret", elf_header(ELFCLASS64, EM_X86_64));
    fs::permissions(path, fs::perms::none);
    fs::permissions(dir_, fs::perms::all);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        try {
            (void)ElfFile::open(path);
        } catch (const Error &e) {
            _exit(e.kind() == ErrorKind::Permission ? 0 : 1);
        }
        _exit(2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: wrong error kind, 2: file was readable, 3: could not drop privileges";
}

} // namespace
} // namespace deftrace::testing
