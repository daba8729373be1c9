// How evenly vigil run --shard I/N splits a real history: the plan of the
// store's latest finished run, split as the first shard splits it
// (runner::SplitPlan over the store's last durations), for each N. Prints
// the longest shard over the mean shard and the bound no split can beat:
// the longest test over the mean (when a single test is longer than a fair
// share, it alone sets the longest shard).
//
//   shard_split DB N...
#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string>

#include <fmt/format.h>

#include "runner/split.h"
#include "store/store.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: shard_split DB N...\n");
    return 2;
  }
  auto db = vigil::store::Store::OpenReadOnly(argv[1]);
  if (!db.ok()) {
    fmt::print(stderr, "{}\n", db.status().message());
    return 1;
  }
  auto runs = (*db)->ListRuns();
  if (!runs.ok() || runs->empty()) {
    fmt::print(stderr, "no runs\n");
    return 1;
  }
  const vigil::model::RunRecord* run = nullptr;
  for (const auto& r : *runs) {
    if (!r.status.empty()) run = &r;
  }
  if (!run) {
    fmt::print(stderr, "no finished run\n");
    return 1;
  }
  auto durations = (*db)->LastDurations().value();
  int64_t total = 0;
  for (const auto& p : run->plan) {
    if (auto it = durations.find(p); it != durations.end()) total += it->second;
  }
  fmt::print("run {}: {} tests, {:.0f} s of tests in all\n", run->id, run->plan.size(), static_cast<double>(total) / 1000.0);
  for (int i = 2; i < argc; ++i) {
    int n = std::atoi(argv[i]);
    vigil::runner::PlanSplit split = vigil::runner::SplitPlan(run->plan, durations, n);
    int64_t sum = std::accumulate(split.load_ms.begin(), split.load_ms.end(), int64_t{0});
    double mean = static_cast<double>(sum) / n;
    int64_t longest = *std::max_element(split.load_ms.begin(), split.load_ms.end());
    double bound = std::max(1.0, static_cast<double>(split.longest_test_ms) / mean);
    fmt::print("N={:<3} longest shard {:>7.0f} s, mean {:>7.0f} s: longest/mean {:.3f} (lower bound {:.3f}: the longest "
               "test, {:.0f} s){}\n",
               n, static_cast<double>(longest) / 1000.0, mean / 1000.0, split.Imbalance(), bound,
               static_cast<double>(split.longest_test_ms) / 1000.0,
               split.unknown ? fmt::format("; {} tests without history", split.unknown) : "");
  }
  return 0;
}
