// The flake-aware bisection model. Positions 0..n are the commits from the
// good end (0) to the bad end (n) on a linear history. Hypothesis k says the
// commits at positions >= k are affected: a run there shows the failure with
// an unknown probability p (Beta prior, learned from the runs), a run at an
// unaffected commit shows it with a small probability epsilon (unrelated
// failures). k = 1..n names the culprit; k = 0 is "the good end is actually
// bad"; k = n + 1 is "not reproducible at the bad end".
//
// The next probe maximises the expected information gain about k per unit of
// cost (another run at the commit already built, or at one whose build was
// kept, costs 1; a commit elsewhere costs the build plus its best batch of
// runs there), which keeps probing
// next to a suspect instead of stalling there the way "first commit past the
// posterior median" does under one-sided noise.
// Skipped (untestable) commits get no observation, so a culprit next to them
// can only be named as a range.
#pragma once

#include <cstdint>
#include <vector>

namespace vigil::bisect {

struct ModelOptions {
  double epsilon = 0.0;          // failure rate of unaffected commits
  double prior_a = 1.0;          // Beta(a, b) prior on p
  double prior_b = 3.0;          // mean 0.25: bisected failures are mostly intermittent
  double extra_prior = 0.01;     // prior mass of each extra hypothesis (k = 0, k = n + 1)
  // Prior weight of p = 1 (a failure that always shows): the prior on p is
  // this atom plus (1 - it) times Beta(a, b), so deterministic failures
  // bisect at plain bisection's pace and intermittent ones are learned.
  double deterministic_prior = 0.1;
};

struct Group {
  int first = 0;    // hypotheses first..last (linked by skipped commits)
  int last = 0;
  double mass = 0;  // their posterior mass
};

class Model {
 public:
  Model(int n, ModelOptions o);

  int n() const { return n_; }
  void Observe(int pos, bool failed);
  // `runs` runs at `pos` of which `failures` failed, in one update.
  void ObserveMany(int pos, int runs, int failures);
  void Skip(int pos);
  bool skipped(int pos) const { return skipped_[pos]; }
  int runs(int pos) const { return runs_[pos]; }
  int failures(int pos) const { return fails_[pos]; }

  // Posterior over k = 0..n+1.
  const std::vector<double>& Posterior() const { return post_; }
  // The most probable group of hypotheses that no observation can tell
  // apart (a culprit and its skipped neighbours).
  Group Best() const;
  // Posterior mean of p given k.
  double PHat(int k) const;

  // The position to run next: the highest expected information gain per
  // cost; `current` is the commit built now (-1: none), `build_cost` in runs.
  // `kept` (null: none), indexed by position: the builds kept, which a run
  // costs 1 at, as at `current`. -1 when every position is skipped.
  int NextProbe(int current, double build_cost, const std::vector<bool>* kept = nullptr) const;
  // Expected information gain (bits) of one run at `pos`.
  double InformationGain(int pos) const;
  // Expected information gain (bits) about the culprit of `runs` runs in a
  // row at `pos`, told apart as "some failed" or "all passed".
  double GainOfRuns(int pos, int runs) const;

 private:
  void Update();
  int n_;
  ModelOptions o_;
  std::vector<int> runs_, fails_;
  std::vector<bool> skipped_;
  std::vector<double> post_;
  std::vector<double> phat_;
};

}  // namespace vigil::bisect
