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

TEST(ArgsVariableTest, SanitisedAsTheKselftestRunnerDoes) {
  EXPECT_EQ(ArgsVariable("rtctest"), "KSELFTEST_RTCTEST_ARGS");
  EXPECT_EQ(ArgsVariable("cpu-on-off-test.sh"), "KSELFTEST_CPU_ON_OFF_TEST_SH_ARGS");
  EXPECT_EQ(ArgsVariable("a b"), "KSELFTEST_AB_ARGS");
}

}  // namespace
}  // namespace vigil::runner
