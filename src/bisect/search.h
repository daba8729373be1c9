// The bisection loop around the model, shared by `vigil bisect run` (a git
// repository) and `vigil bisect simulate` (a simulated one): which commit to
// build and run next, when to stop and why.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bisect/model.h"

namespace vigil::bisect {

struct SearchOptions {
  double confidence = 0.95;
  int max_runs = 1000;
  int runs_per_build = 1;   // runs in a row at a commit once it is built
  double build_cost = 0.0;  // a build, in runs
  // The probe keeps the builds it makes: going back to a commit whose build
  // was kept runs it again without a build (vigil bisect run --build-tree).
  // Next() takes each commit it moves to as kept; SetKept corrects that.
  bool keep_builds = false;
  // Earlier runs of the test at the bad end (CI history): evidence about p
  // and the bad end from the start, not counted as runs of the search.
  int known_runs = 0;
  int known_failures = 0;
  ModelOptions model;
};

enum class Outcome { kPass, kFail, kSkip };
// "pass", "fail", "skip" (as bisection runs are recorded).
const char* OutcomeName(Outcome o);

enum class Stop { kNone, kConfident, kMaxRuns, kUntestable };
const char* StopName(Stop s);

class Search {
 public:
  Search(int n, SearchOptions o);
  // The position to run next, or -1 when the search is over (see stop()).
  // A position other than the last one returned means a checkout and build.
  int Next();
  void Record(int pos, Outcome o);
  Stop stop() const { return stop_; }
  const Model& model() const { return model_; }
  // Whether the most likely culprit has reached the confidence (Next()
  // stops there); replaying recorded runs stops there too.
  bool Confident() const { return model_.Best().mass >= o_.confidence; }
  // Whether the build at `pos` is kept (with keep_builds): what the probe
  // says, for the commits it built before this search or could not keep.
  void SetKept(int pos, bool kept);
  int runs() const { return runs_; }
  // Builds made: a commit built before costs none with keep_builds.
  int builds() const { return builds_; }
  // What a build costs in runs, from the next choice on (a cost measured as
  // the search goes).
  void set_build_cost(double runs) { o_.build_cost = runs; }
  double build_cost() const { return o_.build_cost; }

 private:
  Model model_;
  SearchOptions o_;
  int current_ = -1;
  std::vector<bool> kept_;  // with keep_builds: the positions built
  int pending_ = 0;
  int runs_ = 0;
  int builds_ = 0;
  Stop stop_ = Stop::kNone;
};

struct SimOptions {
  int commits = 1024;
  double p = 0.25;
  double epsilon = 0.0;
  int trials = 200;
  uint64_t seed = 1;
  int history = 0;  // earlier runs at the bad end known to each search (drawn at p)
  SearchOptions search;
};

struct SimStats {
  double accuracy = 0;
  double mean_runs = 0, p90_runs = 0;
  double mean_builds = 0, p90_builds = 0;
  double mean_cost = 0;  // mean runs + build cost x mean builds, in runs
};

struct SimResult {
  SimStats vigil;
  SimStats naive;
  int naive_repeats = 0;  // k: runs per step of naive bisection
  double cost_ratio = 0;  // vigil's mean cost / naive's (builds weighed by build_cost)
  // A policy that knows the culprit and stops by the same rule: it runs the
  // culprit until it fails, then the culprit and its parent, `oracle_ratio`
  // parent runs per culprit run (the best of a grid). Passes at the parent
  // count against every earlier culprit and a failure at the culprit against
  // every later one, so no search can do much better than this yardstick:
  // it is what the model's confidence costs once the culprit is found.
  SimStats oracle;
  double oracle_ratio = 0;
};

// Runs the search against simulated repositories (the culprit uniform in
// 1..commits) and naive bisection that repeats each step up to k times
// (a failure ends the step early), with the smallest k that reaches the
// search's accuracy, and the oracle above.
SimResult Simulate(const SimOptions& o);

}  // namespace vigil::bisect
