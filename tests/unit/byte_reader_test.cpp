#include "binary/byte_reader.h"

#include <gtest/gtest.h>

namespace deftrace::testing {
namespace {

TEST(ByteReader, LittleEndianReads) {
    const uint8_t b[] = {0x78, 0x56, 0x34, 0x12, 0xf0, 0xde, 0xbc, 0x9a, 0x00};
    ByteReader r(Bytes(b), "t");
    EXPECT_EQ(r.u8(0), 0x78);
    EXPECT_EQ(r.u32(0), 0x12345678u);
    EXPECT_EQ(r.u64(0), 0x9abcdef012345678ull);
    EXPECT_EQ(r.i32(4), static_cast<int32_t>(0x9abcdef0u));
}

TEST(ByteReader, OutOfBoundsIsTruncated) {
    const uint8_t b[] = {1, 2, 3};
    ByteReader r(Bytes(b), "tiny table");
    EXPECT_THROW((void)r.u32(0), Error);
    EXPECT_THROW((void)r.u8(3), Error);
    EXPECT_THROW((void)r.u64(~uint64_t{0} - 2), Error); // no wrap-around
    EXPECT_THROW((void)r.slice(2, 2), Error);
    EXPECT_THROW((void)r.slice(~uint64_t{0}, 2), Error);
    try {
        (void)r.u32(1);
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::Truncated);
        EXPECT_NE(std::string(e.what()).find("tiny table"), std::string::npos);
    }
}

TEST(ByteReader, Uvarint) {
    const uint8_t b[] = {0x4a, 0x96, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f};
    ByteReader r(Bytes(b), "v");
    uint64_t off = 0;
    EXPECT_EQ(r.uvarint(&off), 74u);
    EXPECT_EQ(r.uvarint(&off), 150u);
    EXPECT_EQ(r.uvarint(&off), 0xffffffffu);
    EXPECT_EQ(off, sizeof b);
    EXPECT_THROW((void)r.uvarint(&off), Error);
}

TEST(ByteReader, OverlongVarintIsCorrupt) {
    std::vector<uint8_t> b(16, 0x80);
    ByteReader r(Bytes(b), "v");
    uint64_t off = 0;
    try {
        (void)r.uvarint(&off);
        FAIL();
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::Corrupt);
    }
}

TEST(ByteReader, CStrings) {
    const char s[] = "abc\0de";
    ByteReader r(Bytes(reinterpret_cast<const uint8_t *>(s), 6), "names");
    EXPECT_EQ(r.cstring(0), "abc");
    EXPECT_THROW((void)r.cstring(4), Error); // "de" has no terminator inside the span
    EXPECT_THROW((void)r.cstring(7), Error);
}

} // namespace
} // namespace deftrace::testing
