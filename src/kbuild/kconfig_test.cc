#include "kbuild/kconfig.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sys/process.h"

namespace vigil::kbuild {
namespace {
namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// name -> value of the last setting of each option.
std::map<std::string, std::string> Values(const ConfigFile& f) {
  std::map<std::string, std::string> out;
  for (const auto& s : f.settings) out[s.name] = s.value;
  return out;
}

TEST(KconfigParse, ReadsEveryValueKindWithItsLine) {
  ConfigFile f = ParseConfig(
      "#\n"
      "# Automatically generated file; DO NOT EDIT.\n"
      "\n"
      "CONFIG_A=y\n"
      "CONFIG_B=m\n"
      "# CONFIG_C is not set\n"
      "CONFIG_D=\"a \\\"quoted\\\" \\\\ string\"\n"
      "CONFIG_E=123\n"
      "CONFIG_F=0x1f\n"
      "CONFIG_G=-5\n"
      "CONFIG_H=n\r\n"
      "CONFIG_I=y   \n"
      "CONFIG_J=\"\"",
      "frag.config");
  EXPECT_TRUE(f.ok()) << f.errors[0].ToString();
  ASSERT_EQ(f.settings.size(), 10u);
  auto v = Values(f);
  EXPECT_EQ(v["CONFIG_A"], "y");
  EXPECT_EQ(v["CONFIG_B"], "m");
  EXPECT_EQ(v["CONFIG_C"], "n");
  EXPECT_EQ(v["CONFIG_D"], "\"a \\\"quoted\\\" \\\\ string\"");
  EXPECT_EQ(v["CONFIG_E"], "123");
  EXPECT_EQ(v["CONFIG_F"], "0x1f");
  EXPECT_EQ(v["CONFIG_G"], "-5");
  EXPECT_EQ(v["CONFIG_H"], "n");
  EXPECT_EQ(v["CONFIG_I"], "y");
  EXPECT_EQ(v["CONFIG_J"], "\"\"");
  EXPECT_EQ(f.settings[0].source.ToString(), "frag.config:4");
  EXPECT_EQ(f.settings[2].source.ToString(), "frag.config:6");
  EXPECT_EQ(f.settings[9].source.line, 13);
}

TEST(KconfigParse, OtherCommentsAreNotSettings) {
  // Only "# CONFIG_X is not set", spaced as kconfig reads it, sets n.
  ConfigFile f = ParseConfig(
      "# CONFIG_X is set\n# CONFIG_ is not set\n# Help: CONFIG_Y is not set here\n#CONFIG_Z is not set\n"
      "#  CONFIG_W is not set\n# CONFIG_V is not set  \n",
      "f");
  EXPECT_TRUE(f.ok());
  ASSERT_EQ(f.settings.size(), 1u);
  EXPECT_EQ(f.settings[0].name, "CONFIG_V");
}

TEST(KconfigParse, MalformedLinesAreReportedWithFileLineAndSkipped) {
  ConfigFile f = ParseConfig(
      "CONFIG_NOVALUE\n"           // 1
      "FOO=y\n"                    // 2
      "CONFIG_T=maybe\n"           // 3
      "CONFIG_S=\"unterminated\n"  // 4
      "CONFIG_E=\n"                // 5
      "CONFIG_A B=y\n"             // 6
      "CONFIG_Q=\"a\"b\"\n"        // 7
      "CONFIG_OK=y\n"              // 8
      "CONFIG_=y\n"                // 9
      "  CONFIG_IND=y\n",          // 10: kconfig would not read it
      "user.config");
  ASSERT_EQ(f.errors.size(), 9u);
  EXPECT_EQ(f.errors[8].ToString(), "user.config:10: indented: kconfig ignores this line");
  EXPECT_EQ(f.errors[0].where.ToString(), "user.config:1");
  EXPECT_NE(f.errors[0].message.find("not an assignment"), std::string::npos);
  EXPECT_EQ(f.errors[1].where.line, 2);
  EXPECT_NE(f.errors[1].message.find("'FOO'"), std::string::npos);
  EXPECT_EQ(f.errors[2].ToString(),
            "user.config:3: CONFIG_T has value 'maybe', neither y, m, n, a quoted string nor a number");
  EXPECT_EQ(f.errors[3].where.line, 4);
  EXPECT_EQ(f.errors[4].ToString(), "user.config:5: CONFIG_E has no value");
  EXPECT_EQ(f.errors[5].where.line, 6);
  EXPECT_EQ(f.errors[6].where.line, 7);
  EXPECT_EQ(f.errors[7].where.line, 9);
  ASSERT_EQ(f.settings.size(), 1u);
  EXPECT_EQ(f.settings[0].name, "CONFIG_OK");
}

TEST(KconfigParse, HostileInputIsBounded) {
  std::string text(kMaxConfigLine + 1, 'A');
  text += "\nCONFIG_AFTER=y\n";
  for (int i = 0; i < 2000; ++i) text += "garbage \x1b[2J line\n";
  ConfigFile f = ParseConfig(text, "big");
  ASSERT_EQ(f.errors.size(), kMaxConfigErrors);
  EXPECT_EQ(f.dropped_errors, 2001u - kMaxConfigErrors);
  EXPECT_NE(f.errors[0].message.find("longer than"), std::string::npos);
  EXPECT_EQ(f.errors[1].message.find('\x1b'), std::string::npos);  // quoted text cannot reach a terminal raw
  ASSERT_EQ(f.settings.size(), 1u);
  EXPECT_EQ(f.settings[0].source.line, 2);
}

TEST(KconfigParse, ReadConfigFileRefusesMissingAndOversizedFiles) {
  fs::path dir = fs::temp_directory_path() / ("vigil-kconfig-read-" + std::to_string(getpid()));
  fs::create_directories(dir);
  EXPECT_EQ(ReadConfigFile((dir / "missing").string()).status().code(), Status::Code::kNotFound);
  {
    std::ofstream big(dir / "big");
    std::string line = "# " + std::string(1022, 'x') + "\n";
    for (size_t n = 0; n <= kMaxConfigBytes; n += line.size()) big << line;
  }
  auto big = ReadConfigFile((dir / "big").string());
  EXPECT_EQ(big.status().code(), Status::Code::kInvalidArgument);
  std::ofstream(dir / "small") << "CONFIG_X=y\n";
  auto small = ReadConfigFile((dir / "small").string());
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->settings[0].source.ToString(), (dir / "small").string() + ":1");
  fs::remove_all(dir);
}

TEST(KconfigParse, SetArgumentsParseLikeFileLines) {
  auto s = ParseSetArgument("CONFIG_KASAN=y");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->name, "CONFIG_KASAN");
  EXPECT_EQ(s->value, "y");
  EXPECT_EQ(s->source.ToString(), "--set");
  auto str = ParseSetArgument("CONFIG_CMDLINE=\"quiet loglevel=3\"");
  ASSERT_TRUE(str.ok());
  EXPECT_EQ(str->value, "\"quiet loglevel=3\"");
  for (const char* bad :
       {"", "CONFIG_X", "KASAN=y", "CONFIG_X=yes", "# CONFIG_X is not set", "CONFIG_X=y\nCONFIG_Y=y"})
    EXPECT_EQ(ParseSetArgument(bad).status().code(), Status::Code::kInvalidArgument) << bad;
}

