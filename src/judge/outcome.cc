#include "judge/outcome.h"

#include <map>

#include <fmt/format.h>

#include "model/test_path.h"

namespace vigil::judge {

ktap::Status StatusOf(std::string_view name) {
  for (int i = 0; i < ktap::kNumStatuses; ++i) {
    if (ktap::StatusName(static_cast<ktap::Status>(i)) == name) return static_cast<ktap::Status>(i);
  }
  return ktap::Status::kError;
}

std::string FinalStatus(const std::vector<model::AttemptRecord>& attempts) {
  std::vector<std::string> statuses;
  statuses.reserve(attempts.size());
  for (const auto& a : attempts) statuses.push_back(a.status);
  return FinalStatus(statuses);
}

model::TestStatus FinalStatusOf(const std::vector<model::AttemptRecord>& attempts) {
  return model::ParseStatus(FinalStatus(attempts));
}

bool IsFailureName(const std::string& status) {
  // An empty status (nothing recorded) is no failure; an unknown name is ERROR.
  return !status.empty() && model::IsFailure(model::ParseStatus(status));
}

std::vector<size_t> FailingLeafIndexes(const std::vector<model::SubtestRecord>& subtests) {
  std::vector<size_t> out;
  for (size_t i = 0; i < subtests.size(); ++i) {
    const auto& s = subtests[i];
    if (!IsFailureName(s.status)) continue;
    bool child_failed = false;
    for (size_t k = i + 1; k < subtests.size() && subtests[k].path.rfind(s.path + " > ", 0) == 0; ++k) {
      child_failed |= IsFailureName(subtests[k].status);
    }
    if (!child_failed) out.push_back(i);
  }
  return out;
}

std::vector<std::string> FailingLeaves(const model::AttemptRecord& a) {
  std::vector<std::string> out;
  for (size_t i : FailingLeafIndexes(a.subtests)) {
    out.push_back(fmt::format("[{}] {}", a.subtests[i].status, a.subtests[i].path));
  }
  return out;
}

std::pair<std::string, std::string> SplitTestPath(const std::string& path) {
  model::TestPath p = model::TestPath::Parse(path);
  return {p.TestId(), p.subtest()};
}

Kind KindOf(model::TestStatus s) {
  switch (s) {
    case model::TestStatus::kPass:
    case model::TestStatus::kXfail:
    case model::TestStatus::kFlaky: return Kind::kPass;
    case model::TestStatus::kSkip:
    case model::TestStatus::kMissing:
    case model::TestStatus::kNoTests: return Kind::kSkip;
    // What KTAP calls a failure, and KNOWN (a failure a known issue matched)
    case model::TestStatus::kFail:
    case model::TestStatus::kXpass:
    case model::TestStatus::kTimeout:
    case model::TestStatus::kError:
    case model::TestStatus::kCrash:
    case model::TestStatus::kKnown: return Kind::kFail;
  }
  return Kind::kFail;
}

Kind KindOf(std::string_view status) { return KindOf(model::ParseStatus(status)); }

}  // namespace vigil::judge
