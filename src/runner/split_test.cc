#include "runner/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

namespace vigil::runner {
namespace {

TEST(SplitPlan, LongestFirstOnTheLeastLoadedShard) {
  std::vector<std::string> plan = {"c:a", "c:b", "c:c", "c:d", "c:e"};
  std::map<std::string, int64_t> d = {{"c:a", 10}, {"c:b", 7}, {"c:c", 6}, {"c:d", 5}, {"c:e", 4}};
  PlanSplit s = SplitPlan(plan, d, 2);
  // a(10) -> 0; b(7) -> 1; c(6) -> 1 (13); d(5) -> 0 (15); e(4) -> 1 (17)
  EXPECT_EQ(s.shard_of, (std::vector<int>{0, 1, 1, 0, 1}));
  EXPECT_EQ(s.load_ms, (std::vector<int64_t>{15, 17}));
  EXPECT_EQ(s.longest_test_ms, 10);
  EXPECT_EQ(s.unknown, 0u);
  auto tests = s.Tests(plan);
  EXPECT_EQ(tests[0], (std::vector<std::string>{"c:a", "c:d"}));
  EXPECT_EQ(tests[1], (std::vector<std::string>{"c:b", "c:c", "c:e"}));
  EXPECT_NEAR(s.Imbalance(), 17.0 / 16.0, 1e-9);
}

TEST(SplitPlan, UnknownTestsCostTheMedianOfTheKnown) {
  std::vector<std::string> plan = {"c:a", "c:b", "c:c", "c:new"};
  PlanSplit s = SplitPlan(plan, {{"c:a", 100}, {"c:b", 300}, {"c:c", 200}}, 3);
  EXPECT_EQ(s.unknown, 1u);
  EXPECT_EQ(s.unknown_ms, 200);
  // Nothing known at all: a second each, spread evenly.
  PlanSplit none = SplitPlan(plan, {}, 2);
  EXPECT_EQ(none.unknown_ms, 1000);
  EXPECT_EQ(none.load_ms, (std::vector<int64_t>{2000, 2000}));
}

TEST(SplitPlan, PartsOfOneTestGoToDifferentShards) {
  // The three parts are the longest: without the rule two would share a
  // shard once the others filled up; with it each has its own.
  std::vector<std::string> plan = {"net:j.sh#1", "net:j.sh#2", "net:j.sh#3", "net:x", "net:y"};
  std::map<std::string, int64_t> d = {{"net:j.sh#1", 50}, {"net:j.sh#2", 50}, {"net:j.sh#3", 50},
                                      {"net:x", 200}, {"net:y", 200}};
  PlanSplit s = SplitPlan(plan, d, 3);
  std::set<int> parts = {s.shard_of[0], s.shard_of[1], s.shard_of[2]};
  EXPECT_EQ(parts.size(), 3u);
  // More parts than shards: they share only when they must.
  PlanSplit two = SplitPlan(plan, d, 2);
  EXPECT_EQ(two.shard_of.size(), plan.size());
}

TEST(SplitPlan, TheSameWhateverTheHistoryMapOrderAndDeterministic) {
  std::mt19937 rng(7);
  std::vector<std::string> plan;
  std::map<std::string, int64_t> d;
  for (int i = 0; i < 200; ++i) {
    plan.push_back("c:t" + std::to_string(i));
    if (i % 5) d[plan.back()] = static_cast<int64_t>(rng() % 100000);
  }
  PlanSplit a = SplitPlan(plan, d, 4);
  PlanSplit b = SplitPlan(plan, d, 4);
  EXPECT_EQ(a.shard_of, b.shard_of);
  // Every test in exactly one shard; the shards together are the plan.
  auto tests = a.Tests(plan);
  size_t total = 0;
  for (const auto& t : tests) total += t.size();
  EXPECT_EQ(total, plan.size());
  // LPT's bound: the longest shard is within 4/3 of the optimum, of which
  // the mean and the longest test are lower bounds.
  int64_t longest = *std::max_element(a.load_ms.begin(), a.load_ms.end());
  int64_t sum = 0;
  for (int64_t l : a.load_ms) sum += l;
  EXPECT_LE(static_cast<double>(longest), 4.0 / 3.0 * std::max<double>(static_cast<double>(sum) / 4.0,
                                                                      static_cast<double>(a.longest_test_ms)) + 1);
}

TEST(SplitPlan, MoreShardsThanTestsLeavesSomeEmpty) {
  PlanSplit s = SplitPlan({"c:a", "c:b"}, {}, 4);
  auto tests = s.Tests({"c:a", "c:b"});
  ASSERT_EQ(tests.size(), 4u);
  EXPECT_EQ(tests[0].size() + tests[1].size(), 2u);
  EXPECT_TRUE(tests[2].empty());
  EXPECT_TRUE(tests[3].empty());
  EXPECT_EQ(SplitPlan({}, {}, 0).load_ms.size(), 1u);
}

}  // namespace
}  // namespace vigil::runner