TEST(KconfigValue, NumbersByValueStringsByText) {
  EXPECT_TRUE(SameConfigValue("0x1f", "0x1F"));
  EXPECT_TRUE(SameConfigValue("0x001f", "0x1f"));
  EXPECT_TRUE(SameConfigValue("-0", "0"));
  EXPECT_FALSE(SameConfigValue("-1", "1"));
  EXPECT_FALSE(SameConfigValue("18", "17"));
  EXPECT_TRUE(SameConfigValue("\"utf8\"", "\"utf8\""));
  EXPECT_TRUE(SameConfigValue("\"\\a\"", "\"a\""));  // the same text, escaped differently
  EXPECT_FALSE(SameConfigValue("\"utf8\"", "\"UTF8\""));
  EXPECT_FALSE(SameConfigValue("y", "m"));
  EXPECT_FALSE(SameConfigValue("\"1\"", "1"));
}

ConfigRequest Request(std::initializer_list<std::pair<std::string, std::string>> files) {
  ConfigRequest r;
  for (const auto& [name, text] : files) {
    ConfigFile f = ParseConfig(text, name);
    EXPECT_TRUE(f.ok()) << name;
    r.Add(f);
  }
  return r;
}

TEST(KconfigMerge, LaterFragmentsWinAndSourcesAreKept) {
  ConfigRequest r = Request({{"defconfig", "CONFIG_A=y\n# CONFIG_INET_DIAG is not set\nCONFIG_LOG=17\n"},
                             {"vm.config", "CONFIG_B=y\nCONFIG_A=m\n"},
                             {"net/mptcp/config", "CONFIG_INET_DIAG=m\n"}});
  auto set = ParseSetArgument("CONFIG_A=y");
  ASSERT_TRUE(set.ok());
  r.Add(*set);
  ASSERT_EQ(r.entries().size(), 4u);
  const auto* a = r.Find("CONFIG_A");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->setting.value, "y");
  EXPECT_EQ(a->setting.source.ToString(), "--set");
  ASSERT_EQ(a->replaced.size(), 2u);
  EXPECT_EQ(a->replaced[0].source.ToString(), "defconfig:1");
  EXPECT_EQ(a->replaced[1].value, "m");
  EXPECT_EQ(a->replaced[1].source.ToString(), "vm.config:2");
  const auto* diag = r.Find("CONFIG_INET_DIAG");
  ASSERT_NE(diag, nullptr);
  EXPECT_EQ(diag->setting.value, "m");
  EXPECT_EQ(diag->setting.source.ToString(), "net/mptcp/config:1");
  EXPECT_EQ(r.Find("CONFIG_NONE"), nullptr);
  // First-asked order, n as kconfig writes it.
  EXPECT_EQ(r.ToFragment(), "CONFIG_A=y\nCONFIG_INET_DIAG=m\nCONFIG_LOG=17\nCONFIG_B=y\n");
  ConfigRequest n = Request({{"f", "CONFIG_X=y\n"}, {"g", "CONFIG_X=n\n"}});
  EXPECT_EQ(n.ToFragment(), "# CONFIG_X is not set\n");
}

