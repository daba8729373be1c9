#include "runner/test_plan.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace vigil::runner {
namespace {
namespace fs = std::filesystem;

class TestPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("vigil-plan-" + std::to_string(getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "net/mptcp");
    fs::create_directories(root_ / "size");
    Write("kselftest-list.txt", "net/mptcp:mptcp_join.sh\nnet/mptcp:diag.sh\nsize:get_size\n");
    Write("net/mptcp/settings", "# comment\ntimeout=1800\n");
    Write("net/mptcp/mptcp_join.sh", "#!/bin/sh\n", true);
    Write("net/mptcp/diag.sh", "#!/bin/sh\n", true);
    Write("size/get_size", "#!/bin/sh\n", true);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text, bool exec = false) {
    std::ofstream(root_ / rel) << text;
    if (exec) chmod((root_ / rel).c_str(), 0755);
  }
  fs::path root_;
};

TEST_F(TestPlanTest, ReadsListSettingsAndDefaults) {
  auto plan = LoadPlan(root_.string(), {});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->size(), 3u);
  EXPECT_EQ((*plan)[0].path(), "net/mptcp:mptcp_join.sh");
  EXPECT_EQ((*plan)[0].timeout, std::chrono::seconds(1800));
  EXPECT_EQ((*plan)[0].dir, (root_ / "net/mptcp").string());
  EXPECT_EQ((*plan)[0].args_variable, "KSELFTEST_MPTCP_JOIN_SH_ARGS");
  EXPECT_EQ((*plan)[2].timeout, kDefaultKselftestTimeout);
}

TEST_F(TestPlanTest, Filters) {
  PlanFilter f;
  f.collections = {"size"};
  f.tests = {"net/mptcp:diag.sh"};
  auto plan = LoadPlan(root_.string(), f);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].path(), "size:get_size");
  EXPECT_EQ((*plan)[1].path(), "net/mptcp:diag.sh");
  PlanFilter skip;
  skip.skip = {"net/*:*join*"};
  plan = LoadPlan(root_.string(), skip);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->size(), 2u);
}

TEST_F(TestPlanTest, UnknownTestOrCollectionIsAnError) {
  PlanFilter f;
  f.tests = {"net/mptcp:nope.sh"};
  EXPECT_FALSE(LoadPlan(root_.string(), f).ok());
  PlanFilter c;
  c.collections = {"nope"};
  EXPECT_FALSE(LoadPlan(root_.string(), c).ok());
  EXPECT_FALSE(LoadPlan((root_ / "missing").string(), {}).ok());
}

TEST_F(TestPlanTest, BadListLine) {
  Write("kselftest-list.txt", "net/mptcp:diag.sh\ngarbage\n");
  auto plan = LoadPlan(root_.string(), {});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find(":2:"), std::string::npos);
}

TEST_F(TestPlanTest, PlainDirectoryOfExecutables) {
  Write("net/mptcp/README", "not a test\n");
  auto plan = LoadPlan((root_ / "net/mptcp").string(), {});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].path(), "mptcp:diag.sh");
  EXPECT_EQ((*plan)[0].timeout, std::chrono::seconds(1800));
}

// A test listed twice once ran twice and ended in a UNIQUE error of the store.
TEST_F(TestPlanTest, DuplicatedListLineRunsOnceWithOneWarning) {
  Write("kselftest-list.txt",
        "net/mptcp:diag.sh\nsize:get_size\nnet/mptcp:diag.sh\nnet/mptcp:diag.sh\nsize:get_size\n");
  std::vector<std::string> warnings;
  auto plan = LoadPlan(root_.string(), {}, &warnings);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].path(), "net/mptcp:diag.sh");
  EXPECT_EQ((*plan)[1].path(), "size:get_size");
  ASSERT_EQ(warnings.size(), 2u);  // one per duplicated test, however often repeated
  EXPECT_NE(warnings[0].find("kselftest-list.txt:1: net/mptcp:diag.sh is listed again on lines 3, 4; it runs once"),
            std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[1].find("kselftest-list.txt:2: size:get_size is listed again on line 5"), std::string::npos)
      << warnings[1];
}

// A whitespace-only line once rejected the whole list.
TEST_F(TestPlanTest, BlankAndWhitespaceOnlyLinesAreSkipped) {
  Write("kselftest-list.txt", "\n   \n\t\nnet/mptcp:diag.sh \r\n \r\n  size:get_size\n\n");
  std::vector<std::string> warnings;
  auto plan = LoadPlan(root_.string(), {}, &warnings);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].path(), "net/mptcp:diag.sh");
  EXPECT_EQ((*plan)[1].path(), "size:get_size");
  EXPECT_TRUE(warnings.empty());
}

TEST_F(TestPlanTest, AbsurdSettingsTimeoutIsRefusedWithFileAndLine) {
  Write("net/mptcp/settings", "# comment\n\ntimeout=9999999999\n");
  auto plan = LoadPlan(root_.string(), {});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("net/mptcp/settings:3: timeout must be whole seconds from 0 (none) to 604800"),
            std::string::npos)
      << plan.status().message();
  // A collection that does not run does not stop the run.
  PlanFilter only_size;
  only_size.collections = {"size"};
  EXPECT_TRUE(LoadPlan(root_.string(), only_size).ok());
  Write("net/mptcp/settings", "timeout=12min\n");
  EXPECT_FALSE(LoadPlan(root_.string(), {}).ok());
}

TEST_F(TestPlanTest, UnknownAndMalformedSettingsAreReported) {
  Write("net/mptcp/settings", "timout=600\ntimeout = 90\njust words\n");
  std::vector<std::string> warnings;
  auto plan = LoadPlan(root_.string(), {}, &warnings);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ((*plan)[0].timeout, std::chrono::seconds(90));
  ASSERT_EQ(warnings.size(), 2u);  // reported once for the collection's two tests
  EXPECT_NE(warnings[0].find("settings:1: unknown setting 'timout', ignored (known: timeout)"), std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[1].find("settings:3: not KEY=VALUE, ignored: 'just words'"), std::string::npos) << warnings[1];
}

TEST(SettingsTest, ParsesTimeoutAndDefaults) {
  auto s = ParseSettings("timeout=0\n", "s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->timeout, std::chrono::seconds(0));
  s = ParseSettings("", "s");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->timeout, kDefaultKselftestTimeout);
  auto missing = ReadSettings("/nonexistent/settings");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->timeout, kDefaultKselftestTimeout);
  auto bad = ParseSettings("timeout=-1\n", "dir/settings");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("dir/settings:1:"), std::string::npos);
}

TEST_F(TestPlanTest, MissingTestIsKeptAndKnownMissing) {
  fs::remove(root_ / "net/mptcp/diag.sh");
  auto plan = LoadPlan(root_.string(), {});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 3u);
  EXPECT_TRUE(IsMissing((*plan)[1]));
  EXPECT_FALSE(IsMissing((*plan)[0]));
}

TEST(ArgsVariableTest, SanitisedAsTheKselftestRunnerDoes) {
  EXPECT_EQ(ArgsVariable("rtctest"), "KSELFTEST_RTCTEST_ARGS");
  EXPECT_EQ(ArgsVariable("cpu-on-off-test.sh"), "KSELFTEST_CPU_ON_OFF_TEST_SH_ARGS");
  EXPECT_EQ(ArgsVariable("a b"), "KSELFTEST_AB_ARGS");
}

}  // namespace
}  // namespace vigil::runner
