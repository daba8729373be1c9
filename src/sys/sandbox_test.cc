#include "sys/sandbox.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include <sys/stat.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sys/process.h"

namespace vigil::sys {
namespace {

namespace fs = std::filesystem;

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (it changes to the sandbox user)";
    // Not under /tmp: the sandbox has a /tmp of its own.
    dir_ = fs::path("/var/tmp") / fmt::format("vigil-sandbox-test-{}", getpid());
    fs::create_directories(dir_ / "work");
    std::ofstream(dir_ / "secret") << "token-1234\n";
    fs::permissions(dir_ / "secret", fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
    spec_.writable = {(dir_ / "work").string()};
    spec_.masked = {(dir_ / "secret").string()};
    Status s = CheckSandbox(spec_);
    if (!s.ok()) GTEST_SKIP() << s.ToString();
    ASSERT_TRUE(GiveToSandbox((dir_ / "work").string(), spec_).ok());
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Runs `script` under the sandbox; returns what it printed.
  std::string Run(const std::string& script) {
    std::vector<std::string> argv = SandboxPrefix(spec_);
    argv.insert(argv.end(), {"/bin/sh", "-c", script + " 2>&1; exit 0"});
    auto out = CommandOutput(argv);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : "";
  }
  fs::path dir_;
  SandboxSpec spec_;
};

TEST_F(SandboxTest, WritesOnlyItsDirectories) {
  std::string w = (dir_ / "work").string();
  std::string out = Run("touch " + w + "/made && echo made; touch " + dir_.string() + "/outside && echo outside");
  EXPECT_NE(out.find("made"), std::string::npos) << out;
  EXPECT_EQ(out.find("outside\n"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir_ / "work" / "made"));
  EXPECT_FALSE(fs::exists(dir_ / "outside"));
}

TEST_F(SandboxTest, MaskedFileReadsEmptyAndNoNetwork) {
  std::string out = Run("cat " + (dir_ / "secret").string() + "; echo end; ip route get 192.0.2.1 || echo unreachable");
  EXPECT_EQ(out.find("token-1234"), std::string::npos) << out;
  EXPECT_NE(out.find("unreachable"), std::string::npos) << out;
}

TEST_F(SandboxTest, RunsAsTheUnprivilegedUserOutside) {
  // Inside it is root of its own user namespace, mapped to nobody outside:
  // what it creates belongs to nobody, and it cannot read root's files.
  std::string w = (dir_ / "work").string();
  std::string out = Run("id -u; cat /etc/shadow >/dev/null && echo read-shadow; touch " + w + "/mine");
  EXPECT_EQ(out.find("read-shadow"), std::string::npos) << out;
  struct stat st {};
  ASSERT_EQ(stat((dir_ / "work" / "mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, spec_.uid);
}

TEST_F(SandboxTest, CanMakeNetworkNamespacesOfItsOwn) {
  // Selftests make namespaces: allowed inside, invisible outside.
  std::string out = Run("ip netns add vigil-sbx-test && ip -n vigil-sbx-test link set lo up && echo netns-ok");
  EXPECT_NE(out.find("netns-ok"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists("/run/netns/vigil-sbx-test"));
}

}  // namespace
}  // namespace vigil::sys

namespace vigil::sys {
namespace {

TEST(FsIdentity, ASymlinkPlantedByTheSandboxUserLeadsNowhereItCouldNotGo) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  fs::path dir = fs::path("/var/tmp") / fmt::format("vigil-fsid-test-{}", getpid());
  fs::create_directories(dir / "out");
  ASSERT_EQ(chown((dir / "out").c_str(), 65534, 65534), 0);
  std::ofstream(dir / "root-only") << "secret\n";
  fs::permissions(dir / "root-only", fs::perms::owner_read | fs::perms::owner_write);
  fs::create_symlink(dir / "root-only", dir / "out" / "build.log");  // what the sandbox could plant
  // A thread that was there before keeps vigil's identity.
  std::promise<void> go;
  std::future<bool> other_reads = std::async(std::launch::async, [&, ready = go.get_future()] {
    ready.wait();
    return std::ifstream(dir / "root-only").is_open();
  });
  {
    FsIdentity as;
    ASSERT_TRUE(as.Enter(65534, 65534).ok());
    EXPECT_TRUE(as.active());
    // Neither written nor read through the link; a file of its own is the user's.
    std::ofstream w(dir / "out" / "build.log", std::ios::trunc);
    EXPECT_FALSE(w.is_open());
    std::ifstream r(dir / "out" / "build.log");
    EXPECT_FALSE(r.is_open());
    std::ofstream(dir / "out" / "mine") << "x";
    struct stat st {};
    ASSERT_EQ(stat((dir / "out" / "mine").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534u);
    EXPECT_EQ(st.st_gid, 65534u);
    go.set_value();
    EXPECT_TRUE(other_reads.get());
  }
  // Back to root: the file is intact and readable again.
  std::string text;
  std::getline(std::ifstream(dir / "root-only"), text);
  EXPECT_EQ(text, "secret");
  EXPECT_EQ(getgroups(0, nullptr) >= 0, true);
  fs::remove_all(dir);
}

TEST(SandboxPrefix, MasksOnlyWhatTheSandboxUserCouldReach) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  fs::path base = fs::path("/var/tmp") / fmt::format("vigil-sandbox-mask-{}", getpid());
  fs::create_directories(base / "private");
  fs::create_directories(base / "open");
  fs::permissions(base, fs::perms::owner_all | fs::perms::others_exec | fs::perms::group_exec);
  fs::permissions(base / "private", fs::perms::owner_all);
  std::ofstream(base / "private" / "token") << "t\n";
  std::ofstream(base / "open" / "token") << "t\n";
  SandboxSpec spec;
  spec.masked = {(base / "private" / "token").string(), (base / "open" / "token").string(), "/tmp/x/token"};
  std::vector<std::string> argv = SandboxPrefix(spec);
  std::string joined;
  for (const auto& a : argv) joined += a + " ";
  EXPECT_EQ(joined.find((base / "private" / "token").string()), std::string::npos) << joined;
  EXPECT_NE(joined.find("/dev/null " + (base / "open" / "token").string()), std::string::npos) << joined;
  EXPECT_EQ(joined.find("/tmp/x/token"), std::string::npos) << joined;
  // And the sandbox starts: bwrap need not get to the private one.
  if (CheckSandbox(spec).ok()) {
    argv.insert(argv.end(), {"/bin/true"});
    EXPECT_TRUE(CommandOutput(argv).ok());
  }
  std::error_code ec;
  fs::remove_all(base, ec);
}

}  // namespace
}  // namespace vigil::sys