TEST(KconfigMerge, FragmentRoundTrips) {
  ConfigRequest r =
      Request({{"f", "CONFIG_S=\"a \\\"b\\\"\"\nCONFIG_H=0x10\n# CONFIG_N is not set\nCONFIG_M=m\n"}});
  ConfigFile back = ParseConfig(r.ToFragment(), "merged");
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back.settings.size(), r.entries().size());
  for (size_t i = 0; i < back.settings.size(); ++i) {
    EXPECT_EQ(back.settings[i].name, r.entries()[i].setting.name);
    EXPECT_EQ(back.settings[i].value, r.entries()[i].setting.value);
  }
}

TEST(KconfigCheck, ReportsEveryOptionThatDidNotEndUpAsAsked) {
  ConfigRequest r = Request({{"vm.config",
                              "CONFIG_WANT_Y_GOT_Y=y\n"
                              "CONFIG_WANT_Y_GOT_M=y\n"
                              "CONFIG_WANT_M_GOT_Y=m\n"
                              "CONFIG_WANT_Y_ABSENT=y\n"
                              "CONFIG_WANT_M_NOT_SET=m\n"
                              "# CONFIG_WANT_N_ABSENT is not set\n"
                              "# CONFIG_WANT_N_NOT_SET is not set\n"
                              "CONFIG_WANT_N_EXPLICIT=n\n"
                              "# CONFIG_WANT_N_GOT_Y is not set\n"},
                             {"user.config",
                              "CONFIG_STR=\"utf8\"\n"
                              "CONFIG_STR_ABSENT=\"x\"\n"
                              "CONFIG_HEX=0x1F\n"
                              "CONFIG_INT=18\n"}});
  ConfigFile result = ParseConfig(
      "CONFIG_WANT_Y_GOT_Y=y\n"
      "CONFIG_WANT_Y_GOT_M=m\n"
      "CONFIG_WANT_M_GOT_Y=y\n"
      "# CONFIG_WANT_M_NOT_SET is not set\n"
      "# CONFIG_WANT_N_NOT_SET is not set\n"
      "CONFIG_WANT_N_EXPLICIT=n\n"
      "CONFIG_WANT_N_GOT_Y=y\n"
      "CONFIG_STR=\"iso8859-1\"\n"
      "CONFIG_HEX=0x1f\n"
      "CONFIG_INT=17\n",
      ".config");
  ASSERT_TRUE(result.ok());
  std::vector<std::string> got;
  std::vector<ConfigMismatch::Kind> kinds;
  for (const auto& m : CheckConfig(r, result)) {
    got.push_back(m.ToString());
    kinds.push_back(m.kind);
  }
  using K = ConfigMismatch::Kind;
  EXPECT_EQ(kinds, (std::vector<K>{K::kModule, K::kBuiltIn, K::kMissing, K::kMissing, K::kSet, K::kValue,
                                   K::kValue, K::kValue}));
  EXPECT_EQ(got, (std::vector<std::string>{
                     "CONFIG_WANT_Y_GOT_M: wanted y, got m (vm.config:2)",
                     "CONFIG_WANT_M_GOT_Y: wanted m, got y (vm.config:3)",
                     "CONFIG_WANT_Y_ABSENT: wanted y, got n (vm.config:4)",
                     "CONFIG_WANT_M_NOT_SET: wanted m, got n (vm.config:5)",
                     "CONFIG_WANT_N_GOT_Y: wanted n, got y (vm.config:9)",
                     "CONFIG_STR: wanted \"utf8\", got \"iso8859-1\" (user.config:1)",
                     "CONFIG_STR_ABSENT: wanted \"x\", got (absent) (user.config:2)",
                     "CONFIG_INT: wanted 18, got 17 (user.config:4)",
                 }));
}

