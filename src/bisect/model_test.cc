#include "bisect/model.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "bisect/search.h"

namespace vigil::bisect {
namespace {

double Sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

TEST(BisectModel, FailureExcludesLaterCulpritsWithoutNoise) {
  Model m(10, ModelOptions{});
  EXPECT_NEAR(Sum(m.Posterior()), 1.0, 1e-9);
  m.Observe(4, true);  // position 4 is affected: k <= 4
  const auto& p = m.Posterior();
  for (int k = 5; k <= 11; ++k) EXPECT_EQ(p[k], 0.0) << k;
  EXPECT_NEAR(Sum(p), 1.0, 1e-9);
  // With unrelated failures possible (epsilon), later culprits stay possible.
  ModelOptions o;
  o.epsilon = 0.05;
  Model noisy(10, o);
  noisy.Observe(4, true);
  EXPECT_GT(noisy.Posterior()[7], 0.0);
  EXPECT_LT(noisy.Posterior()[7], noisy.Posterior()[3]);
}

TEST(BisectModel, PassesLowerEarlierCulpritsAndTeachP) {
  Model m(10, ModelOptions{});
  m.Observe(10, true);
  double before = m.Posterior()[3];
  for (int i = 0; i < 5; ++i) m.Observe(5, false);  // 5 passes at position 5
  EXPECT_LT(m.Posterior()[3], before);               // k <= 5 would make them failures at rate p
  EXPECT_GT(m.Posterior()[8], m.Posterior()[3]);
  EXPECT_EQ(m.runs(5), 5);
  EXPECT_EQ(m.failures(10), 1);
  // p-hat under k = 10: 1 failure in 1 run. Beta(1, 3) alone says 2/5; the
  // atom at p = 1 (prior 0.1) has posterior weight 0.1 / (0.1 + 0.9 * 1/4).
  double atom = 0.1 / (0.1 + 0.9 * 0.25);
  EXPECT_NEAR(m.PHat(10), atom + (1 - atom) * 2.0 / 5.0, 1e-9);
  // A pass on the affected side rules p = 1 out: back to the Beta estimate.
  m.Observe(10, false);
  EXPECT_NEAR(m.PHat(10), 2.0 / 6.0, 1e-9);
}

TEST(BisectModel, ChoiceMaximisesInformationGain) {
  Model m(40, ModelOptions{});
  m.Observe(40, true);
  m.Observe(20, false);
  m.Observe(30, true);
  int j = m.NextProbe(-1, 0.0);
  ASSERT_GE(j, 0);
  for (int i = 0; i <= 40; ++i) EXPECT_LE(m.InformationGain(i), m.InformationGain(j) + 1e-9) << i;
  // A build cost favours the commit already built when gains are close.
  int stay = m.NextProbe(j + 1, 1000.0);
  EXPECT_EQ(stay, j + 1);
}

TEST(BisectModel, SkippedCommitsFormARange) {
  Model m(10, ModelOptions{});
  m.Skip(5);
  m.Skip(6);
  for (int i = 0; i < 30; ++i) {
    m.Observe(7, i % 2 == 0);  // 7 is affected
    m.Observe(4, false);       // 4 is not
  }
  Group g = m.Best();
  EXPECT_EQ(g.first, 5);  // k = 5, 6 or 7: no run can tell them apart
  EXPECT_EQ(g.last, 7);
  EXPECT_GT(g.mass, 0.99);
  EXPECT_EQ(m.NextProbe(-1, 0.0) == 5 || m.NextProbe(-1, 0.0) == 6, false);
}

TEST(BisectSearch, FindsADeterministicCulpritAndStopsForReasons) {
  for (int culprit : {1, 17, 63, 64}) {
    Search s(64, SearchOptions{});
    for (int j = s.Next(); j >= 0; j = s.Next()) s.Record(j, j >= culprit ? Outcome::kFail : Outcome::kPass);
    EXPECT_EQ(s.stop(), Stop::kConfident);
    EXPECT_EQ(s.model().Best().first, culprit);
  }
  // Never failing: "not reproducible at the bad end" wins.
  Search none(64, SearchOptions{});
  for (int j = none.Next(); j >= 0; j = none.Next()) none.Record(j, Outcome::kPass);
  EXPECT_EQ(none.model().Best().first, 65);
  // Failing everywhere, the good end included: "the good end is bad".
  Search all(64, SearchOptions{});
  for (int j = all.Next(); j >= 0; j = all.Next()) all.Record(j, Outcome::kFail);
  EXPECT_EQ(all.model().Best().first, 0);
  SearchOptions few;
  few.max_runs = 3;
  Search capped(64, few);
  for (int j = capped.Next(); j >= 0; j = capped.Next()) capped.Record(j, Outcome::kPass);
  EXPECT_EQ(capped.stop(), Stop::kMaxRuns);
  EXPECT_EQ(capped.runs(), 3);
}

TEST(BisectSimulate, DeterministicFailuresBisectAtPlainPace) {
  SimOptions o;
  o.commits = 1024;
  o.p = 1.0;
  o.trials = 50;
  SimResult r = Simulate(o);
  EXPECT_EQ(r.vigil.accuracy, 1.0);
  EXPECT_LE(r.vigil.mean_runs, 25.0);  // log2(1024) = 10 and a few runs to believe p = 1
}

TEST(BisectSimulate, AccurateAtTheNamedConfidence) {
  SimOptions o;
  o.commits = 64;
  o.p = 0.5;
  o.trials = 100;
  SimResult r = Simulate(o);
  EXPECT_GE(r.vigil.accuracy, 0.95);
  EXPECT_GE(r.naive.accuracy, r.vigil.accuracy);
  EXPECT_GT(r.naive_repeats, 1);
}

TEST(BisectModel, ObserveManyEqualsRunByRun) {
  Model a(20, ModelOptions{}), b(20, ModelOptions{});
  a.ObserveMany(20, 7, 2);
  for (int i = 0; i < 7; ++i) b.Observe(20, i < 2);
  for (int k = 0; k <= 21; ++k) EXPECT_NEAR(a.Posterior()[k], b.Posterior()[k], 1e-12) << k;
  EXPECT_EQ(a.runs(20), 7);
  EXPECT_EQ(a.failures(20), 2);
}

TEST(BisectSearch, KnownRunsAtTheBadEndAreEvidenceNotRuns) {
  SearchOptions o;
  o.known_runs = 40;
  o.known_failures = 10;
  Search s(100, o);
  EXPECT_EQ(s.runs(), 0);
  EXPECT_EQ(s.model().runs(100), 40);
  EXPECT_EQ(s.model().Posterior()[101], 0.0);  // a failure at the bad end: reproducible
  EXPECT_NEAR(s.model().PHat(100), (1.0 + 10) / (1.0 + 3 + 40), 1e-9);
}

TEST(BisectSimulate, HistoryAtTheBadEndSavesRuns) {
  SimOptions o;
  o.commits = 256;
  o.p = 0.25;
  o.trials = 60;
  SimResult without = Simulate(o);
  o.history = 100;
  SimResult with = Simulate(o);
  EXPECT_LT(with.vigil.mean_runs, without.vigil.mean_runs);
  EXPECT_GE(with.vigil.accuracy, 0.9);
}

TEST(BisectSimulate, OracleKnowsTheCulprit) {
  SimOptions o;
  o.commits = 256;
  o.p = 1.0;
  o.trials = 30;
  SimResult r = Simulate(o);
  // One failure at the culprit, then passes at its parent until p = 1's
  // atom and the parent's passes leave the culprit at 0.95.
  EXPECT_EQ(r.oracle.accuracy, 1.0);
  EXPECT_LT(r.oracle.mean_runs, r.vigil.mean_runs);
  EXPECT_GT(r.oracle_ratio, 0.0);
  o.p = 0.25;
  r = Simulate(o);
  EXPECT_GE(r.oracle.accuracy, 0.95);
  EXPECT_LE(r.oracle.mean_runs, r.vigil.mean_runs);
}

TEST(BisectModel, ABatchOfRunsTellsMoreThanOneRun) {
  Model m(64, ModelOptions{});
  m.Observe(64, true);
  m.Observe(64, false);
  // One run "fails or passes" is what InformationGain weighs.
  EXPECT_NEAR(m.GainOfRuns(32, 1), m.InformationGain(32), 1e-9);
  double one = m.GainOfRuns(32, 1), eight = m.GainOfRuns(32, 8);
  EXPECT_GT(eight, one);
  EXPECT_LE(eight, 1.0 + 1e-9);  // one binary outcome: at most a bit
  EXPECT_LT(eight, 8 * one);     // diminishing returns
  EXPECT_EQ(m.GainOfRuns(-1, 8), 0.0);
  EXPECT_EQ(m.GainOfRuns(32, 0), 0.0);
}

TEST(BisectModel, ExpensiveBuildKeepsTheSearchAtTheBuiltCommit) {
  // p near 0.25 and 3 passes at 32: another run there is still worth more
  // than a build elsewhere when a build costs 20 runs, not when builds are free.
  Model m(64, ModelOptions{});
  m.ObserveMany(64, 8, 2);
  m.ObserveMany(32, 3, 0);
  EXPECT_NE(m.NextProbe(32, 0.0), 32);
  EXPECT_EQ(m.NextProbe(32, 20.0), 32);
}

// Mean runs + build_cost x mean builds of a search run with `search_cost`
// (what the search believes a build costs) on the repositories of `o`.
double CostOf(SimOptions o, double search_cost, double build_cost, double* accuracy) {
  o.search.build_cost = search_cost;
  SimResult r = Simulate(o);
  *accuracy = r.vigil.accuracy;
  return r.vigil.mean_runs + build_cost * r.vigil.mean_builds;
}

TEST(BisectSimulate, BuildCostBuysFewerBuildsAtEqualAccuracy) {
  SimOptions o;
  o.commits = 256;
  o.p = 0.5;
  o.trials = 60;
  o.seed = 7;
  o.search.build_cost = 0;
  SimResult free_builds = Simulate(o);
  o.search.build_cost = 20;
  SimResult costly = Simulate(o);
  EXPECT_LT(costly.vigil.mean_builds, 0.5 * free_builds.vigil.mean_builds);
  EXPECT_GE(costly.vigil.accuracy, 0.95);
  EXPECT_GE(free_builds.vigil.accuracy, 0.95);
  // The cost the search is told is the cost it saves on.
  double acc_blind = 0, acc_aware = 0;
  double blind = CostOf(o, 0, 20, &acc_blind), aware = CostOf(o, 20, 20, &acc_aware);
  EXPECT_LT(aware, 0.6 * blind);
  EXPECT_NEAR(costly.vigil.mean_cost, costly.vigil.mean_runs + 20 * costly.vigil.mean_builds, 1e-9);
  EXPECT_NEAR(costly.cost_ratio, costly.vigil.mean_cost / costly.naive.mean_cost, 1e-9);
}

TEST(BisectModel, AKeptBuildCostsWhatTheBuiltCommitDoes) {
  // As above, but the search stands at 40 and 32's build was kept: going back
  // to 32 costs a run, as staying there would have.
  Model m(64, ModelOptions{});
  m.ObserveMany(64, 8, 2);
  m.ObserveMany(32, 3, 0);
  m.ObserveMany(40, 4, 1);
  std::vector<bool> kept(65, false);
  EXPECT_NE(m.NextProbe(40, 20.0), 32);
  kept[32] = true;
  EXPECT_EQ(m.NextProbe(40, 20.0, &kept), 32);
}

TEST(BisectSearch, GoingBackToAKeptBuildIsNoBuild) {
  SearchOptions so;
  so.build_cost = 5;
  so.keep_builds = true;
  Search s(16, so);
  // Fails from 9 on at p = 0.5, by a fixed sequence of coin flips.
  std::mt19937_64 rng(3);
  std::set<int> distinct;
  int switches = 0, last = -1;
  for (int j = s.Next(); j >= 0; j = s.Next()) {
    switches += j != last;
    last = j;
    distinct.insert(j);
    s.Record(j, j >= 9 && rng() % 2 ? Outcome::kFail : Outcome::kPass);
  }
  EXPECT_EQ(s.stop(), Stop::kConfident);
  EXPECT_EQ(s.model().Best().first, 9);
  EXPECT_EQ(s.builds(), static_cast<int>(distinct.size()));
  EXPECT_GT(switches, s.builds());  // it went back to a commit it had built
}

TEST(BisectSimulate, KeptBuildsAreNotBuiltAgain) {
  SimOptions o;
  o.commits = 256;
  o.p = 0.25;
  o.trials = 100;
  o.seed = 5;
  o.search.build_cost = 5;
  SimResult rebuilt = Simulate(o);
  o.search.keep_builds = true;
  SimResult kept = Simulate(o);
  EXPECT_LT(kept.vigil.mean_builds, rebuilt.vigil.mean_builds - 1);
  EXPECT_GE(kept.vigil.accuracy, 0.95);
  // The oracle goes back and forth between two commits: two builds.
  EXPECT_LE(kept.oracle.mean_builds, 2.0);
  EXPECT_GT(rebuilt.oracle.mean_builds, 2.0);
}

}  // namespace
}  // namespace vigil::bisect
