#include "goruntime/go_types.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace deftrace {

namespace {

constexpr uint8_t kTFlagExtraStar = 1 << 1;
constexpr size_t kMaxString = 4096; // longer panic strings are cut (and say so)

std::optional<std::string> read_go_string(const ProcessMemory &mem, Addr header) {
    auto ptr = mem.read_u64(header);
    auto len = mem.read_u64(header + 8);
    if (!ptr || !len)
        return std::nullopt;
    if (*len == 0)
        return std::string();
    uint64_t n = std::min<uint64_t>(*len, kMaxString);
    auto s = mem.read_bytes(Addr(*ptr), n);
    if (!s)
        return std::nullopt;
    if (n < *len)
        *s += "…(" + std::to_string(*len) + " bytes)";
    return s;
}

std::string format_int(int64_t v) {
    return std::to_string(v);
}
std::string format_uint(uint64_t v) {
    return std::to_string(v);
}
std::string format_float(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// runtime.boundsError.Error (runtime/error.go): formats by code; a negative signed x drops y.
std::optional<std::string> bounds_error(const ProcessMemory &mem, Addr data) {
    static const char *const fmts[] = {
        "index out of range [%x] with length %y",
        "slice bounds out of range [:%x] with length %y",
        "slice bounds out of range [:%x] with capacity %y",
        "slice bounds out of range [%x:%y]",
        "slice bounds out of range [::%x] with length %y",
        "slice bounds out of range [::%x] with capacity %y",
        "slice bounds out of range [:%x:%y]",
        "slice bounds out of range [%x:%y:]",
        "cannot convert slice with length %x to array or pointer to array with length %y",
    };
    static const char *const neg_fmts[] = {
        "index out of range [%x]",          "slice bounds out of range [:%x]",  "slice bounds out of range [:%x]",
        "slice bounds out of range [%x:]",  "slice bounds out of range [::%x]", "slice bounds out of range [::%x]",
        "slice bounds out of range [:%x:]", "slice bounds out of range [%x::]",
    };
    auto x = mem.read_u64(data);
    auto y = mem.read_u64(data + 8);
    auto sgn = mem.read_u8(data + 16);
    auto code = mem.read_u8(data + 17);
    if (!x || !y || !sgn || !code || *code >= std::size(fmts))
        return std::nullopt;
    const bool negative = *sgn != 0 && static_cast<int64_t>(*x) < 0;
    const char *f = negative && *code < std::size(neg_fmts) ? neg_fmts[*code] : fmts[*code];
    std::string out = "runtime error: ";
    for (const char *p = f; *p; ++p) {
        if (p[0] == '%' && p[1] == 'x') {
            out += *sgn ? format_int(static_cast<int64_t>(*x)) : format_uint(*x);
            ++p;
        } else if (p[0] == '%' && p[1] == 'y') {
            out += format_int(static_cast<int64_t>(*y));
            ++p;
        } else {
            out += *p;
        }
    }
    return out;
}

} // namespace

std::optional<GoType> TypeReader::type_at(Addr type) const {
    if (type.is_null())
        return std::nullopt;
    if (auto it = cache_.find(type); it != cache_.end())
        return it->second;
    RuntimeOffsets::Type off;
    auto size = mem_.read_u64(type + off.size);
    auto ptrbytes = mem_.read_u64(type + 8);
    auto tflag = mem_.read_u8(type + off.tflag);
    auto kind = mem_.read_u8(type + off.kind);
    auto str = mem_.read_u32(type + off.str);
    if (!size || !ptrbytes || !tflag || !kind || !str)
        return std::nullopt;
    GoType t;
    t.addr = type;
    t.size = *size;
    t.kind = *kind & 0x1f;
    // Pointer-shaped values live in the interface word itself (abi.Type.IsDirectIface: Go 1.26
    // caches this as TFlagDirectIface, older releases as a Kind bit; both mean this).
    t.direct = *size == 8 && *ptrbytes == 8;
    // Name: abi.Name at types + nameOff: flags byte, uvarint length, bytes.
    Addr name = types_ + static_cast<int32_t>(*str);
    uint8_t hdr[11];
    if (mem_.read(name, hdr)) {
        uint64_t len = 0;
        size_t i = 1;
        for (unsigned shift = 0; i < sizeof hdr; ++i, shift += 7) {
            len |= static_cast<uint64_t>(hdr[i] & 0x7f) << shift;
            if (!(hdr[i] & 0x80)) {
                ++i;
                break;
            }
        }
        if (len < 1024)
            if (auto s = mem_.read_bytes(name + i, len))
                t.name = (*tflag & kTFlagExtraStar) && !s->empty() ? s->substr(1) : *s;
    }
    cache_.emplace(type, t);
    return t;
}

RenderedValue render_any(const TypeReader &types, Addr type, Addr data) {
    RenderedValue r;
    if (type.is_null()) {
        r.type = "nil"; // panic(nil) before Go 1.21 (or with GODEBUG=panicnil=1)
        return r;
    }
    auto t = types.type_at(type);
    if (!t) {
        r.type = "?";
        return r;
    }
    r.type = t->name;
    const ProcessMemory &mem = types.memory();
    // The value's address: the data word itself for pointer-shaped types.
    const Addr at = data;
    auto word = [&](uint64_t off) { return mem.read_u64(at + off); };

    // Errors the runtime and the standard library create, by their concrete type.
    if (t->name == "*errors.errorString" || t->name == "*fmt.wrapError" || t->name == "*fmt.wrapErrors") {
        if (auto s = read_go_string(mem, at)) {
            r.value = *s;
            r.is_error = true;
        }
        return r;
    }
    if (t->name == "runtime.errorString" || t->name == "runtime.errorAddressString") {
        if (auto s = read_go_string(mem, at)) {
            r.value = "runtime error: " + *s;
            r.is_error = true;
        }
        return r;
    }
    if (t->name == "runtime.plainError") {
        if (auto s = read_go_string(mem, at)) {
            r.value = *s;
            r.is_error = true;
        }
        return r;
    }
    if (t->name == "runtime.boundsError") {
        r.value = bounds_error(mem, at);
        r.is_error = r.value.has_value();
        return r;
    }
    if (t->name == "*runtime.PanicNilError") {
        r.value = "panic called with nil argument";
        r.is_error = true;
        return r;
    }

    switch (t->kind) {
    case kString: r.value = read_go_string(mem, at); break;
    case kBool:
        if (auto b = mem.read_u8(at))
            r.value = *b ? "true" : "false";
        break;
    case kInt:
    case kInt64:
        if (auto v = word(0))
            r.value = format_int(static_cast<int64_t>(*v));
        break;
    case kInt32:
        if (auto v = mem.read_u32(at))
            r.value = format_int(static_cast<int32_t>(*v));
        break;
    case kInt16:
        if (auto v = mem.read_u32(at))
            r.value = format_int(static_cast<int16_t>(*v & 0xffff));
        break;
    case kInt8:
        if (auto v = mem.read_u8(at))
            r.value = format_int(static_cast<int8_t>(*v));
        break;
    case kUint:
    case kUint64:
    case kUintptr:
        if (auto v = word(0))
            r.value = format_uint(*v);
        break;
    case kUint32:
        if (auto v = mem.read_u32(at))
            r.value = format_uint(*v);
        break;
    case kUint16:
        if (auto v = mem.read_u32(at))
            r.value = format_uint(*v & 0xffff);
        break;
    case kUint8:
        if (auto v = mem.read_u8(at))
            r.value = format_uint(*v);
        break;
    case kFloat64:
        if (auto v = word(0)) {
            double d;
            std::memcpy(&d, &*v, 8);
            r.value = format_float(d);
        }
        break;
    case kFloat32:
        if (auto v = mem.read_u32(at)) {
            float f;
            std::memcpy(&f, &*v, 4);
            r.value = format_float(f);
        }
        break;
    default: break; // pointers, structs, ...: the type name says what it is
    }
    return r;
}

} // namespace deftrace