TEST(KconfigCheck, TheWinningRequestIsTheOneChecked) {
  ConfigRequest r =
      Request({{"debug.config", "CONFIG_KASAN=y\n"}, {"user.config", "# CONFIG_KASAN is not set\n"}});
  EXPECT_TRUE(CheckConfig(r, ParseConfig("# CONFIG_KASAN is not set\n", ".config")).empty());
  auto m = CheckConfig(r, ParseConfig("CONFIG_KASAN=y\n", ".config"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].source.ToString(), "user.config:1");
}

class CollectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("vigil-kconfig-coll-" + std::to_string(getpid()));
    fs::remove_all(root_);
    selftests_ = root_ / "tree/tools/testing/selftests";
    fs::create_directories(selftests_ / "net/mptcp");
    fs::create_directories(selftests_ / "size");
    fs::create_directories(selftests_ / "linked");
    fs::create_directories(root_ / "outside");
    std::ofstream(selftests_ / "net/mptcp/config") << "CONFIG_MPTCP=y\n";
    std::ofstream(root_ / "outside/config") << "CONFIG_EVIL=y\n";
    fs::create_directory_symlink(root_ / "outside", selftests_ / "escape");
    fs::create_symlink(root_ / "outside/config", selftests_ / "linked/config");
    tree_ = (root_ / "tree").string();
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_, selftests_;
  std::string tree_;
};

TEST_F(CollectionTest, ResolvesACollectionToItsConfig) {
  auto p = CollectionConfigPath(tree_, "net/mptcp");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, (selftests_ / "net/mptcp/config").string());
  auto none = CollectionConfigPath(tree_, "size");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, "");
  EXPECT_EQ(CollectionConfigPath(tree_, "net/tcp_ao").status().code(), Status::Code::kNotFound);
}

TEST_F(CollectionTest, RefusesNamesEscapingTheSelftestsDirectory) {
  for (const char* bad : {"", "..", "../../..", "net/../../../outside", "/etc", "net//mptcp", "net/mptcp/",
                          "./net", "net/.", "escape", "linked", "net\n/mptcp"}) {
    auto p = CollectionConfigPath(tree_, bad);
    EXPECT_EQ(p.status().code(), Status::Code::kInvalidArgument) << bad << " -> " << (p.ok() ? *p : "");
  }
}

