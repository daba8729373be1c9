#include "runner/config.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "runner/scheduler.h"

namespace vigil::runner {
namespace {

TEST(ConfigTest, ClassesAndTestRules) {
  auto c = ParseConfig(R"(
[[class]]
match = "net/packetdrill:*"
max_parallel = 2

[[class]]
match = "net/mptcp:mptcp_join.sh"
serial = true

[[test]]
match = "net/mptcp:simult_flows.sh"
timeout = 600
retries = 2
)",
                       "vigil.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->classes.size(), 2u);
  EXPECT_EQ(c->classes[0].max_parallel, 2);
  EXPECT_TRUE(c->classes[1].serial);
  const TestRule* r = c->RuleFor("net/mptcp:simult_flows.sh");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->timeout_s, 600);
  EXPECT_EQ(r->retries, 2);
  EXPECT_EQ(c->RuleFor("net/mptcp:diag.sh"), nullptr);
}

TEST(ConfigTest, ErrorsSayWhere) {
  auto bad = ParseConfig("[[class]]\nmatch = \"x\"\nmax_paralel = 2\n", "vigil.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("vigil.toml:3: unknown key 'max_paralel'"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(ParseConfig("[[class]]\nmax_parallel = 2\n", "f").ok());          // no match
  EXPECT_FALSE(ParseConfig("[[class]]\nmatch = \"x\"\nmax_parallel = 0\n", "f").ok());
  EXPECT_FALSE(ParseConfig("[[test]]\nmatch = \"x\"\ntimeout = \"long\"\n", "f").ok());
  EXPECT_FALSE(ParseConfig("[[test]]\nmatch = \"x\"\ntimeout = 1.5\n", "f").ok());
  EXPECT_FALSE(ParseConfig("[weird]\n", "f").ok());
  EXPECT_FALSE(ParseConfig("not toml at all = = =", "f").ok());
  EXPECT_TRUE(ParseConfig("", "f").ok());
}

std::vector<TestSpec> Specs(std::initializer_list<const char*> paths) {
  std::vector<TestSpec> out;
  for (const char* p : paths) {
    TestSpec t;
    std::string s = p;
    t.collection = s.substr(0, s.find(':'));
    t.name = s.substr(s.find(':') + 1);
    out.push_back(t);
  }
  return out;
}

// Runs the tests on 4 workers, each "test" taking a few ms, and records the
// most tests of each kind running at once.
void Simulate(const std::vector<TestSpec>& tests, const RunConfig& config, int* max_a, int* max_total,
              bool* serial_alone) {
  std::vector<size_t> order(tests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Scheduler sched(tests, order, config);
  std::atomic<int> a{0}, total{0}, serial_running{0};
  std::atomic<int> ma{0}, mt{0};
  std::atomic<bool> alone{true};
  auto worker = [&] {
    while (auto t = sched.Next()) {
      bool is_a = tests[*t].collection == "a";
      bool is_serial = tests[*t].collection == "s";
      int now = ++total;
      if (is_a) ma = std::max(ma.load(), ++a);
      if (is_serial) ++serial_running;
      mt = std::max(mt.load(), now);
      if (serial_running > 0 && total > 1) alone = false;
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      if (is_a) --a;
      if (is_serial) --serial_running;
      --total;
      sched.Done(*t);
    }
  };
  std::vector<std::thread> ws;
  for (int i = 0; i < 4; ++i) ws.emplace_back(worker);
  for (auto& w : ws) w.join();
  *max_a = ma;
  *max_total = mt;
  *serial_alone = alone;
}

TEST(SchedulerTest, ClassLimitsAndSerialTests) {
  auto tests = Specs({"a:1", "a:2", "a:3", "a:4", "b:1", "b:2", "s:1", "b:3", "a:5"});
  RunConfig config;
  config.classes = {{"a:*", 1, false}, {"s:*", 0, true}};
  int max_a = 0, max_total = 0;
  bool alone = false;
  Simulate(tests, config, &max_a, &max_total, &alone);
  EXPECT_EQ(max_a, 1);
  EXPECT_GE(max_total, 2);  // b tests overlap with a tests
  EXPECT_TRUE(alone);
}

}  // namespace
}  // namespace vigil::runner

namespace vigil::runner {
namespace {

TEST(ConfigTest, ShardsAreListsOfArgumentsAndShardsMatchTheirTest) {
  auto c = ParseConfig(
      "[[test]]\nmatch = \"net/mptcp:mptcp_join.sh\"\nshards = [\"-f -e\", \"-s\"]\n"
      "[[class]]\nmatch = \"net/mptcp:mptcp_join.sh\"\nmax_parallel = 1\n",
      "vigil.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const TestRule* r = c->RuleFor("net/mptcp:mptcp_join.sh");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->shards.size(), 2u);
  EXPECT_EQ(r->shards[0], "-f -e");
  EXPECT_EQ(c->RuleFor("net/mptcp:mptcp_join.sh#2"), r);
  EXPECT_EQ(c->RuleFor("net/mptcp:mptcp_connect.sh#2"), nullptr);
  EXPECT_TRUE(GlobMatch("net/mptcp:mptcp_join.sh", "net/mptcp:mptcp_join.sh#1"));
  EXPECT_FALSE(GlobMatch("net/mptcp:mptcp_join.sh#1", "net/mptcp:mptcp_join.sh#2"));
  auto bad = ParseConfig("[[test]]\nmatch = \"a:b\"\nshards = [1, 2]\n", "vigil.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("vigil.toml:3"), std::string::npos);
}

}  // namespace
}  // namespace vigil::runner

namespace vigil::runner {
namespace {

// 4294967297 once became 1 s and 2147483648 no timeout at all.
TEST(ConfigTest, TimeoutOutOfRangeIsRefusedWithFileAndLine) {
  for (const char* v : {"4294967297", "2147483648", "604801", "-1"}) {
    auto c = ParseConfig(std::string("[[test]]\nmatch = \"x\"\ntimeout = ") + v + "\n", "vigil.toml");
    ASSERT_FALSE(c.ok()) << v;
    EXPECT_NE(c.status().message().find("vigil.toml:3"), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find("0 (none) to 604800 (7 days)"), std::string::npos) << c.status().message();
  }
  auto ok = ParseConfig("[[test]]\nmatch = \"x\"\ntimeout = 604800\n", "vigil.toml");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->tests[0].timeout_s, 604800);
}

}  // namespace
}  // namespace vigil::runner
