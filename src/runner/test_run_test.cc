#include "runner/test_run.h"

#include <gtest/gtest.h>
#include "runner/environment.h"
#include "runner/timeout.h"
#include "sys/cancel.h"
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vigil::runner {
namespace {
namespace fs = std::filesystem;

class TestRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigil-run-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    options_.base_env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    options_.kill_grace = std::chrono::milliseconds(500);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TestSpec Script(const std::string& name, const std::string& body) {
    fs::path p = dir_ / name;
    std::ofstream(p) << "#!/bin/sh\n" << body;
    chmod(p.c_str(), 0755);
    TestSpec t;
    t.collection = "fixture";
    t.name = name;
    t.dir = dir_.string();
    t.program = p.string();
    t.timeout = std::chrono::seconds(10);
    t.args_variable = ArgsVariable(name);
    return t;
  }

  fs::path dir_;
  RunOptions options_;
};

TEST_F(TestRunTest, ExitCodesMapAsKselftest) {
  struct Case {
    const char* body;
    ktap::Status status;
  } cases[] = {
      {"exit 0\n", ktap::Status::kPass}, {"exit 1\n", ktap::Status::kFail},
      {"exit 4\n", ktap::Status::kSkip}, {"kill -SEGV $$\n", ktap::Status::kFail},
      // As runner.sh: 2 and 3 (kselftest.h's XFAIL and XPASS, and a shell's
      // syntax error) are failures like any other.
      {"exit 2\n", ktap::Status::kFail}, {"exit 3\n", ktap::Status::kFail},
      {"if then fi\n", ktap::Status::kFail},
  };
  int i = 0;
  for (const auto& c : cases) {
    ++i;
    TestOutcome o = RunTest(Script("t" + std::to_string(i) + ".sh", c.body), i, options_);
    EXPECT_EQ(o.node.status, c.status) << c.body << " -> " << o.runner_line;
  }
}

TEST_F(TestRunTest, RunnerLineAndCwd) {
  TestOutcome o = RunTest(Script("where.sh", "pwd\nexit 1\n"), 7, options_);
  EXPECT_EQ(o.runner_line, "not ok 7 selftests: fixture: where.sh # exit=1");
  EXPECT_EQ(o.node.name, "selftests: fixture: where.sh");
  EXPECT_EQ(o.node.exit_code, 1);
  EXPECT_EQ(o.process.output, dir_.string() + "\n");
}

TEST_F(TestRunTest, AShardsNameKeepsItsHashAndItsStatus) {
  // A part of a long test (vigil.toml shards) is named "TEST#N".
  TestSpec skip = Script("long.sh", "exit 4\n");
  skip.name = "long.sh#2";
  TestOutcome o = RunTest(skip, 3, options_);
  EXPECT_EQ(o.runner_line, "ok 3 selftests: fixture: long.sh\\#2 # SKIP");
  EXPECT_EQ(o.node.status, ktap::Status::kSkip);
  EXPECT_EQ(o.node.name, "selftests: fixture: long.sh#2");
  TestSpec slow = Script("slow.sh", "sleep 30\n");
  slow.name = "slow.sh#1";
  slow.timeout = std::chrono::seconds(1);
  EXPECT_EQ(RunTest(slow, 1, options_).node.status, ktap::Status::kTimeout);
  TestSpec gone = Script("gone.sh", "exit 0\n");
  gone.name = "gone.sh#3";
  gone.program = (dir_ / "not-there.sh").string();
  EXPECT_EQ(RunTest(gone, 1, options_).node.status, ktap::Status::kError);
}

TEST_F(TestRunTest, ATestThatCouldNotBeRunIsAnErrorNotAFailure) {
  struct Refusing : sys::ProcessRunner {
    Result<sys::ProcessResult> Run(const sys::ProcessOptions&, sys::OutputSink*) override {
      return Status::IOError("the VM could not be booted (3 tries): no kernel");
    }
  } refusing;
  options_.process_runner = &refusing;
  TestOutcome o = RunTest(Script("t.sh", "exit 0\n"), 2, options_);
  EXPECT_EQ(o.node.status, ktap::Status::kError);
  EXPECT_EQ(o.runner_line, "not ok 2 selftests: fixture: t.sh # ERROR could not run");
  EXPECT_NE(o.process.output.find("vigil: could not run the test: IO error: the VM could not be booted"), std::string::npos)
      << o.process.output;
  // The same while vigil is stopping (a boot given up at the signal): the
  // test is interrupted, for --resume, not an ERROR of its own.
  sys::Cancellation cancel;
  cancel.Request(15);
  options_.cancel = &cancel;
  TestOutcome stopped = RunTest(Script("t.sh", "exit 0\n"), 3, options_);
  EXPECT_TRUE(stopped.process.cancelled);
  EXPECT_EQ(stopped.runner_line, "not ok 3 selftests: fixture: t.sh # ERROR interrupted (vigil was stopped)");
}

TEST_F(TestRunTest, TimeoutFromSettingsTimesSlowdown) {
  TestSpec t = Script("slow.sh", "echo started\nsleep 30\n");
  t.timeout = std::chrono::seconds(1);
  options_.slowdown = 0.5;
  TestOutcome o = RunTest(t, 1, options_);
  EXPECT_EQ(o.node.status, ktap::Status::kTimeout);
  EXPECT_LT(o.process.duration_ms, 5000);
  EXPECT_EQ(o.runner_line, "not ok 1 selftests: fixture: slow.sh # TIMEOUT 1 seconds");
}

TEST_F(TestRunTest, NestedKtapWithAFailingSubtestFailsTheTest) {
  struct Record : TestProgress {
    std::vector<std::string> seen;
    void OnSubtest(const TestSpec&, int depth, const ktap::TestNode& t) override {
      seen.push_back(std::to_string(depth) + ":" + t.name + "=" + std::string(ktap::StatusName(t.status)));
    }
  } progress;
  TestOutcome o = RunTest(Script("ktap.sh",
                                 "echo 'TAP version 13'\necho '1..2'\necho 'ok 1 first'\n"
                                 "echo 'not ok 2 second'\nexit 0\n"),
                          1, options_, &progress);
  EXPECT_EQ(o.node.status, ktap::Status::kFail);
  ASSERT_EQ(o.node.subtests.size(), 2u);
  EXPECT_EQ(o.node.subtests[1].status, ktap::Status::kFail);
  EXPECT_EQ(progress.seen, (std::vector<std::string>{"1:first=PASS", "1:second=FAIL"}));
}

TEST_F(TestRunTest, OutputLinesReachTheProgressWholeAsTheyCome) {
  struct Record : TestProgress {
    std::vector<std::string> lines;
    void OnSubtest(const TestSpec&, int, const ktap::TestNode&) override {}
    void OnOutputLine(const TestSpec& spec, std::string_view line) override {
      lines.push_back(spec.name + "|" + std::string(line));
    }
  } progress;
  // A line written in two pieces arrives whole; the last one without '\n' too.
  TestOutcome o = RunTest(Script("lines.sh", "printf 'par'\nsleep 0.2\nprintf 'tial\\nsecond\\nno newline'\n"), 1,
                          options_, &progress);
  EXPECT_EQ(o.node.status, ktap::Status::kPass);
  EXPECT_EQ(progress.lines, (std::vector<std::string>{"lines.sh|partial", "lines.sh|second", "lines.sh|no newline"}));
}

TEST_F(TestRunTest, ArgsVariableAndEnvironmentIssues) {
  options_.base_env.push_back("KSELFTEST_ARGS_SH_ARGS=-a  two");
  TestOutcome o = RunTest(Script("args.sh", "echo \"$#:$1:$2\"\nnonexistent_tool_vigil\nexit 1\n"), 1, options_);
  EXPECT_EQ(o.process.output.substr(0, 9), "2:-a:two\n");
  ASSERT_EQ(o.environment_issues.size(), 1u);
  EXPECT_NE(o.environment_issues[0].find("nonexistent_tool_vigil"), std::string::npos);
}

TEST_F(TestRunTest, ScriptWithoutExecBitRunsWithItsInterpreter) {
  TestSpec t = Script("noexec.sh", "echo \"ran as $0\"\n");
  chmod(t.program.c_str(), 0644);
  TestOutcome o = RunTest(t, 1, options_);
  EXPECT_EQ(o.node.status, ktap::Status::kPass) << o.process.output;
  EXPECT_EQ(o.process.output, "# Warning: file noexec.sh is not executable\nran as ./noexec.sh\n");
  fs::path data = dir_ / "data.txt";
  std::ofstream(data) << "just data\n";
  TestSpec d = t;
  d.name = "data.txt";
  d.program = data.string();
  EXPECT_EQ(RunTest(d, 2, options_).node.status, ktap::Status::kFail);
}

TEST(EnvironmentIssuesTest, KnownShapes) {
  auto found = FindEnvironmentIssues(
      "bash: ping: command not found\nfine\nvigil: exec of \"tc\" failed: No such file\n"
      "./mptcp_join.sh: 12: iptables: not found\nnot found in the middle\n"
      "Error: Specified qdisc kind is unknown.\n");
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[3], "Error: Specified qdisc kind is unknown.");
  EXPECT_EQ(found[1], "vigil: exec of \"tc\" failed: No such file");
  found = FindEnvironmentIssues("SKIP: CONFIG_NET_SCH_NETEM is not set\nCONFIG_MPTCP=y in use\n"
                                "Missing kernel config CONFIG_VETH\n");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1], "Missing kernel config CONFIG_VETH");
}

