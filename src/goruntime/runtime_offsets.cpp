#include "goruntime/runtime_offsets.h"

#include "binary/struct_layouts.h"

namespace deftrace {

namespace {

uint32_t req(const StructLayouts &l, const char *s, const char *f) {
    return static_cast<uint32_t>(l.require(s, f));
}

RuntimeOffsets::Opt opt(const StructLayouts &l, const char *s, const char *f) {
    auto v = l.offset(s, f);
    return v ? RuntimeOffsets::Opt(static_cast<uint32_t>(*v)) : std::nullopt;
}

} // namespace

RuntimeOffsets RuntimeOffsets::from(const StructLayouts &l) {
    RuntimeOffsets o;
    const char *g = "runtime.g";
    o.g.stack_lo = req(l, g, "stack.lo");
    o.g.stack_hi = req(l, g, "stack.hi");
    o.g.panic = req(l, g, "_panic");
    o.g.defer = req(l, g, "_defer");
    o.g.m = req(l, g, "m");
    o.g.sched_sp = req(l, g, "sched.sp");
    o.g.sched_pc = req(l, g, "sched.pc");
    o.g.atomicstatus = req(l, g, "atomicstatus");
    o.g.goid = req(l, g, "goid");
    o.g.sigcode0 = opt(l, g, "sigcode0");
    o.g.sigcode1 = opt(l, g, "sigcode1");
    o.g.startpc = opt(l, g, "startpc");
    o.g.gopc = opt(l, g, "gopc");

    o.m.g0 = req(l, "runtime.m", "g0");
    o.m.curg = req(l, "runtime.m", "curg");
    o.m.procid = opt(l, "runtime.m", "procid");

    const char *d = "runtime._defer";
    o.defer.size = static_cast<uint32_t>(l.size_of(d).value_or(0));
    o.defer.heap = req(l, d, "heap");
    o.defer.sp = req(l, d, "sp");
    o.defer.pc = req(l, d, "pc");
    o.defer.fn = req(l, d, "fn");
    o.defer.link = req(l, d, "link");
    o.defer.started = opt(l, d, "started");
    o.defer.open_defer = opt(l, d, "openDefer");
    o.defer.rangefunc = opt(l, d, "rangefunc");
    o.defer.panic = opt(l, d, "_panic");
    o.defer.fd = opt(l, d, "fd");
    o.defer.varp = opt(l, d, "varp");
    o.defer.framepc = opt(l, d, "framepc");
    o.defer.head = opt(l, d, "head");
    o.defer.siz = opt(l, d, "siz");

    const char *p = "runtime._panic";
    o.panic.size = static_cast<uint32_t>(l.size_of(p).value_or(0));
    o.panic.arg = req(l, p, "arg");
    o.panic.link = req(l, p, "link");
    o.panic.recovered = req(l, p, "recovered");
    o.panic.goexit = req(l, p, "goexit");
    o.panic.argp = opt(l, p, "argp");
    o.panic.aborted = opt(l, p, "aborted");
    o.panic.repanicked = opt(l, p, "repanicked");
    o.panic.start_pc = opt(l, p, "startPC");
    o.panic.start_sp = opt(l, p, "startSP");
    o.panic.sp = opt(l, p, "sp");
    o.panic.lr = opt(l, p, "lr");
    o.panic.pc = opt(l, p, "pc");
    o.panic.fp = opt(l, p, "fp");
    o.panic.retpc = opt(l, p, "retpc");
    o.panic.deferbits_ptr = opt(l, p, "deferBitsPtr");
    o.panic.slots_ptr = opt(l, p, "slotsPtr");
    o.panic.deferreturn = opt(l, p, "deferreturn");
    o.panic.gopanic_fp = opt(l, p, "gopanicFP");
    return o;
}

} // namespace deftrace
