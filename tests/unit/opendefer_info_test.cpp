#include "binary/error.h"
#include "binary/opendefer_info.h"

#include <gtest/gtest.h>

namespace deftrace::testing {
namespace {

// Payloads of main.openCoded (3 defers, frame sub $0x58,%rsp) from go-runtime.md §4.2.
TEST(OpenDeferInfo, Go118Payload) {
    const uint8_t p[] = {0x4a, 0x03, 0x08, 0x18, 0x10};
    auto info = decode_opendefer_info(Bytes(p), OpenDeferFormat::Go118);
    EXPECT_EQ(info.deferbits_offset, 74u);
    ASSERT_EQ(info.defer_count, 3u);
    // Written for defer 2, 1, 0: closure offsets 8, 24, 16.
    EXPECT_EQ(info.closure_offset(0), 16);
    EXPECT_EQ(info.closure_offset(1), 24);
    EXPECT_EQ(info.closure_offset(2), 8);
    EXPECT_FALSE(info.closure_offset(3));
}

TEST(OpenDeferInfo, Go122Payload) {
    const uint8_t p[] = {0x4a, 0x18};
    auto info = decode_opendefer_info(Bytes(p), OpenDeferFormat::Go122);
    EXPECT_EQ(info.deferbits_offset, 74u);
    EXPECT_EQ(info.slots_offset, 24u);
    EXPECT_FALSE(info.defer_count);
    // Slot i at varp - 24 + 8i.
    EXPECT_EQ(info.closure_offset(0), 24);
    EXPECT_EQ(info.closure_offset(2), 8);
    // At or above varp: the saved frame pointer and the caller's argument spill area, never a
    // slot (database/sql.withLock's argument spills were once taken for slots 3-5).
    EXPECT_FALSE(info.closure_offset(3));
    EXPECT_FALSE(info.closure_offset(5));
    EXPECT_FALSE(info.closure_offset(8));
}

TEST(OpenDeferInfo, Go117PayloadWithoutArguments) {
    const uint8_t p[] = {0x00, 0x4a, 0x02, 0x00, 0x08, 0x00, 0x00, 0x10, 0x00};
    auto info = decode_opendefer_info(Bytes(p), OpenDeferFormat::Go117);
    EXPECT_EQ(info.deferbits_offset, 74u);
    EXPECT_EQ(info.closure_offset(1), 8);
    EXPECT_EQ(info.closure_offset(0), 16);
}

ErrorKind error_of(std::vector<uint8_t> p, OpenDeferFormat f) {
    try {
        (void)decode_opendefer_info(Bytes(p), f);
    } catch (const Error &e) {
        return e.kind();
    }
    ADD_FAILURE() << "accepted";
    return ErrorKind::Io;
}

TEST(OpenDeferInfo, MalformedPayloads) {
    EXPECT_EQ(error_of({0x4a, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9}, OpenDeferFormat::Go118),
              ErrorKind::Corrupt);                                                 // 9 defers
    EXPECT_EQ(error_of({0x4a, 0x00}, OpenDeferFormat::Go118), ErrorKind::Corrupt); // 0 defers
    EXPECT_EQ(error_of({0x4a, 0x03, 0x08}, OpenDeferFormat::Go118), ErrorKind::Truncated);
    EXPECT_EQ(error_of({0x4a}, OpenDeferFormat::Go122), ErrorKind::Truncated);
    EXPECT_EQ(error_of({}, OpenDeferFormat::Go122), ErrorKind::Truncated);
    EXPECT_EQ(error_of({0x00, 0x18}, OpenDeferFormat::Go122), ErrorKind::Corrupt);                         // offset 0
    EXPECT_EQ(error_of({0xff, 0xff, 0xff, 0xff, 0x7f, 0x18}, OpenDeferFormat::Go122), ErrorKind::Corrupt); // > 1 GiB
    EXPECT_EQ(error_of(std::vector<uint8_t>(12, 0xff), OpenDeferFormat::Go122), ErrorKind::Corrupt); // endless varint
    // Go117: an argument of 16 bytes in an 8-byte argument area.
    EXPECT_EQ(error_of({0x00, 0x4a, 0x01, 0x08, 0x08, 0x01, 0x10, 0x10, 0x00}, OpenDeferFormat::Go117),
              ErrorKind::Corrupt);
}

// runtime.main's payload in Go 1.14–1.16 (`defer unlockOSThread()`-era main with one defer whose
// argument is kept in a slot): maxargsize 8, deferBits at varp-33, one defer of 8 argument bytes,
// its funcval at varp-8 and its one argument at varp-16, 8 bytes, at offset 0 of the call's
// arguments.
TEST(OpenDeferInfo, Go117ArgumentsOfTheStackABI) {
    const std::vector<uint8_t> p = {0x08, 0x21, 0x01, 0x08, 0x08, 0x01, 0x10, 0x08, 0x00};
    auto info = decode_opendefer_info(Bytes(p), OpenDeferFormat::Go117);
    EXPECT_EQ(info.deferbits_offset, 33u);
    ASSERT_EQ(info.defer_count, 1u);
    EXPECT_EQ(info.closure_offset(0), 8);
    ASSERT_EQ(info.arg_widths.size(), 1u);
    EXPECT_EQ(info.arg_widths[0], 8u);
    ASSERT_EQ(info.args[0].size(), 1u);
    EXPECT_EQ(info.args[0][0].slot_offset, 16u);
    EXPECT_EQ(info.args[0][0].size, 8u);
    EXPECT_EQ(info.args[0][0].call_offset, 0u);
}

} // namespace
} // namespace deftrace::testing