TEST(VmFragment, HoldsEveryOptionTheVmRunnerDependsOn) {
  auto f = ReadConfigFile(std::string(VIGIL_SOURCE_DIR) + "/configs/vm.config");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  for (const auto& e : f->errors) ADD_FAILURE() << e.ToString();
  auto v = Values(*f);
  // Each one is used by src/vm: the console, the channel, the shared root,
  // what /init mounts and runs, what the guest calls, how a crash ends the VM
  // and how its report is decoded.
  for (const char* opt : {"CONFIG_64BIT",
                          "CONFIG_SMP",
                          "CONFIG_ACPI",
                          "CONFIG_TTY",
                          "CONFIG_PRINTK",
                          "CONFIG_SERIAL_8250",
                          "CONFIG_SERIAL_8250_CONSOLE",
                          "CONFIG_PCI",
                          "CONFIG_VIRTIO",
                          "CONFIG_VIRTIO_PCI",
                          "CONFIG_VIRTIO_CONSOLE",
                          "CONFIG_VIRTIO_BLK",
                          "CONFIG_VIRTIO_NET",
                          "CONFIG_FUSE_FS",
                          "CONFIG_VIRTIO_FS",
                          "CONFIG_NET_9P",
                          "CONFIG_NET_9P_VIRTIO",
                          "CONFIG_9P_FS",
                          "CONFIG_BLK_DEV_INITRD",
                          "CONFIG_BINFMT_ELF",
                          "CONFIG_BINFMT_SCRIPT",
                          "CONFIG_PROC_FS",
                          "CONFIG_PROC_SYSCTL",
                          "CONFIG_SYSFS",
                          "CONFIG_DEVTMPFS",
                          "CONFIG_DEVTMPFS_MOUNT",
                          "CONFIG_UNIX98_PTYS",
                          "CONFIG_TMPFS",
                          "CONFIG_CGROUPS",
                          "CONFIG_OVERLAY_FS",
                          "CONFIG_MODULES",
                          "CONFIG_FUTEX",
                          "CONFIG_EVENTFD",
                          "CONFIG_SIGNALFD",
                          "CONFIG_NET_NS",
                          "CONFIG_PANIC_ON_OOPS",
                          "CONFIG_MAGIC_SYSRQ",
                          "CONFIG_KALLSYMS",
                          "CONFIG_KALLSYMS_ALL",
                          "CONFIG_DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT"})
    EXPECT_EQ(v[opt], "y") << opt;
  EXPECT_EQ(v["CONFIG_DEBUG_INFO_REDUCED"], "n");  // vigil decode needs line tables for inlined frames
}

// The few config files the tests read from Debian's linux-source-6.12,
// extracted once per tarball into the temp directory. Empty, with `why`, when
// the tarball is not installed.
fs::path LinuxSourceConfigs(std::string* why) {
  const char* env = std::getenv("LINUX_SOURCE_TARBALL");
  fs::path tarball = env ? env : "/usr/src/linux-source-6.12.tar.xz";
  std::error_code ec;
  if (!fs::is_regular_file(tarball, ec)) {
    *why = tarball.string() + " not found (apt-get install linux-source-6.12)";
    return {};
  }
  auto stamp = std::to_string(fs::file_size(tarball, ec)) + "-" +
               std::to_string(fs::last_write_time(tarball, ec).time_since_epoch().count());
  fs::path dest = fs::temp_directory_path() / ("vigil-kconfig-linux-" + stamp);
  if (fs::exists(dest / ".extracted")) return dest;
  fs::path tmp = dest.string() + ".tmp-" + std::to_string(getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  auto out = sys::CommandOutput({"tar", "-xJf", tarball.string(), "-C", tmp.string(), "--strip-components=1",
                                 "--wildcards", "*/tools/testing/selftests/net/mptcp/config",
                                 "*/kernel/configs/debug.config", "*/arch/x86/configs/x86_64_defconfig"},
                                std::chrono::minutes(5));
  if (!out.ok()) {
    *why = out.status().ToString();
    fs::remove_all(tmp, ec);
    return {};
  }
  std::ofstream(tmp / ".extracted");
  fs::rename(tmp, dest, ec);
  if (ec) fs::remove_all(tmp, ec);  // another process extracted it first
  return dest;
}

size_t CountSettingLines(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("CONFIG_", 0) == 0 ||
        (line.rfind("# CONFIG_", 0) == 0 && line.find(" is not set") != std::string::npos))
      ++n;
  return n;
}

class LinuxSourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tree_ = LinuxSourceConfigs(&why_); }
  void SetUp() override {
    if (tree_.empty()) GTEST_SKIP() << "linux-source-6.12 absent: " << why_;
  }
  ConfigFile Read(const std::string& rel) {
    auto f = ReadConfigFile((tree_ / rel).string());
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    if (!f.ok()) return {};
    for (const auto& e : f->errors) ADD_FAILURE() << e.ToString();
    EXPECT_EQ(f->settings.size(), CountSettingLines(ReadAll(tree_ / rel))) << rel;
    return *f;
  }
  static fs::path tree_;
  static std::string why_;
};
fs::path LinuxSourceTest::tree_;
std::string LinuxSourceTest::why_;

