#include "sys/process.h"

#include <dirent.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <fstream>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <thread>

#include "sys/cancel.h"
#include "sys/cgroup.h"

namespace vigil::sys {
namespace {

ProcessOptions Sh(const std::string& script) {
  ProcessOptions o;
  o.argv = {"/bin/sh", "-c", script};
  o.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  return o;
}

// Processes whose command line contains `marker`.
int CountProcesses(const std::string& marker) {
  int n = 0;
  DIR* dir = opendir("/proc");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline");
    std::stringstream ss;
    ss << f.rdbuf();
    std::string cmd = ss.str();
    std::string stat_path = std::string("/proc/") + e->d_name + "/stat";
    std::ifstream st(stat_path);
    std::string pid, comm, state;
    st >> pid >> comm >> state;
    if (state != "Z" && cmd.find(marker) != std::string::npos) ++n;
  }
  closedir(dir);
  return n;
}

TEST(ProcessTest, ExitCodesAndMergedOutput) {
  auto r = RunProcess(Sh("echo out; echo err >&2; exit 4"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->status.exited());
  EXPECT_EQ(r->status.exit_code(), 4);
  EXPECT_EQ(r->output, "out\nerr\n");
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->status.ToString(), "exit 4");
}

// The program's OOM score adjustment is set before it starts (the VM's
// guest spares itself and gives its tests 0). Values above this process's
// own need no privilege (a session may start above 0), so any user can run
// this.
TEST(ProcessTest, TheProgramsOomScoreAdjustmentIsSet) {
  int own = 0;
  std::ifstream("/proc/self/oom_score_adj") >> own;
  if (own > 990) GTEST_SKIP() << "oom_score_adj is " << own << " already";
  ProcessOptions o = Sh("cat /proc/self/oom_score_adj");
  o.oom_score_adj = own + 9;
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, fmt::format("{}\n", own + 9));
  o.oom_score_adj = own + 1;
  EXPECT_EQ(RunProcess(o)->output, fmt::format("{}\n", own + 1));
}

TEST(ProcessTest, CwdAndEnvironment) {
  ProcessOptions o = Sh("pwd; echo \"$FOO\"");
  o.cwd = "/tmp";
  o.env.push_back("FOO=bar baz");
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, "/tmp\nbar baz\n");
}

TEST(ProcessTest, ExecFailureIsExit127WithReason) {
  ProcessOptions o;
  o.argv = {"/nonexistent/prog"};
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status.exit_code(), 127);
  EXPECT_NE(r->output.find("exec of \"/nonexistent/prog\" failed"), std::string::npos) << r->output;
}

TEST(ProcessTest, TimeoutSendsTermToTheGroup) {
  ProcessOptions o = Sh("sleep 30 & sleep 30; echo never");
  o.timeout = std::chrono::milliseconds(300);
  auto t0 = std::chrono::steady_clock::now();
  auto r = RunProcess(o);
  auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->killed_after_grace);
  EXPECT_FALSE(r->status.exited());
  EXPECT_EQ(r->status.signal(), SIGTERM);
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(r->output.find("never"), std::string::npos);
}

TEST(ProcessTest, IgnoringTermGetsKillAfterGrace) {
  ProcessOptions o = Sh("trap '' TERM; echo ready; while :; do sleep 1; done");
  o.timeout = std::chrono::milliseconds(200);
  o.kill_grace = std::chrono::milliseconds(300);
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_TRUE(r->killed_after_grace);
  EXPECT_EQ(r->status.signal(), SIGKILL);
  EXPECT_EQ(r->output, "ready\n");
}

