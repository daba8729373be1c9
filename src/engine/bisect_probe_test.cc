#include "engine/bisect_probe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace vigil::engine {
namespace {
namespace fs = std::filesystem;
using bisect::Outcome;

class CommandProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code ec;
    dir_ = fs::temp_directory_path(ec) / ("vigil-probe-" + std::to_string(getpid()));
    fs::create_directories(dir_, ec);
    ASSERT_FALSE(ec) << ec.message();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Result<ProbeRun> RunCommand(std::vector<std::string> argv) {
    ProbeOptions o;
    o.command = std::move(argv);
    return MakeProbe(o)->Run(dir_.string(), "c1");
  }
  fs::path dir_;
};

TEST_F(CommandProbeTest, AProgramThatDoesNotExistCannotStart) {
  auto p = RunCommand({"/nonexistent/test.sh"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->outcome, Outcome::kSkip);
  EXPECT_EQ(p->exit_code, 127);
  EXPECT_NE(p->cannot_start.find("'/nonexistent/test.sh' exited 127 (command not found)"), std::string::npos)
      << p->cannot_start;
}

TEST_F(CommandProbeTest, AShellCommandNotFoundCannotStart) {
  auto p = RunCommand({"/bin/sh", "-c", "no-such-command-here"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_NE(p->cannot_start.find("command not found"), std::string::npos) << p->cannot_start;
  EXPECT_NE(p->cannot_start.find("no-such-command-here"), std::string::npos) << "the shell's own words";
}

TEST_F(CommandProbeTest, Exit126IsNotExecutable) {
  auto p = RunCommand({"/bin/sh", "-c", "exit 126"});
  ASSERT_TRUE(p.ok());
  EXPECT_NE(p->cannot_start.find("exited 126 (not executable)"), std::string::npos) << p->cannot_start;
}

TEST_F(CommandProbeTest, GitBisectRunExitCodesAreVerdicts) {
  auto pass = RunCommand({"/bin/sh", "-c", "exit 0"});
  auto fail = RunCommand({"/bin/sh", "-c", "exit 1"});
  auto skip = RunCommand({"/bin/sh", "-c", "exit 125"});
  auto abort = RunCommand({"/bin/sh", "-c", "exit 130"});
  ASSERT_TRUE(pass.ok() && fail.ok() && skip.ok());
  EXPECT_EQ(pass->outcome, Outcome::kPass);
  EXPECT_EQ(fail->outcome, Outcome::kFail);
  EXPECT_EQ(skip->outcome, Outcome::kSkip);
  EXPECT_TRUE(pass->cannot_start.empty() && fail->cannot_start.empty() && skip->cannot_start.empty());
  EXPECT_FALSE(abort.ok());
}

TEST(ProbeCommandLineTest, QuotesTheCommandOrNamesTheVigilRun) {
  ProbeOptions o;
  o.command = {"./t.sh", "a b", "$(x)"};
  EXPECT_EQ(ProbeCommandLine(o), "./t.sh 'a b' '$(x)'");
  ProbeOptions v;
  v.vigil_test = "net/mptcp:mptcp_join.sh:add addr";
  EXPECT_EQ(ProbeCommandLine(v), "vigil run --tests . -t net/mptcp:mptcp_join.sh");
  v.tests_dir = "tools/testing/selftests";
  v.kernel = "arch/x86/boot/bzImage";
  EXPECT_EQ(
      ProbeCommandLine(v),
      "vigil run --tests tools/testing/selftests -t net/mptcp:mptcp_join.sh --kernel arch/x86/boot/bzImage");
}

}  // namespace
}  // namespace vigil::engine
