// decode_opendefer_info on arbitrary payloads, in each payload generation. The first byte picks
// the generation; the rest is the payload.
#include "binary/opendefer_info.h"
#include "fuzz_common.h"

#include <cstdlib>

using namespace deftrace;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    const OpenDeferFormat formats[] = {OpenDeferFormat::Go117, OpenDeferFormat::Go118, OpenDeferFormat::Go122};
    const OpenDeferFormat format = formats[data[0] % 3];
    fuzz::run_reader([&] {
        const OpenDeferInfo info = decode_opendefer_info(fuzz::input(data + 1, size - 1), format);
        // What the decoder promises to its callers (defer_sites, the open-coded frame readers).
        if (info.deferbits_offset == 0 || info.deferbits_offset > (1ull << 30))
            std::abort();
        if (info.defer_count && (*info.defer_count == 0 || *info.defer_count > kMaxOpenDefers))
            std::abort();
        for (int i = -1; i <= kMaxOpenDefers + 1; ++i)
            if (auto off = info.closure_offset(i); off && (i < 0 || i >= kMaxOpenDefers || *off <= 0))
                std::abort();
    });
    return 0;
}
