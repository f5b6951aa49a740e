// Reading the files a user names (traces, probe files, layout tables) without surprises.
//
// open() of a FIFO blocks until a writer appears and a directory opens fine but reads as an
// error much later; both are refused up front with one clear line. Every descriptor is
// close-on-exec so that the traced program never inherits one of deftrace's files.
#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

namespace deftrace {

// The whole content of a regular file. `what` names the file's role in messages ("trace",
// "probe file"). Throws Error: NotFound, Permission, Usage (a directory, FIFO, device or a file
// larger than max_bytes) or Io.
std::string read_input_file(const std::string &path, std::string_view what, size_t max_bytes = size_t{1} << 30);

struct InputFileCloser {
    void operator()(FILE *f) const { std::fclose(f); }
};
using InputFile = std::unique_ptr<FILE, InputFileCloser>;

// The file opened for reading as a stream, after the same checks as read_input_file.
InputFile open_input_file(const std::string &path, std::string_view what);

// The same checks without reading: the file exists, is a regular file and can be read.
void check_input_file(const std::string &path, std::string_view what);

} // namespace deftrace
