// The verdict of a run: Success, Unstable or Critical, a one-line conclusion
// a bot can post, and the details behind it.
//
//   Critical  a kernel crash (any kernel report: panic, oops, WARNING, KASAN,
//             hung task, ...) that no known issue explains and, with a
//             baseline, that the baseline did not have.
//   Unstable  a failed test or subtest that is not known, not quarantined
//             and, with a baseline, not failing there already; a test that
//             passed in the baseline and is skipped now; planned tests that
//             never ran.
//   Success   anything else.
// Exit codes: 0 Success, 1 Unstable, 3 Critical.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "judge/history.h"
#include "judge/known_issues.h"

namespace vigil::judge {

enum class Level { kSuccess, kUnstable, kCritical };
const char* LevelName(Level l);
int ExitCode(Level l);

struct VerdictItem {
  std::string path;    // COLLECTION:TEST or COLLECTION:TEST:SUBTEST
  std::string status;  // this run's
  std::string detail;  // known issue reason and link, quarantine reason, ...
  // The COLLECTION:TEST it is of (a test's own name may have a colon, so
  // `path` does not tell). Not in the reports: the conclusion groups by it.
  std::string test;
};

struct CrashItem {
  std::string test;
  std::string type, title, fingerprint;
  bool fatal = false;
  std::string detail;
};

struct Verdict {
  Level level = Level::kSuccess;
  std::string conclusion;
  int64_t run_id = 0;
  int64_t baseline_id = 0;  // 0: none
  int tests = 0;
  std::vector<VerdictItem> failures;        // counted
  std::vector<VerdictItem> known;           // KNOWN: matched a known issue
  std::vector<VerdictItem> quarantined;
  std::vector<VerdictItem> preexisting;     // failing in the baseline as well
  std::vector<VerdictItem> flaky;           // failed, then passed on a retry
  std::vector<VerdictItem> skipped_by_accident;
  std::vector<VerdictItem> missing;         // planned, never ran
  std::vector<CrashItem> crashes;           // counted
  std::vector<CrashItem> known_crashes;     // explained by a known issue or the baseline
  std::vector<std::string> warnings;        // tool versions, expired known issues
};

struct VerdictInputs {
  const RunView* run = nullptr;
  const RunView* baseline = nullptr;
  const KnownIssues* known = nullptr;
  // "TEST" or "TEST:SUBTEST" keys quarantined when this run started.
  std::set<std::string> quarantined;
  std::map<std::string, std::string> quarantine_reasons;
  std::string today;  // YYYY-MM-DD
};

Verdict Judge(const VerdictInputs& in);
// Sets the level and the conclusion from the lists (again, after a caller
// added warnings).
void Conclude(Verdict* v);

// The latest complete run before `run` of the same environment class whose
// plan covers `run`'s planned tests (the same tests or more: a full run is
// the baseline of a run of a subset); 0 when there is none.
int64_t AutoBaseline(const std::vector<RunView>& history, const RunView& run);

// AutoBaseline's choice for `run` among `history` (runs of its class before
// it, as LoadClassHistory gives them), reading each candidate's plan and
// recorded tests from the store only as far back as the first that
// qualifies; 0 when none does.
Result<int64_t> FindAutoBaseline(store::Store& db, const std::vector<RunView>& history, const RunView& run);

// Keys quarantined after the last of `history`'s runs of `env_class`.
void QuarantinedAfter(const std::vector<RunView>& history, const std::string& env_class,
                      std::set<std::string>* keys, std::map<std::string, std::string>* reasons);

}  // namespace vigil::judge