TEST(ProcessTest, BackgroundChildrenDoNotSurvive) {
  std::string marker = "31.4159" + std::to_string(getpid());
  auto r = RunProcess(Sh("sleep " + marker + " & echo started"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status.exit_code(), 0);
  EXPECT_EQ(r->leftovers_killed, 1);
  // The killed sleep may take a moment to be reaped by init.
  for (int i = 0; i < 100 && CountProcesses(marker) > 0; ++i) usleep(10000);
  EXPECT_EQ(CountProcesses(marker), 0);
}

TEST(ProcessTest, CgroupsAreUsableOrSayWhyNot) {
  std::string why;
  auto probe = TestCgroup::Create("vigil-probe-" + std::to_string(getpid()), &why);
  if (!probe) {
    // The probe a run makes at its start says why too.
    EXPECT_NE(TestCgroup::Unusable(), "");
    return;
  }
  probe.reset();
  EXPECT_EQ(TestCgroup::Unusable(), "");
  // A cgroup that cannot be made is named with the reason.
  EXPECT_EQ(TestCgroup::Create("no/such/parent", &why), nullptr);
  EXPECT_NE(why.find("cannot create "), std::string::npos) << why;
  EXPECT_NE(why.find("no/such/parent: No such file or directory"), std::string::npos) << why;
}

TEST(ProcessTest, DaemonThatLeftItsSessionIsKilledThroughTheCgroup) {
  std::string why;
  auto probe = TestCgroup::Create("vigil-probe-" + std::to_string(getpid()), &why);
  if (!probe) GTEST_SKIP() << "cgroup v2 not usable here: " << why;
  probe.reset();
  std::string marker = "27.1828" + std::to_string(getpid());
  ProcessOptions o = Sh("setsid sleep " + marker + " > /dev/null 2>&1 < /dev/null & echo started");
  o.cgroup_name = "vigil-test-" + std::to_string(getpid());
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->used_cgroup);
  EXPECT_GE(r->leftovers_killed, 1);
  for (int i = 0; i < 100 && CountProcesses(marker) > 0; ++i) usleep(10000);
  EXPECT_EQ(CountProcesses(marker), 0);
}

TEST(ProcessTest, OutputIsCappedHeadAndTailKept) {
  ProcessOptions o = Sh("echo FIRST; head -c 50000000 /dev/zero | tr '\\0' x; echo; echo LAST");
  o.max_output_bytes = 1 << 20;
  struct Count : OutputSink {
    uint64_t bytes = 0;
    void OnOutput(std::string_view b) override { bytes += b.size(); }
  } sink;
  auto r = RunProcess(o, &sink);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output_bytes, 50000000u + 6 + 1 + 5);
  EXPECT_EQ(sink.bytes, r->output_bytes);
  EXPECT_GT(r->output_dropped, 48000000u);
  EXPECT_LT(r->output.size(), (1u << 20) + 100);
  EXPECT_EQ(r->output.rfind("FIRST\n", 0), 0u);
  EXPECT_EQ(r->output.substr(r->output.size() - 5), "LAST\n");
  EXPECT_NE(r->output.find("bytes of output not kept"), std::string::npos);
}

TEST(ProcessTest, NewNetworkNamespaceHasOnlyLoopbackUp) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  ProcessOptions o = Sh("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate");
  o.new_netns = true;
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status.exit_code(), 0) << r->output;
  EXPECT_EQ(r->output.substr(0, 3), "lo\n") << r->output;  // no other interface
  EXPECT_EQ(r->output.find("eth"), std::string::npos);
}

// A test's output to a sink that calls `on_line` when `text` appears.
struct WhenSeen : OutputSink {
  std::string text, seen;
  std::function<void()> on_seen;
  bool fired = false;
  void OnOutput(std::string_view b) override {
    seen.append(b);
    if (!fired && seen.find(text) != std::string::npos) {
      fired = true;
      on_seen();
    }
  }
};

