#include "binary/address.h"
#include "binary/byte_reader.h"
#include "binary/error.h"

#include <cstdio>

namespace deftrace {

std::string to_hex(uint64_t value) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
    return buf;
}

void throw_corrupt(const std::string &what) {
    throw Error(ErrorKind::Corrupt, what);
}
void throw_truncated(const std::string &what) {
    throw Error(ErrorKind::Truncated, what);
}

void ByteReader::check(uint64_t off, uint64_t len) const {
    if (!contains(off, len))
        throw_truncated(what_ + ": read of " + std::to_string(len) + " bytes at offset " + to_hex(off) +
                        " is outside its " + std::to_string(data_.size()) + "-byte table");
}

std::string_view ByteReader::cstring(uint64_t off) const {
    check(off, 0);
    const void *nul = std::memchr(data_.data() + off, 0, data_.size() - off);
    if (nul == nullptr)
        throw_truncated(what_ + ": unterminated string at offset " + to_hex(off));
    auto len = static_cast<const uint8_t *>(nul) - (data_.data() + off);
    return {reinterpret_cast<const char *>(data_.data() + off), static_cast<size_t>(len)};
}

uint64_t ByteReader::uvarint(uint64_t *off) const {
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        uint8_t b = u8(*off);
        ++*off;
        value |= static_cast<uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0)
            return value;
    }
    throw_corrupt(what_ + ": varint longer than 10 bytes at offset " + to_hex(*off));
}

} // namespace deftrace
