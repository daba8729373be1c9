// vigil bisect as a use case: the flake-aware search (bisect/search.h) run
// stage after stage on a repository (Vcs), a probe at each commit, every run
// recorded in the store so that an interrupted bisection resumes. The first
// stage is the first-parent line between the ends; while the culprit is a
// merge (and not first_parent), the next stage is the line it merged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/status.h"
#include "bisect/search.h"
#include "engine/bisect_probe.h"
#include "engine/vcs.h"
#include "model/records.h"
#include "store/store.h"

namespace vigil::engine {

struct BisectRequest {
  std::string good, bad;      // revisions as the user named them
  bool fix = false;           // find the first commit without the failure (bad older, good newer)
  bool first_parent = false;  // no descent into merges
  ProbeOptions probe;         // what runs at each commit (recorded with the bisection)
  std::string db_path;        // "" the default (BisectDbPath)
  // The search.
  double confidence = 0.95;
  int max_runs = 500;
  int runs_per_build = 1;
  // -1: measured (the mean build over the mean run, CostMeter) when the
  // probe builds, 4 until both were measured; 0 when it does not build.
  double build_cost = -1;
  double prior_a = 1, prior_b = 3, epsilon = 0, deterministic = 0.1;
  std::string bad_history;  // "F/N" as given (recorded), parsed into:
  int known_runs = 0, known_failures = 0;
  // Raised (a signal): the probe running is stopped and not recorded, the
  // bisection stays in progress (the same command resumes it), and Run
  // returns an error saying so.
  const sys::Cancellation* cancel = nullptr;
};

// What a build costs in runs, measured: the wall time of each build that
// succeeded and each run. The first build is cold (a fresh output
// directory, a cold ccache): once there are others it is left out.
class CostMeter {
 public:
  void Built(int64_t ms);
  void Ran(int64_t ms);
  int builds() const { return static_cast<int>(build_ms_.size()); }
  int runs() const { return runs_; }
  double mean_build_ms() const;  // 0 before any build
  double mean_run_ms() const;    // 0 before any run
  // mean_build_ms / mean_run_ms (a run of 0 ms counts as 1 ms), at most
  // 10000; nullopt until a build and a run were measured.
  std::optional<double> Cost() const;

 private:
  std::vector<int64_t> build_ms_;
  int64_t run_total_ms_ = 0;
  int runs_ = 0;
};

// "F/N" -> F failures in N runs; false unless 0 <= F <= N and 1 <= N <= 100000.
bool ParseBadHistory(const std::string& s, int* failures, int* runs);
bisect::SearchOptions SearchOptionsOf(const BisectRequest& r);
// The options a bisection is recorded with: a bisection in progress resumes
// only with the same.
nlohmann::json BisectOptionsJson(const BisectRequest& r);
// `db_flag`, or vigil-bisect.db in the repository's common git directory.
std::string BisectDbPath(Vcs& vcs, const std::string& db_flag);
// Where bisection `id` checks commits out: beside its store.
std::string BisectWorktreePath(const std::string& db_path, int64_t id);

struct BisectStart {
  int64_t id = 0;
  int commits = 0;        // on the first-parent line, the unaffected end excluded
  std::string good, bad;  // the ends (with fix: good is the newer, fixed one)
};

// A commit's run and where the search stands after it.
struct BisectRunEvent {
  int run = 0;  // the bisection's runs so far, replayed ones included
  std::string commit;
  bisect::Outcome outcome = bisect::Outcome::kPass;
  enum class Best { kCommit, kGoodEnd, kNotReproducible } best = Best::kCommit;
  std::string best_commit;  // with kCommit: the most likely culprit (or fix)
  double posterior = 0;
};

struct MergeDescent {
  std::string merge, subject;
  double posterior = 0;  // of the merge on its line
  int commits = 0;       // it merged, now bisected
};

// What a bisection reports while it runs. Every method has a silent default.
class BisectObserver {
 public:
  virtual ~BisectObserver() = default;
  virtual void Resuming(int64_t /*id*/, size_t /*recorded_runs*/) {}
  virtual void Started(const BisectStart&) {}
  // The run at an end before the search (the test starts there).
  virtual void EndChecked(bool /*good_end*/, const std::string& /*commit*/, bisect::Outcome) {}
  // `why`: the probe's one line about it ("" when it has none).
  virtual void BuildFailed(const std::string& /*commit*/, const std::string& /*why*/) {}
  virtual void Ran(const BisectRunEvent&) {}
  virtual void Descending(const MergeDescent&) {}
  // Something went wrong that does not change the result (a worktree that
  // could not be removed, a record that could not be finished).
  virtual void Warning(const std::string& /*message*/) {}
};

struct BisectOutcome {
  int64_t id = 0;
  bool confident = false;  // stopped because the answer reached the confidence
  // The result as recorded (format_version 1): stop, hypothesis, culprit or
  // range, evidence, merges descended into, runs, builds, the build cost
  // used (build_cost, build_cost_measured) and the measured means
  // (measured: build_ms, builds, run_ms, runs), ...
  nlohmann::json result;
};

class BisectDriver {
 public:
  // All must outlive the driver.
  BisectDriver(Vcs& vcs, Probe& probe, BisectObserver& observer, Clock& clock = SystemClock::Get());

