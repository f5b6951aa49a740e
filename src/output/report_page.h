// The static parts of the HTML report (report.h): the page before its data (the document head
// with its Content-Security-Policy and style, and the empty sections), and after it (the script
// that draws the page from the data). Nothing here depends on a trace but the title.
#pragma once

#include <string>
#include <string_view>

namespace deftrace {

// `program`: the traced command line, for the title (escaped here).
std::string report_page_head(std::string_view program);
std::string report_page_tail();

// `s` with &, <, >, " and ' written as character references.
std::string html_escape(std::string_view s);

} // namespace deftrace
