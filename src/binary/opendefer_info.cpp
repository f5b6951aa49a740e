#include "binary/opendefer_info.h"

#include "binary/error.h"

namespace deftrace {

namespace {

// Frames are at most 1 GiB (the runtime's maxstacksize); any offset beyond is corruption.
constexpr uint64_t kMaxFrameOffset = 1ull << 30;

uint64_t frame_offset(const ByteReader &r, uint64_t *off, const char *what) {
    uint64_t v = r.uvarint(off);
    if (v == 0 || v > kMaxFrameOffset)
        throw_corrupt(std::string("open-coded defer info: implausible ") + what + " " + std::to_string(v));
    return v;
}

} // namespace

std::optional<int64_t> OpenDeferInfo::closure_offset(int i) const {
    if (i < 0 || i >= kMaxOpenDefers)
        return std::nullopt;
    if (slots_offset) {
        // Slot i is at varp - slotsOffset + 8*i (runtime.(*_panic).initOpenCodedDefers, 1.22+).
        // The payload does not say how many there are; a slot at or above varp (the saved frame
        // pointer, the return address, the caller's argument spill area) cannot be one.
        const int64_t off = static_cast<int64_t>(*slots_offset) - 8 * i;
        return off >= 8 ? std::optional(off) : std::nullopt;
    }
    if (static_cast<size_t>(i) < closure_offsets.size())
        return static_cast<int64_t>(closure_offsets[static_cast<size_t>(i)]);
    return std::nullopt;
}

OpenDeferInfo decode_opendefer_info(Bytes payload, OpenDeferFormat format) {
    ByteReader r(payload, "open-coded defer info");
    OpenDeferInfo info;
    info.format = format;
    uint64_t off = 0;
    switch (format) {
    case OpenDeferFormat::Go122:
        // ssagen.emitOpenDeferInfo (1.22+): deferBitsOffset, slotsOffset.
        info.deferbits_offset = frame_offset(r, &off, "deferBits offset");
        info.slots_offset = frame_offset(r, &off, "closure slots offset");
        break;
    case OpenDeferFormat::Go118:
    case OpenDeferFormat::Go117: {
        if (format == OpenDeferFormat::Go117)
            (void)r.uvarint(&off); // maxargsize
        info.deferbits_offset = frame_offset(r, &off, "deferBits offset");
        uint64_t n = r.uvarint(&off);
        if (n == 0 || n > kMaxOpenDefers)
            throw_corrupt("open-coded defer info: " + std::to_string(n) + " defers (at most 8 fit in deferBits)");
        info.defer_count = static_cast<uint32_t>(n);
        info.closure_offsets.resize(n);
        if (format == OpenDeferFormat::Go117) {
            info.arg_widths.resize(n);
            info.args.resize(n);
        }
        // Entries are written for the highest defer index first (runtime.runOpenDeferFrame).
        for (uint64_t k = 0; k < n; ++k) {
            uint64_t index = n - 1 - k;
            if (format == OpenDeferFormat::Go117) {
                // cmd/compile/internal/gc.emitOpenDeferInfo@1.15: argWidth, closureOffset, nArgs,
                // then (argOffset, argLen, argCallOffset) per argument.
                const uint64_t arg_width = r.uvarint(&off);
                info.closure_offsets[index] = frame_offset(r, &off, "closure offset");
                const uint64_t nargs = r.uvarint(&off);
                if (arg_width > kMaxFrameOffset || nargs > 64)
                    throw_corrupt("open-coded defer info: defer with " + std::to_string(nargs) + " arguments of " +
                                  std::to_string(arg_width) + " bytes");
                info.arg_widths[index] = arg_width;
                for (uint64_t a = 0; a < nargs; ++a) {
                    OpenDeferArg arg;
                    arg.slot_offset = frame_offset(r, &off, "argument offset");
                    arg.size = r.uvarint(&off);
                    arg.call_offset = r.uvarint(&off);
                    if (arg.size > arg_width || arg.call_offset > arg_width)
                        throw_corrupt("open-coded defer info: argument outside the " + std::to_string(arg_width) +
                                      "-byte argument area");
                    info.args[index].push_back(arg);
                }
            } else {
                info.closure_offsets[index] = frame_offset(r, &off, "closure offset");
            }
        }
        break;
    }
    }
    return info;
}

} // namespace deftrace
