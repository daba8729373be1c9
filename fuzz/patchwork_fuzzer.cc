// libFuzzer target for what the Patchwork client reads from a server: the
// bytes as an events page, a series, a checks page, a Link header and an
// error body. Parsers return values or Corruption, never throw; what they
// return keeps its promises (positive ids, a next link cut from the header,
// an error detail that is one bounded line).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/text.h"
#include "patchwork/client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::patchwork;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto events = ParseEvents(input); events.ok()) {
    for (const auto& e : *events) {
      if (e.id <= 0 || e.series_id <= 0) __builtin_trap();
    }
  } else if (events.status().code() != vigil::Status::Code::kCorruption) {
    __builtin_trap();
  }
  if (auto series = ParseSeries(input); series.ok()) {
    if (series->id <= 0 || (series->cover && series->cover->id <= 0)) __builtin_trap();
    for (const auto& p : series->patches) {
      if (p.id <= 0) __builtin_trap();
    }
  } else if (series.status().code() != vigil::Status::Code::kCorruption) {
    __builtin_trap();
  }
  (void)ParseChecks(input);
  std::string next = NextLink(input);
  if (!next.empty() && input.find("<" + next + ">") == std::string_view::npos) __builtin_trap();
  std::string detail = ErrorDetail(input);
  if (detail.size() > 303 || vigil::SanitizeLine(detail) != detail) __builtin_trap();
  return 0;
}
