// The store seen as a history: each run with its environment and, per test,
// what it did (final status over the attempts, subtests, crashes). The
// judgement commands (flakes, history, compare, verdict) read only this.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace vigil::judge {

struct TestView {
  std::string status;       // final: PASS, FAIL, FLAKY (failed, then passed on a retry), ...
  int attempts = 0;
  int64_t duration_ms = 0;  // of the last attempt
  std::vector<model::CrashRecord> crashes;          // of every attempt
  std::vector<model::SubtestRecord> subtests;       // final verdicts (FLAKY when a retry passed)
  std::vector<std::string> environment_issues;      // of the last attempt
};

struct RunView {
  model::RunRecord run;
  model::Environment env;
  std::string env_class;  // "host 6.12", "vm tcg 6.1": what results are compared within
  std::vector<std::string> order;          // test paths as recorded
  std::map<std::string, TestView> tests;   // by COLLECTION:TEST
  // Finished, and every planned test has a result.
  bool complete() const;
};

// host/vm, the accelerator of a VM and the kernel line (major.minor).
std::string EnvClass(const model::Environment& env);
// "6.12.57+deb13-amd64" -> "6.12"; "" when it doesn't start with a version.
std::string KernelLine(const std::string& release);

Result<RunView> LoadRunView(store::Store& db, int64_t run_id);

// One test's view from its attempts in one run (interrupted ones left out
// by the caller), as LoadRunView makes it.
TestView MakeTestView(const std::vector<model::AttemptRecord>& attempts);

// The series a run tested (`vigil watch`: a patch applied to the tree), or 0
// for a run of the tree itself: as its origin says (`origins`, from
// Store::LoadRunOrigins), else, before its series names it (its testing goes
// on, or was cut short), as the patch loop named it (model/series_run.h).
int64_t SeriesTested(const model::RunRecord& run, const std::map<int64_t, store::RunOrigin>& origins);

// The runs `q` selects that a history is made of: every one but those a
// series tested (`vigil watch`: a patch applied to the tree), which are
// judged against the history and never part of it. With q.newest, the newest
// that many such runs. Oldest first. Every history below is made of these.
Result<std::vector<model::RunRecord>> ListHistoryRuns(store::Store& db, store::RunQuery q);

// The last `window` runs of the environment class `env_class` up to `up_to`
// (inclusive), oldest first, with only the tests in `detail` (whole: status,
// subtests, kernel reports) and without their plans: what the quarantine of
// a run's failures needs of the history, read without every subtest of every
// run. Not for AutoBaseline (complete() needs every test): FindAutoBaseline.
Result<std::vector<RunView>> LoadClassHistory(store::Store& db, int64_t up_to, int window,
                                              const std::string& env_class, const std::set<std::string>& detail);


// Runs up to `up_to` (inclusive; 0 = all), oldest first; with `window` > 0
// only the last `window` runs of each environment class are loaded.
Result<std::vector<RunView>> LoadHistory(store::Store& db, int64_t up_to = 0, int window = 0);
// The runs LoadHistory loads, with their environments but no tests (and,
// unless `plans`, no plans).
Result<std::vector<RunView>> HistoryRuns(store::Store& db, int64_t up_to = 0, int window = 0, bool plans = true);

// "RUN" (a number) or "last"/"latest"; "last~N" is the Nth run before it;
// "group:ID" the run of a run group (vigil run --shard I/N --run-group ID).
Result<int64_t> ResolveRun(store::Store& db, const std::string& spec);

// "COLLECTION:TEST[:SUBTEST]" -> {test, subtest}, for a test whose own name
// may have a colon ("net:a:b.sh", a file a series may add): the longest
// test before a later colon (or the whole path) that the store has attempts
// of is the test, the rest its subtest (a few tries at most). When the
// store knows none of them, the test ends at the second colon.
Result<std::pair<std::string, std::string>> ResolveTestPath(store::Store& db, const std::string& path);

}  // namespace vigil::judge
