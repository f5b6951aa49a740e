#include "view_commands.h"

#include "binary/error.h"
#include "exit_codes.h"
#include "file_roles.h"
#include "output/output_stream.h"
#include "output/report.h"
#include "output/summary.h"
#include "output/text_safety.h"
#include "output/timeline.h"
#include "output/trace_file.h"

#include <cstdio>
#include <memory>

namespace deftrace {

namespace {

// Reads the trace into `visitor`, a malformed member reported as a malformed trace (as diff does),
// and a word on stderr when its writer stopped mid-line.
TraceRead read_saved(const std::string &path, TraceVisitor &visitor) {
    try {
        TraceRead t = read_trace_file(path, visitor);
        if (!t.cut.empty())
            std::fprintf(stderr, "deftrace: %s: %s\n", terminal_safe(path).c_str(), t.cut.c_str());
        return t;
    } catch (const nlohmann::json::exception &e) {
        throw Error(ErrorKind::Usage, path + ": not a deftrace JSON trace: " + e.what());
    }
}

// Collects the summary; writes it at the end as text or JSON.
class SummaryWriter : public SummaryVisitor {
public:
    SummaryWriter(OutputStream &out, bool json) : SummaryVisitor(summary_), out_(out), json_(json) {}
    void end(const nlohmann::ordered_json &) override {
        out_.write(json_ ? summary_.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"
                         : summary_.text());
    }

private:
    Summary summary_;
    OutputStream &out_;
    bool json_;
};

} // namespace

int run_view(const ViewCommandOptions &opts) {
    if (opts.output)
        refuse_shared_files({{"the trace", opts.trace}}, {{"-o", *opts.output}});
    OutputStream out = opts.output ? OutputStream::open(*opts.output, OutputStream::Buffering::Full)
                                   : OutputStream::borrow(stdout, "standard output");
    std::unique_ptr<TraceVisitor> view;
    switch (opts.view) {
    case TraceView::Timeline: view = std::make_unique<TimelineWriter>(out); break;
    case TraceView::Report: view = std::make_unique<ReportWriter>(out); break;
    case TraceView::Summary: view = std::make_unique<SummaryWriter>(out, opts.json); break;
    }
    (void)read_saved(opts.trace, *view);
    out.close();
    if (out.failed())
        throw Error(ErrorKind::Io, out.failure());
    return kExitOk;
}

} // namespace deftrace
