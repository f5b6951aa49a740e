// Names of the model's enums and one-line renderings, for divergence messages.
#include "model/divergence.h"
#include "model/model.h"
#include "model/observation.h"

#include <cstdio>

namespace deftrace::model {

const char *to_string(DeferKind k) {
    switch (k) {
    case DeferKind::OpenCoded: return "open-coded";
    case DeferKind::Stack: return "stack";
    case DeferKind::Heap: return "heap";
    case DeferKind::RangefuncHead: return "rangefunc-head";
    case DeferKind::RangefuncAt: return "rangefunc-at";
    case DeferKind::OpenFrame: return "open-frame";
    }
    return "?";
}

const char *to_string(CallCause c) {
    switch (c) {
    case CallCause::Return: return "return";
    case CallCause::Panic: return "panic";
    case CallCause::Goexit: return "goexit";
    }
    return "?";
}

const char *to_string(Invoker i) {
    switch (i) {
    case Invoker::PanicRunner: return "panic runner";
    case Invoker::GoexitRunner: return "Goexit runner";
    case Invoker::Deferreturn: return "deferreturn";
    case Invoker::Ordinary: return "ordinary call";
    }
    return "?";
}

const char *to_string(EndKind k) {
    switch (k) {
    case EndKind::Returned: return "returned";
    case EndKind::GoexitDone: return "Goexit finished";
    case EndKind::FatalPanic: return "fatal panic";
    case EndKind::ProgramExit: return "program exit";
    }
    return "?";
}

Goid goid_of(const Observation &o) {
    return std::visit([](const auto &x) { return x.goid; }, o);
}

std::string to_string(const Divergence &d) {
    return "goroutine " + std::to_string(d.goid) + ", observation " + std::to_string(d.observation) + ": " + d.rule +
           ": expected " + d.expected + ", observed " + d.observed;
}

static std::string hex(uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string describe(const PredictedCall &c) {
    std::string s = "call ";
    s += c.callee.name.empty() ? hex(c.callee.fn) : c.callee.name;
    s += " (";
    s += to_string(c.kind);
    s += " defer of frame " + std::to_string(c.frame) + ", cause " + to_string(c.cause) + ")";
    return s;
}

std::string describe(const RunnerStep &s) {
    switch (s.kind) {
    case RunnerStep::Kind::Call: return describe(s.call);
    case RunnerStep::Kind::Recover:
        return std::string("recovery resuming frame ") + std::to_string(s.resume.frame) + " via " +
               to_string(s.resume.via);
    case RunnerStep::Kind::Exhausted: return "no more deferred calls";
    }
    return "?";
}

} // namespace deftrace::model
