// A run's plan split across machines (vigil run --shard I/N): each test goes
// to one of N shards so that the shards end at about the same time, longest
// processing time first over the tests' historical durations. Every machine
// computes the same split from the same history.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vigil::runner {

struct PlanSplit {
  std::vector<int> shard_of;     // per plan entry: its shard, 0..N-1
  std::vector<int64_t> load_ms;  // per shard: the durations of its tests, summed
  // The duration taken for a test without history: the median of the known
  // ones (1 s when none is known).
  int64_t unknown_ms = 0;
  size_t unknown = 0;             // tests without history
  int64_t longest_test_ms = 0;    // no split has a shorter longest shard
  // Per shard, its tests in plan order.
  std::vector<std::vector<std::string>> Tests(const std::vector<std::string>& plan) const;
  // The longest shard over the mean shard (1.0 for a perfect balance).
  double Imbalance() const;
};

// Splits `plan` (test paths, in plan order) into `n` >= 1 shards. Tests are
// placed longest first (ties: by path), each on the shard with the least
// load (ties: the lowest) among those that hold no other part of the same
// test (TEST#K, a vigil.toml shard: parts kept apart run side by side),
// else among all.
PlanSplit SplitPlan(const std::vector<std::string>& plan, const std::map<std::string, int64_t>& durations, int n);

}  // namespace vigil::runner
