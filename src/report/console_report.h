// What `vigil scan` prints of a console's kernel reports: JSON
// (format_version 1; frames, and with a decoder their sources) or text for
// people (a heading per report, then its text, then the tally).
#pragma once

#include <string>

#include "console/decode.h"
#include "console/detector.h"

namespace vigil::report {

// `decoder` may be null (no sources); it caches what it resolved.
std::string ScanJson(const console::Detector& detector, console::Decoder* decoder);
std::string ScanText(const console::Detector& detector, console::Decoder* decoder, bool color);

}  // namespace vigil::report
