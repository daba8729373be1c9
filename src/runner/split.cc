#include "runner/split.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "model/test_path.h"

namespace vigil::runner {

std::vector<std::vector<std::string>> PlanSplit::Tests(const std::vector<std::string>& plan) const {
  std::vector<std::vector<std::string>> out(load_ms.size());
  for (size_t i = 0; i < plan.size() && i < shard_of.size(); ++i) out[static_cast<size_t>(shard_of[i])].push_back(plan[i]);
  return out;
}

double PlanSplit::Imbalance() const {
  if (load_ms.empty()) return 1.0;
  int64_t total = std::accumulate(load_ms.begin(), load_ms.end(), int64_t{0});
  if (total <= 0) return 1.0;
  double mean = static_cast<double>(total) / static_cast<double>(load_ms.size());
  return static_cast<double>(*std::max_element(load_ms.begin(), load_ms.end())) / mean;
}

PlanSplit SplitPlan(const std::vector<std::string>& plan, const std::map<std::string, int64_t>& durations, int n) {
  PlanSplit split;
  n = std::max(n, 1);
  split.load_ms.assign(static_cast<size_t>(n), 0);
  split.shard_of.assign(plan.size(), 0);
  std::vector<int64_t> known;
  for (const auto& p : plan) {
    if (auto it = durations.find(p); it != durations.end()) known.push_back(std::max<int64_t>(it->second, 0));
  }
  if (known.empty()) {
    split.unknown_ms = 1000;
  } else {
    std::sort(known.begin(), known.end());
    size_t m = known.size() / 2;
    split.unknown_ms = known.size() % 2 ? known[m] : (known[m - 1] + known[m]) / 2;
  }
  std::vector<int64_t> cost(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    auto it = durations.find(plan[i]);
    if (it == durations.end()) {
      ++split.unknown;
      cost[i] = split.unknown_ms;
    } else {
      cost[i] = std::max<int64_t>(it->second, 0);
    }
    split.longest_test_ms = std::max(split.longest_test_ms, cost[i]);
  }
  std::vector<size_t> order(plan.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (cost[a] != cost[b]) return cost[a] > cost[b];
    if (plan[a] != plan[b]) return plan[a] < plan[b];
    return a < b;
  });
  // Per shard, the tests (without their #K) it holds parts of.
  std::vector<std::set<std::string>> parts(static_cast<size_t>(n));
  for (size_t i : order) {
    model::TestPath path = model::TestPath::Parse(plan[i]);
    bool part = path.shard().has_value();
    std::string base = part ? path.BaseTestId() : std::string();
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; ++pass) {
      for (int k = 0; k < n; ++k) {
        if (pass == 0 && part && parts[static_cast<size_t>(k)].count(base)) continue;
        if (best < 0 || split.load_ms[static_cast<size_t>(k)] < split.load_ms[static_cast<size_t>(best)]) best = k;
      }
    }
    split.shard_of[i] = best;
    split.load_ms[static_cast<size_t>(best)] += cost[i];
    if (part) parts[static_cast<size_t>(best)].insert(base);
  }
  return split;
}

}  // namespace vigil::runner
