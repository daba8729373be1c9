#include "judge/outcome.h"

#include <map>

#include <fmt/format.h>

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
  if (status.empty() || status == "FLAKY" || status == "MISSING" || status == "KNOWN") return false;
  return ktap::IsFailure(StatusOf(status));
}

std::vector<model::SubtestRecord> SubtestVerdicts(const std::vector<model::AttemptRecord>& attempts) {
  std::vector<model::SubtestRecord> out;
  std::map<std::string, size_t> index;
  std::vector<std::vector<std::string>> seen;
  for (const auto& a : attempts) {
    for (const auto& s : a.subtests) {
      auto [it, inserted] = index.try_emplace(s.path, out.size());
      if (inserted) {
        out.push_back({s.path, "", s.duration_ms});
        seen.emplace_back();
      }
      seen[it->second].push_back(s.status);
    }
  }
  for (size_t i = 0; i < out.size(); ++i) out[i].status = FinalStatus(seen[i]);
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
  size_t c1 = path.find(':');
  size_t c2 = c1 == std::string::npos ? std::string::npos : path.find(':', c1 + 1);
  if (c2 == std::string::npos) return {path, ""};
  return {path.substr(0, c2), path.substr(c2 + 1)};
}

Kind KindOf(const std::string& status) {
  if (status == "FLAKY") return Kind::kPass;
  if (status == "SKIP" || status == "MISSING" || status == "NO_TESTS") return Kind::kSkip;
  return ktap::IsFailure(StatusOf(status)) ? Kind::kFail : Kind::kPass;
}

}  // namespace vigil::judge
