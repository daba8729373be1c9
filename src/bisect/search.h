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
  ModelOptions model;
};

enum class Outcome { kPass, kFail, kSkip };

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
  int runs() const { return runs_; }
  int builds() const { return builds_; }

 private:
  Model model_;
  SearchOptions o_;
  int current_ = -1;
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
  SearchOptions search;
};

struct SimStats {
  double accuracy = 0;
  double mean_runs = 0, p90_runs = 0;
  double mean_builds = 0, p90_builds = 0;
};

struct SimResult {
  SimStats vigil;
  SimStats naive;
  int naive_repeats = 0;  // k: runs per step of naive bisection
};

// Runs the search against simulated repositories (the culprit uniform in
// 1..commits) and naive bisection that repeats each step up to k times
// (a failure ends the step early), with the smallest k that reaches the
// search's accuracy.
SimResult Simulate(const SimOptions& o);

}  // namespace vigil::bisect
