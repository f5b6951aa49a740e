#include "binary/fingerprint.h"

#include <algorithm>

namespace deftrace {

namespace {

void narrow(Fingerprint &fp, int lo, int hi, std::string why) {
    fp.min_minor = std::max(fp.min_minor, lo);
    fp.max_minor = std::min(fp.max_minor, hi);
    fp.evidence.push_back(std::move(why));
}

} // namespace

std::string Fingerprint::range() const {
    std::string lo = "1." + std::to_string(min_minor);
    if (max_minor >= 99)
        return lo + "+";
    if (max_minor == min_minor)
        return lo;
    return lo + "-1." + std::to_string(max_minor);
}

Fingerprint fingerprint(const ElfFile &elf, const Pclntab &tab, const RuntimeFunctions &rt) {
    Fingerprint fp;
    switch (tab.magic()) {
    case 0xfffffffb: narrow(fp, 2, 15, "pclntab magic 0xfffffffb"); break;
    case 0xfffffffa: narrow(fp, 16, 17, "pclntab magic 0xfffffffa"); break;
    case 0xfffffff0: narrow(fp, 18, 19, "pclntab magic 0xfffffff0"); break;
    case 0xfffffff1: narrow(fp, 20, 99, "pclntab magic 0xfffffff1"); break;
    default: break;
    }
    if (tab.magic() == 0xfffffff1) {
        if (tab.header_text_start().is_null())
            narrow(fp, 26, 99, "pcHeader.textStart is 0");
        else
            narrow(fp, 0, 25, "pcHeader.textStart is set");
    }
    if (elf.has_section(".go.module"))
        narrow(fp, 26, 99, "section .go.module");
    if (rt.has("runtime.(*_panic).nextDefer"))
        narrow(fp, 22, 99, "runtime.(*_panic).nextDefer");
    // Open-coded defers came with Go 1.14; gopanic always links addOneOpenDeferFrame up to 1.21.
    if (rt.has("runtime.addOneOpenDeferFrame"))
        narrow(fp, 14, 21, "runtime.addOneOpenDeferFrame");
    else if (tab.magic() == 0xfffffffb)
        narrow(fp, 2, 13, "no runtime.addOneOpenDeferFrame");
    if (rt.has("runtime.reflectcallSave"))
        narrow(fp, 14, 16, "runtime.reflectcallSave");
    if (rt.has("runtime.popDefer"))
        narrow(fp, 23, 99, "runtime.popDefer");
    else if (rt.has("runtime.freedefer"))
        narrow(fp, 0, 22, "runtime.freedefer");
    if (rt.has("runtime.printPreFatalDeferPanic"))
        narrow(fp, 26, 99, "runtime.printPreFatalDeferPanic");
    if (rt.has("runtime.jmpdefer"))
        narrow(fp, 0, 17, "runtime.jmpdefer");
    return fp;
}

} // namespace deftrace