TEST(KernelConfigHashTest, ConfigBesideTheImage) {
  std::string dir = ::testing::TempDir() + "vigil-boot-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  EXPECT_EQ(KernelConfigHash("9.9.9-none", dir), "");
  std::ofstream(dir + "/config-9.9.9-a") << "CONFIG_MPTCP=y\n";
  std::ofstream(dir + "/config-9.9.9-b") << "CONFIG_MPTCP=y\n";
  std::ofstream(dir + "/config-9.9.9-c") << "# CONFIG_MPTCP is not set\n";
  std::string a = KernelConfigHash("9.9.9-a", dir);
  EXPECT_EQ(a.rfind("file:", 0), 0u) << a;
  EXPECT_EQ(a, KernelConfigHash("9.9.9-b", dir));
  EXPECT_NE(a, KernelConfigHash("9.9.9-c", dir));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::runner

namespace vigil::runner {
namespace {

// The longest timeout stretched by the largest slowdown once overflowed the
// supervisor's clock arithmetic and made an instant test TIMEOUT.
TEST(TestRunTimeoutTest, TheLongestTimeoutStretchedFarIsNoInstantTimeout) {
  fs::path dir = fs::temp_directory_path() / ("vigil-run-long-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path p = dir / "quick.sh";
  std::ofstream(p) << "#!/bin/sh\necho ok\n";
  chmod(p.c_str(), 0755);
  TestSpec t;
  t.collection = "fixture";
  t.name = "quick.sh";
  t.dir = dir.string();
  t.program = p.string();
  t.timeout = kMaxTimeout;
  t.args_variable = ArgsVariable(t.name);
  RunOptions o;
  o.base_env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  o.use_cgroups = false;
  for (double slowdown : {1.0, 3.0, 1000.0}) {
    o.slowdown = slowdown;
    TestOutcome out = RunTest(t, 1, o);
    EXPECT_FALSE(out.process.timed_out) << slowdown;
    EXPECT_EQ(out.node.status, ktap::Status::kPass) << slowdown << ": " << out.runner_line;
  }
  // Even a timeout that no parser lets through (settings' 9999999999 s) is clamped, not wrapped.
  t.timeout = std::chrono::seconds(9999999999);
  o.slowdown = 3.0;
  TestOutcome out = RunTest(t, 1, o);
  EXPECT_FALSE(out.process.timed_out);
  EXPECT_EQ(out.node.status, ktap::Status::kPass) << out.runner_line;
  fs::remove_all(dir);
}

TEST(TestRunMissingTest, AListedTestMissingFromTheTreeIsNotFound) {
  TestSpec t;
  t.collection = "fixture";
  t.name = "gone.sh";
  t.dir = "/nonexistent-vigil-dir";
  t.program = "/nonexistent-vigil-dir/gone.sh";
  TestOutcome out = RunTest(t, 3, RunOptions{});
  EXPECT_EQ(out.node.status, ktap::Status::kError);
  EXPECT_EQ(out.runner_line, "not ok 3 selftests: fixture: gone.sh # ERROR not found");
  EXPECT_NE(out.process.output.find("/nonexistent-vigil-dir/gone.sh: not found"), std::string::npos);
}

}  // namespace
}  // namespace vigil::runner