  // The commits between the request's ends on the first-parent line: an
  // error (InvalidArgument, for people) when an end is not a commit or the
  // older does not reach the newer.
  Status Resolve(const BisectRequest& r);
  // Bisects what Resolve found with the records in `db`, whose path is
  // `db_path` (the worktree goes beside it); resumes the bisection of the
  // repository in progress when it has the same ends and options. First the
  // test runs once at each end (unless a run there is recorded): an end that
  // does not build, a test that cannot start there (ProbeRun::cannot_start)
  // or, at the bad end, a subtest that is not there ends the bisection with
  // an InvalidArgument error (recorded as status "error"); those runs are
  // evidence for the search. Another error (the probe's) ends it early; the
  // runs so far stay recorded and it resumes. Builds and runs are timed with
  // the clock: without r.build_cost, the search's build cost is the measured
  // one (CostMeter) from when it is known, updated after each build and run.
  // The probe records its builds in `db` (Probe::RecordBuildsIn).
  Result<BisectOutcome> Run(const BisectRequest& r, store::Store& db, const std::string& db_path);

 private:
  struct Line {  // model positions: 0 the unaffected end, n the affected one
    std::vector<std::string> commits, subjects;
  };
  Line Positions(std::vector<Commit> oldest_first, bool fix) const;
  std::optional<Line> MergedLine(const std::string& merge, bool fix);
  // The runs at the ends that `done` lacks, recorded and appended to it.
  Status CheckEnds(const BisectRequest& r, store::Store& db, int64_t id, const std::string& wt,
                   std::vector<model::BisectRunRecord>* done, int* builds);
  Vcs& vcs_;
  Probe& probe_;
  BisectObserver& observer_;
  Clock& clock_;
  // Build() and Run() at `hash`, timed into meter_.
  Result<bool> TimedBuild(const std::string& wt, const std::string& hash);
  Result<ProbeRun> TimedRun(const std::string& wt, const std::string& hash);
  Line first_line_;
  CostMeter meter_;
};

// Resolve, open the store, Run.
Result<BisectOutcome> RunBisection(Vcs& vcs, Probe& probe, BisectObserver& observer, const BisectRequest& r);

// The newest bisection of the repository and its runs; found = false when
// there is none.
struct BisectionStatus {
  bool found = false;
  model::BisectionRecord bisection;
  std::vector<model::BisectRunRecord> runs;
};
Result<BisectionStatus> LatestBisection(store::Store& db, const std::string& repo);

// The store of bisections at `db_path`; NotFound when it does not exist yet.
Result<std::unique_ptr<store::Store>> OpenBisectStore(const std::string& db_path);

// Ends the bisection of the repository in progress and removes its worktree
// (and the build directory in it, BisectBuildDir);
// NotFound when none is in progress. Failures to clean up reach `observer`.
Result<int64_t> ResetBisection(Vcs& vcs, store::Store& db, const std::string& db_path,
                               BisectObserver& observer, Clock& clock = SystemClock::Get());

}  // namespace vigil::engine