TEST_F(LinuxSourceTest, ParsesTheMptcpSelftestsConfig) {
  ConfigFile f = Read("tools/testing/selftests/net/mptcp/config");
  auto v = Values(f);
  EXPECT_EQ(v["CONFIG_MPTCP"], "y");
  EXPECT_EQ(v["CONFIG_INET_DIAG"], "m");
  auto p = CollectionConfigPath(tree_.string(), "net/mptcp");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, (tree_ / "tools/testing/selftests/net/mptcp/config").string());
}

TEST_F(LinuxSourceTest, ParsesDebugConfig) {
  ConfigFile f = Read("kernel/configs/debug.config");
  auto v = Values(f);
  EXPECT_EQ(v["CONFIG_FRAME_WARN"], "2048");
  EXPECT_EQ(v["CONFIG_UBSAN_TRAP"], "n");
  EXPECT_GT(f.settings.size(), 50u);
}

TEST_F(LinuxSourceTest, ParsesX86Defconfig) {
  ConfigFile f = Read("arch/x86/configs/x86_64_defconfig");
  auto v = Values(f);
  EXPECT_EQ(v["CONFIG_SMP"], "y");
  EXPECT_EQ(v["CONFIG_LOG_BUF_SHIFT"], "18");
  EXPECT_EQ(v["CONFIG_NLS_DEFAULT"], "\"utf8\"");
  EXPECT_EQ(v["CONFIG_INET_DIAG"], "n");
}

TEST_F(LinuxSourceTest, MptcpBuildRequestMergesInOrderWithSources) {
  // defconfig, then the VM fragment, then net/mptcp's config: mptcp's
  // INET_DIAG=m overrides defconfig's "is not set" and names its line.
  ConfigRequest r;
  std::string defconfig = (tree_ / "arch/x86/configs/x86_64_defconfig").string();
  std::string mptcp = (tree_ / "tools/testing/selftests/net/mptcp/config").string();
  for (const std::string& path : {defconfig, std::string(VIGIL_SOURCE_DIR) + "/configs/vm.config", mptcp}) {
    auto f = ReadConfigFile(path);
    ASSERT_TRUE(f.ok() && f->ok()) << path;
    r.Add(*f);
  }
  const auto* diag = r.Find("CONFIG_INET_DIAG");
  ASSERT_NE(diag, nullptr);
  EXPECT_EQ(diag->setting.value, "m");
  EXPECT_EQ(diag->setting.source.file, mptcp);
  EXPECT_EQ(diag->setting.source.line, 5);
  ASSERT_EQ(diag->replaced.size(), 1u);
  EXPECT_EQ(diag->replaced[0].source.file, defconfig);
  // A .config where INET_DIAG came out built in and MPTCP vanished.
  ConfigFile result = ParseConfig(r.ToFragment(), ".config");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(CheckConfig(r, result).empty());
  std::string text = r.ToFragment();
  text += "CONFIG_INET_DIAG=y\n# CONFIG_MPTCP is not set\n";
  auto m = CheckConfig(r, ParseConfig(text, ".config"));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].ToString(), "CONFIG_INET_DIAG: wanted m, got y (" + mptcp + ":5)");
  EXPECT_EQ(m[1].ToString(), "CONFIG_MPTCP: wanted y, got n (" + mptcp + ":2)");
}

