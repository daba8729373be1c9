// libFuzzer target for the build diagnostics parser: arbitrary bytes, fed in
// pieces whose sizes come from the input, with small bounds, then every
// diagnostic formatted and matched against itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kbuild/diagnostics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  vigil::kbuild::DiagnosticsOptions options;
  options.max_diagnostics = 64;
  options.max_line_bytes = size > 1 ? 16 + data[1] % 512 : 256;
  options.max_notes = 4;
  vigil::kbuild::DiagnosticsParser parser(options);
  size_t stride = size > 0 ? 1 + data[0] % 97 : 1;
  for (size_t i = 0; i < input.size(); i += stride) parser.Feed(input.substr(i, stride));
  parser.Finish();
  const auto& all = parser.diagnostics();
  if (all.size() > options.max_diagnostics) __builtin_trap();
  uint64_t counted = 0;
  for (auto s : {vigil::kbuild::Severity::kNote, vigil::kbuild::Severity::kWarning,
                 vigil::kbuild::Severity::kError, vigil::kbuild::Severity::kFatalError})
    counted += parser.count(s);
  if (counted != all.size() + parser.dropped()) __builtin_trap();
  for (const auto& d : all) {
    if (d.message.size() > options.max_line_bytes || d.notes.size() > options.max_notes) __builtin_trap();
    (void)vigil::kbuild::FormatDiagnostic(d);
  }
  // A build compared with itself has nothing new.
  if (!vigil::kbuild::NewWarnings(all, all).empty()) __builtin_trap();
  return 0;
}
