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

// Errors the runtime and the standard library create, by their concrete type: fills in `r`'s
// message (when readable) and returns true, or false for any other type.
bool render_known_error(RenderedValue &r, const std::string &type, const ProcessMemory &mem, Addr at) {
    auto message = [&](const std::string &prefix) {
        if (auto s = read_go_string(mem, at)) {
            r.value = prefix + *s;
            r.is_error = true;
        }
        return true;
    };
    if (type == "*errors.errorString" || type == "*fmt.wrapError" || type == "*fmt.wrapErrors" ||
        type == "runtime.plainError")
        return message("");
    if (type == "runtime.errorString" || type == "runtime.errorAddressString")
        return message("runtime error: ");
    if (type == "runtime.boundsError") {
        r.value = bounds_error(mem, at);
        r.is_error = r.value.has_value();
        return true;
    }
    if (type == "*runtime.PanicNilError") {
        r.value = "panic called with nil argument";
        r.is_error = true;
        return true;
    }
    return false;
}

// A value of a basic kind (string, bool, number) as Go prints it; nullopt for other kinds
// (pointers, structs, ...: the type name says what it is) or when it cannot be read.
std::optional<std::string> render_basic(uint8_t kind, const ProcessMemory &mem, Addr at) {
    switch (kind) {
    case kString: return read_go_string(mem, at);
    case kBool:
        if (auto b = mem.read_u8(at))
            return *b ? "true" : "false";
        break;
    case kInt:
    case kInt64:
        if (auto v = mem.read_u64(at))
            return format_int(static_cast<int64_t>(*v));
        break;
    case kInt32:
        if (auto v = mem.read_u32(at))
            return format_int(static_cast<int32_t>(*v));
        break;
    case kInt16:
        if (auto v = mem.read_u32(at))
            return format_int(static_cast<int16_t>(*v & 0xffff));
        break;
    case kInt8:
        if (auto v = mem.read_u8(at))
            return format_int(static_cast<int8_t>(*v));
        break;
    case kUint:
    case kUint64:
    case kUintptr:
        if (auto v = mem.read_u64(at))
            return format_uint(*v);
        break;
    case kUint32:
        if (auto v = mem.read_u32(at))
            return format_uint(*v);
        break;
    case kUint16:
        if (auto v = mem.read_u32(at))
            return format_uint(*v & 0xffff);
        break;
    case kUint8:
        if (auto v = mem.read_u8(at))
            return format_uint(*v);
        break;
    case kFloat64:
        if (auto v = mem.read_u64(at)) {
            double d;
            std::memcpy(&d, &*v, 8);
            return format_float(d);
        }
        break;
    case kFloat32:
        if (auto v = mem.read_u32(at)) {
            float f;
            std::memcpy(&f, &*v, 4);
            return format_float(f);
        }
        break;
    default: break;
    }
    return std::nullopt;
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
    // Name: abi.Name at types + nameOff: flags byte, uvarint length (1.17+; before, two bytes
    // big-endian: reflect/type.go@1.15 name.nameLen), bytes.
    Addr name = types_ + static_cast<int32_t>(*str);
    uint8_t hdr[11];
    if (!varint_names_) {
        if (mem_.read(name, std::span(hdr).first(3)))
            if (auto s = mem_.read_bytes(name + 3, (uint64_t{hdr[1]} << 8) | hdr[2]))
                t.name = (*tflag & kTFlagExtraStar) && !s->empty() ? s->substr(1) : *s;
    } else if (mem_.read(name, hdr)) {
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
    // The value's address: the data word itself for pointer-shaped types.
    const Addr at = data;
    if (!render_known_error(r, t->name, types.memory(), at))
        r.value = render_basic(t->kind, types.memory(), at);
    return r;
}

} // namespace deftrace