TEST(ProcessTest, CancellingTerminatesTheGroupAsATimeoutWould) {
  std::string marker = "16.1803" + std::to_string(getpid());
  Cancellation cancel;
  // A test that cleans up on SIGTERM (as mptcp_join.sh's trap does) and has a
  // background child in its group.
  ProcessOptions o = Sh("trap 'echo cleaned up; exit 1' TERM; sleep " + marker + " & echo ready; wait");
  o.cancel = &cancel;
  WhenSeen sink;
  sink.text = "ready";
  sink.on_seen = [&] { cancel.Request(SIGTERM); };
  auto r = RunProcess(o, &sink);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_FALSE(r->killed_after_grace);
  EXPECT_NE(r->output.find("cleaned up"), std::string::npos) << r->output;
  for (int i = 0; i < 100 && CountProcesses(marker) > 0; ++i) usleep(10000);
  EXPECT_EQ(CountProcesses(marker), 0);
}

TEST(ProcessTest, ASecondCancelRequestKillsAtOnceWithoutTheGrace) {
  std::string marker = "14.1421" + std::to_string(getpid());
  Cancellation cancel;
  ProcessOptions o = Sh("trap '' TERM; sleep " + marker + " & echo ready; while :; do wait; done");
  o.kill_grace = std::chrono::hours(1);  // only the second request can end it
  o.cancel = &cancel;
  WhenSeen sink;
  sink.text = "ready";
  std::thread second;
  sink.on_seen = [&] {
    cancel.Request(SIGINT);
    second = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      cancel.Request(SIGINT);
    });
  };
  auto r = RunProcess(o, &sink);
  if (second.joinable()) second.join();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->status.signal(), SIGKILL);
  EXPECT_FALSE(r->killed_after_grace);
  EXPECT_EQ(cancel.ExitCode(), 130);
  for (int i = 0; i < 100 && CountProcesses(marker) > 0; ++i) usleep(10000);
  EXPECT_EQ(CountProcesses(marker), 0);
}

TEST(ProcessTest, ACancellationRaisedBeforeTheStartEndsTheProgramAtOnce) {
  Cancellation cancel;
  cancel.Request();
  ProcessOptions o = Sh("sleep 1000");
  o.cancel = &cancel;
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  EXPECT_EQ(r->status.signal(), SIGTERM);
}

TEST(ProcessTest, NamespacesATestNamesInItsNetnsDieWithIt) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0) GTEST_SKIP() << "no ip";
  std::string name = "vigil-ns-test-" + std::to_string(getpid());
  // Killed before its own cleanup could run.
  ProcessOptions o = Sh("ip netns add " + name + " && ip netns list && kill -KILL $$");
  o.new_netns = true;
  auto r = RunProcess(o);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->output.find(name), std::string::npos) << r->output;
  std::ifstream probe("/run/netns/" + name);
  EXPECT_FALSE(probe.good()) << "/run/netns/" << name << " was left behind";
  if (probe.good()) (void)!system(("ip netns del " + name).c_str());
}

TEST(ProcessTest, OwnersAreAliveOnlyAsThisVeryProcessOnThisHost) {
  std::string self = SelfOwner();
  EXPECT_EQ(CheckOwner(self), OwnerState::kAlive);
  EXPECT_EQ(OwnerPid(self), getpid());
  EXPECT_EQ(OwnerHost(self), HostName());
  // The same pid with another start time: the pid was used again.
  EXPECT_EQ(CheckOwner(fmt::format("{} {} 1", HostName(), getpid())), OwnerState::kGone);
  EXPECT_EQ(CheckOwner("elsewhere.invalid 1 1"), OwnerState::kElsewhere);
  for (const char* bad : {"", "x", "h 12", "h -1 5", "h 1 5x"}) EXPECT_EQ(CheckOwner(bad), OwnerState::kGone) << bad;
  EXPECT_EQ(CheckOwner(HostName() + " 99999999999 1"), OwnerState::kGone);
  // A process that ended.
  auto r = RunProcess(Sh("exit 0"));
  ASSERT_TRUE(r.ok());
  pid_t child = fork();
  if (child == 0) _exit(0);
  std::string of_child = fmt::format("{} {} {}", HostName(), child, 1);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(CheckOwner(of_child), OwnerState::kGone);
}

TEST(ProcessTest, NoProgram) {
  auto r = RunProcess(ProcessOptions{});
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace vigil::sys
