// libFuzzer target for the console crash detector: arbitrary bytes, fed in
// pieces whose sizes come from the input. Every report must be consistent
// (span within the input, bounded text and frames, a title and fingerprint),
// and feeding the same bytes in one piece must find the same reports.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "console/detector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  vigil::console::DetectorOptions options;
  options.max_line_bytes = 512;
  options.max_report_bytes = 4096;
  options.max_frames = 16;
  options.max_reports = 8;
  vigil::console::Detector split(options), whole(options);
  size_t stride = size > 0 ? 1 + data[0] % 61 : 1;
  for (size_t i = 0; i < input.size(); i += stride) split.Feed(input.substr(i, stride));
  if (size % 3 == 0) split.Quiet();
  split.Finish();
  whole.Feed(input);
  if (size % 3 == 0) whole.Quiet();
  whole.Finish();
  const auto& a = split.reports();
  const auto& b = whole.reports();
  if (a.size() != b.size() || split.dropped_reports() != whole.dropped_reports()) abort();
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& r = a[i];
    if (r.title != b[i].title || r.fingerprint != b[i].fingerprint || r.text != b[i].text ||
        r.start_line != b[i].start_line || r.end_line != b[i].end_line || r.fatal != b[i].fatal)
      abort();
    if (r.start_line < 1 || r.start_line > r.end_line || r.end_line > split.line_count()) abort();
    if (r.text.size() > options.max_report_bytes || r.frames.size() > options.max_frames) abort();
    if (r.title.empty() || r.fingerprint.size() != 16 || !r.complete) abort();
  }
  if (a.size() > options.max_reports) abort();
  return 0;
}
