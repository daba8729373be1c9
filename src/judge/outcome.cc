#include "judge/outcome.h"

#include <map>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "model/test_path.h"

namespace vigil::judge {

ktap::Status StatusOf(const std::string& name) {
  for (int i = 0; i < ktap::kNumStatuses; ++i) {
    if (ktap::StatusName(static_cast<ktap::Status>(i)) == name) return static_cast<ktap::Status>(i);
  }
  return ktap::Status::kError;
}

std::string FinalStatus(const std::vector<std::string>& statuses) {
  if (statuses.empty()) return "MISSING";
  const std::string& last = statuses.back();
  if (ktap::IsFailure(StatusOf(last))) return last;
  for (size_t i = 0; i + 1 < statuses.size(); ++i) {
    if (ktap::IsFailure(StatusOf(statuses[i]))) return "FLAKY";
  }
  return last;
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

std::vector<model::SubtestRecord> SubtestVerdicts(const std::vector<model::AttemptRecord>& attempts) {
  // FinalStatus of each subtest's statuses, kept as it goes: the last one,
  // and whether one before it failed. (A flakes page asks this of a few
  // hundred thousand subtests: no copy of a name but the one returned.)
  struct Seen {
    std::string_view last;
    bool failed_before = false;
  };
  std::vector<model::SubtestRecord> out;
  std::vector<Seen> seen;
  std::unordered_map<std::string_view, size_t> index;
  size_t n = 0;
  for (const auto& a : attempts) n += a.subtests.size();
  index.reserve(n);
  out.reserve(attempts.empty() ? 0 : attempts.front().subtests.size());
  for (const auto& a : attempts) {
    for (const auto& s : a.subtests) {
      auto [it, inserted] = index.try_emplace(s.path, out.size());
      if (inserted) {
        out.push_back({s.path, "", s.duration_ms});
        seen.push_back({s.status, false});
        continue;
      }
      Seen& v = seen[it->second];
      v.failed_before |= ktap::IsFailure(StatusOf(std::string(v.last)));
      v.last = s.status;
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    const Seen& v = seen[i];
    bool last_failed = ktap::IsFailure(StatusOf(std::string(v.last)));
    out[i].status = !last_failed && v.failed_before ? std::string("FLAKY") : std::string(v.last);
  }
  return out;
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

Kind KindOf(const std::string& status) {
  switch (model::ParseStatus(status)) {
    case model::TestStatus::kFlaky: return Kind::kPass;
    case model::TestStatus::kSkip:
    case model::TestStatus::kMissing:
    case model::TestStatus::kNoTests: return Kind::kSkip;
    default: break;
  }
  return ktap::IsFailure(StatusOf(status)) ? Kind::kFail : Kind::kPass;
}

}  // namespace vigil::judge
