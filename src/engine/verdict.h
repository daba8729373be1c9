// What the judgement commands (flakes, history, compare, verdict) and
// `vigil run` share: opening an existing store, finding the known issues,
// computing a run's verdict from the history.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "judge/history.h"
#include "judge/known_issues.h"
#include "judge/verdict.h"
#include "store/store.h"

namespace vigil::engine {

// Opens a store that must exist already (read commands don't create one).
Result<std::unique_ptr<store::Store>> OpenExistingStore(const std::string& path);

// The file a run of `tests_dir` is judged with: --known-issues FILE, else
// known-issues.toml in `tests_dir` (which may not exist); "" for neither.
std::string KnownIssuesPath(const std::string& flag, const std::string& tests_dir);
// The issues of KnownIssuesPath, or none when it names no file or a
// known-issues.toml that does not exist.
Result<std::optional<judge::KnownIssues>> FindKnownIssues(const std::string& flag, const std::string& tests_dir);

// Entries that explained no failure and no crash in any of `runs`.
std::vector<const judge::KnownIssue*> StaleKnownIssues(const judge::KnownIssues& known,
                                                       const std::vector<judge::RunView>& runs,
                                                       const std::string& today);

struct VerdictRequest {
  int64_t run_id = 0;
  std::string baseline;      // "", "none", "auto" or a run
  std::string known_issues;  // --known-issues
  int stale_after = 10;      // runs without a match before an entry is stale
  std::string today;         // YYYY-MM-DD for expiry; "" for today (UTC)
  // Without --known-issues, known-issues.toml beside the run's tests is
  // read; false: not (tests from strangers would name their own).
  bool known_issues_beside_tests = true;
};

// The verdict of a run with its baseline, known issues (with expiry and
// staleness warnings), quarantine and environment checks.
Result<judge::Verdict> ComputeVerdict(store::Store& db, const VerdictRequest& req);

}  // namespace vigil::engine
