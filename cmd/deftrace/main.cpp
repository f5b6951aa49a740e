// deftrace command line: parses flags, calls the library, maps errors to exit codes.
#include "binary/error.h"
#include "exit_codes.h"
#include "inspect_command.h"

#include <CLI/CLI.hpp>
#include <csignal>
#include <exception>
#include <iostream>

int main(int argc, char **argv) {
    using namespace deftrace;
    std::signal(SIGPIPE, SIG_DFL);

    CLI::App app{"deftrace: trace the defers, panics and recovers of a Go program"};
    app.set_version_flag("--version", "deftrace 0.1.0");
    app.require_subcommand(1);

    InspectOptions inspect;
    auto *ins = app.add_subcommand("inspect", "Report a Go binary's runtime functions and defer sites");
    ins->add_flag("--json", inspect.json, "Print JSON (schema deftrace.inspect/1) instead of text");
    ins->add_option("--func", inspect.func_regex, "Only functions whose name matches this regular expression");
    ins->add_option("BINARY", inspect.binary, "The Go executable")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion &e) {
        return app.exit(e);
    } catch (const CLI::ParseError &e) {
        std::cerr << "deftrace: " << e.what() << " (see deftrace --help)\n";
        return kExitUsage;
    }

    try {
        if (ins->parsed())
            return run_inspect(inspect);
        return kExitUsage;
    } catch (const Error &e) {
        std::cerr << "deftrace: " << e.what() << "\n";
        return exit_code_for(e.kind());
    } catch (const std::bad_alloc &) {
        std::cerr << "deftrace: out of memory\n";
        return kExitInternal;
    } catch (const std::exception &e) {
        std::cerr << "deftrace: internal error (a bug in deftrace): " << e.what() << "\n";
        return kExitInternal;
    }
}