// What kconfig itself makes of the request: the Kconfig tree of
// linux-source-6.12 (Kconfig files, Makefiles, scripts/), extracted once per
// tarball, and a real `make tinyconfig`, fragment, `make olddefconfig`.
class OlddefconfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* tool : {"make", "gcc", "flex", "bison"})
      if (!sys::CommandOutput({"sh", "-c", std::string("command -v ") + tool}).ok())
        why_ += std::string(why_.empty() ? "" : ", ") + tool;
    if (!why_.empty()) {
      why_ = "no " + why_ + " (apt-get install make gcc flex bison)";
      return;
    }
    const char* env = std::getenv("LINUX_SOURCE_TARBALL");
    fs::path tarball = env ? env : "/usr/src/linux-source-6.12.tar.xz";
    std::error_code ec;
    if (!fs::is_regular_file(tarball, ec)) {
      why_ = tarball.string() + " not found (apt-get install linux-source-6.12)";
      return;
    }
    auto stamp = std::to_string(fs::file_size(tarball, ec)) + "-" +
                 std::to_string(fs::last_write_time(tarball, ec).time_since_epoch().count());
    fs::path dest = fs::temp_directory_path() / ("vigil-kconfig-tree-" + stamp);
    if (!fs::exists(dest / ".extracted")) {
      fs::path tmp = dest.string() + ".tmp-" + std::to_string(getpid());
      fs::remove_all(tmp, ec);
      fs::create_directories(tmp);
      std::string top = tarball.stem().stem().string();
      auto out = sys::CommandOutput(
          {"tar", "-xJf", tarball.string(), "-C", tmp.string(), "--strip-components=1", "--wildcards",
           "*/Kconfig*", "*/Makefile*", "*/Kbuild*", top + "/scripts/*", top + "/arch/x86/configs/*",
           top + "/kernel/configs/*", top + "/tools/testing/selftests/net/mptcp/config",
           top + "/arch/x86/tools/*", top + "/include/*", top + "/arch/x86/include/*"},
          std::chrono::minutes(5));
      if (!out.ok()) {
        why_ = out.status().ToString();
        fs::remove_all(tmp, ec);
        return;
      }
      std::ofstream(tmp / ".extracted");
      fs::rename(tmp, dest, ec);
      if (ec) fs::remove_all(tmp, ec);
    }
    tree_ = dest;
  }
  void SetUp() override {
    if (tree_.empty()) GTEST_SKIP() << "cannot run kconfig: " << why_;
    // Kept beside the tree, so kconfig's own programs are built once.
    out_ = tree_.string() + "-out";
    fs::create_directories(out_);
  }
  // `make TARGET` in the output directory; the failure names make's output.
  void Make(const std::string& target) {
    auto r = sys::CommandOutput({"nice", "make", "-s", "-C", tree_.string(), "O=" + out_.string(), target},
                                std::chrono::minutes(5));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // tinyconfig, the request appended as vigil build appends it, olddefconfig.
  ConfigFile Olddefconfig(const ConfigRequest& request) {
    Make("tinyconfig");
    std::ofstream(out_ / ".config", std::ios::app) << request.ToFragment();
    Make("olddefconfig");
    auto f = ReadConfigFile((out_ / ".config").string());
    EXPECT_TRUE(f.ok() && f->ok());
    return f.ok() ? *f : ConfigFile{};
  }
  static fs::path tree_;
  static std::string why_;
  fs::path out_;
};
fs::path OlddefconfigTest::tree_;
std::string OlddefconfigTest::why_;

TEST_F(OlddefconfigTest, VmFragmentSurvivesOnTinyconfigAndDroppedOptionsAreReported) {
  auto vm = ReadConfigFile(std::string(VIGIL_SOURCE_DIR) + "/configs/vm.config");
  std::string mptcp_path = (tree_ / "tools/testing/selftests/net/mptcp/config").string();
  auto mptcp = ReadConfigFile(mptcp_path);
  ASSERT_TRUE(vm.ok() && mptcp.ok());
  ConfigRequest request;
  request.Add(*vm);
  request.Add(*mptcp);
  ConfigFile result = Olddefconfig(request);
  ASSERT_FALSE(result.settings.empty());
  std::vector<std::string> from_vm;
  const ConfigMismatch* cls_act = nullptr;
  auto mismatches = CheckConfig(request, result);
  for (const auto& m : mismatches) {
    if (m.source.file != mptcp_path) from_vm.push_back(m.ToString());
    if (m.name == "CONFIG_NET_CLS_ACT") cls_act = &m;
  }
  // Every option the VM runner needs is set on the smallest base.
  EXPECT_EQ(from_vm, std::vector<std::string>{});
  // tinyconfig has no NET_SCHED, so the MPTCP selftests' traffic control
  // options cannot be set: kconfig drops them without an error.
  ASSERT_NE(cls_act, nullptr);
  EXPECT_EQ(cls_act->ToString(), "CONFIG_NET_CLS_ACT: wanted y, got n (" + mptcp_path + ":32)");
  EXPECT_EQ(cls_act->kind, ConfigMismatch::Kind::kMissing);
}

}  // namespace
}  // namespace vigil::kbuild
