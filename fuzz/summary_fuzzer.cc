// libFuzzer target for the tests' summaries the store keeps: packed subtest
// verdicts read from arbitrary bytes (a damaged store) never read past their
// end, and what is read packs again to the same verdicts; attempts with
// arbitrary subtests summarize to what SubtestVerdicts says.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/verdicts.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

bool Same(const std::vector<vigil::model::SubtestRecord>& a, const std::vector<vigil::model::SubtestRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].path != b[i].path || a[i].status != b[i].status || a[i].duration_ms != b[i].duration_ms) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::model;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  std::vector<SubtestRecord> read = UnpackSubtests(bytes);
  Check(Same(UnpackSubtests(PackSubtests(read)), read));

  FuzzedDataProvider in(data, size);
  std::vector<AttemptRecord> attempts(in.ConsumeIntegralInRange<int>(0, 4));
  for (auto& a : attempts) {
    a.status = in.ConsumeRandomLengthString(8);
    a.interrupted = in.ConsumeBool();
    int n = in.ConsumeIntegralInRange<int>(0, 6);
    for (int i = 0; i < n; ++i) {
      SubtestRecord s{in.ConsumeRandomLengthString(12), in.ConsumeRandomLengthString(8), std::nullopt};
      if (in.ConsumeBool()) s.duration_ms = in.ConsumeIntegral<int64_t>();
      a.subtests.push_back(std::move(s));
    }
  }
  TestSummary t = SummarizeTest(1, "c:t", attempts);
  std::vector<AttemptRecord> kept;
  for (const auto& a : attempts) {
    if (!a.interrupted) kept.push_back(a);
  }
  Check(t.attempts == static_cast<int>(kept.size()));
  Check(Same(UnpackSubtests(t.subtests), SubtestVerdicts(kept)));
  return 0;
}
