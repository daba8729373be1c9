#include "kbuild/build.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace vigil::kbuild {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vigil-build-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string Read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(StepLine, KbuildQuietLinesAreStepsOtherOutputIsNot) {
  EXPECT_TRUE(IsStepLine("  CC      kernel/sys.o"));
  EXPECT_TRUE(IsStepLine("  LD [M]  net/mptcp/mptcp_diag.ko"));
  EXPECT_TRUE(IsStepLine("  HOSTCC  scripts/kconfig/conf.o"));
  EXPECT_TRUE(IsStepLine("  INSTALL /tmp/x/lib/modules/6.12.0/kernel/fs/x.ko"));
  EXPECT_FALSE(IsStepLine("kernel/sys.c:12:3: error: expected ';' before '}' token"));
  EXPECT_FALSE(IsStepLine("make[2]: *** [scripts/Makefile.build:229: kernel/sys.o] Error 1"));
  EXPECT_FALSE(IsStepLine("  12 |   return x"));
  EXPECT_FALSE(IsStepLine("  CC"));
  EXPECT_FALSE(IsStepLine("  ABCDEFGHIJKLMNOPQ x"));
  EXPECT_FALSE(IsStepLine("CC      kernel/sys.o"));
  EXPECT_TRUE(IsBuildStep("  CC      kernel/sys.o"));
  EXPECT_TRUE(IsBuildStep("  LD [M]  net/mptcp/mptcp_diag.ko"));
  EXPECT_TRUE(IsBuildStep("  BUILD   arch/x86/boot/bzImage"));
  for (const char* housekeeping : {"  GEN     Makefile", "  DESCEND objtool", "  CALL    scripts/checksyscalls.sh",
                                   "  INSTALL libsubcmd_headers", "  SYNC    include/config/auto.conf",
                                   "  DEPMOD  /tmp/x/lib/modules/6.12.0"})
    EXPECT_FALSE(IsBuildStep(housekeeping)) << housekeeping;
}

TEST(ConfigHash, CommentsDoNotCountNotSetLinesDo) {
  std::string a = "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.12.0 Kernel Configuration\n"
                  "CONFIG_A=y\n# CONFIG_B is not set\n";
  std::string b = "#\n# Linux/x86 6.12.9 Kernel Configuration\n\nCONFIG_A=y\n# CONFIG_B is not set\n";
  std::string c = "CONFIG_A=y\n";
  std::string d = "CONFIG_A=m\n# CONFIG_B is not set\n";
  EXPECT_EQ(ConfigHash(a), ConfigHash(b));
  EXPECT_NE(ConfigHash(a), ConfigHash(c));
  EXPECT_NE(ConfigHash(a), ConfigHash(d));
  EXPECT_EQ(ConfigHash(a).size(), 16u);
}

TEST(BuiltinFragment, VmAndDebugParseCleanlyAndDebugAsksForKasanAndLockdep) {
  for (const char* name : {"vm", "debug"}) {
    ConfigFile f = ParseConfig(BuiltinFragment(name), name);
    EXPECT_TRUE(f.ok()) << name << ": " << (f.errors.empty() ? "" : f.errors[0].ToString());
    EXPECT_GT(f.settings.size(), 10u) << name;
  }
  ConfigRequest debug;
  debug.Add(ParseConfig(BuiltinFragment("debug"), "debug"));
  for (const char* option : {"CONFIG_KASAN", "CONFIG_PROVE_LOCKING", "CONFIG_DEBUG_KMEMLEAK", "CONFIG_DEBUG_ATOMIC_SLEEP"}) {
    ASSERT_NE(debug.Find(option), nullptr) << option;
    EXPECT_EQ(debug.Find(option)->setting.value, "y") << option;
  }
  EXPECT_TRUE(BuiltinFragment("nope").empty());
}

TEST(FindVariant, NormalAndDebugAreBuiltInUnknownNamesAreRefused) {
  auto normal = FindVariant("normal");
  ASSERT_TRUE(normal.ok());
  EXPECT_FALSE(normal->tree_debug_config);
  EXPECT_TRUE(normal->builtin.empty());
  auto debug = FindVariant("debug");
  ASSERT_TRUE(debug.ok());
  EXPECT_TRUE(debug->tree_debug_config);
  EXPECT_EQ(debug->builtin, std::vector<std::string>{"debug"});
  auto bad = FindVariant("kasan");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown variant kasan: normal, debug"), std::string::npos);
}

TEST(FindVariant, ReadsVariantsFromTomlWithPathsRelativeToTheFile) {
  TempDir dir;
  Write(dir.path() / "variants.toml",
        "[variant.kasan]\nbase = \"debug\"\nfragments = [\"frag/kasan.config\", \"/abs/x.config\"]\n"
        "set = [\"CONFIG_KASAN_INLINE=n\"]\n"
        "[variant.lean]\nset = [\"CONFIG_DEBUG_INFO_NONE=y\"]\n");
  std::string file = (dir.path() / "variants.toml").string();
  auto kasan = FindVariant("kasan", file);
  ASSERT_TRUE(kasan.ok()) << kasan.status().ToString();
  EXPECT_TRUE(kasan->tree_debug_config);
  EXPECT_EQ(kasan->builtin, std::vector<std::string>{"debug"});
  EXPECT_EQ(kasan->fragments,
            (std::vector<std::string>{(dir.path() / "frag/kasan.config").string(), "/abs/x.config"}));
  EXPECT_EQ(kasan->set, std::vector<std::string>{"CONFIG_KASAN_INLINE=n"});
  auto lean = FindVariant("lean", file);
  ASSERT_TRUE(lean.ok());
  EXPECT_FALSE(lean->tree_debug_config);
  // The built-in names stay available beside the file's.
  EXPECT_TRUE(FindVariant("debug", file).ok());

  Write(dir.path() / "bad.toml", "[variant.x]\nfragmets = [\"a\"]\n");
  auto typo = FindVariant("x", (dir.path() / "bad.toml").string());
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("fragmets"), std::string::npos) << typo.status().message();
  Write(dir.path() / "badset.toml", "[variant.x]\nset = [\"KASAN=y\"]\n");
  EXPECT_FALSE(FindVariant("x", (dir.path() / "badset.toml").string()).ok());
  Write(dir.path() / "syntax.toml", "[variant.x\n");
  EXPECT_FALSE(FindVariant("x", (dir.path() / "syntax.toml").string()).ok());
}

TEST(DefaultOutputDir, KeyedByTreeAndVariantUnderTheUserCache) {
  TempDir dir;
  fs::create_directories(dir.path() / "linux");
  fs::create_directories(dir.path() / "other/linux");
  setenv("XDG_CACHE_HOME", (dir.path() / "cache").c_str(), 1);
  std::string a = DefaultOutputDir((dir.path() / "linux").string(), "normal");
  std::string b = DefaultOutputDir((dir.path() / "linux").string(), "debug");
  std::string c = DefaultOutputDir((dir.path() / "other/linux").string(), "normal");
  std::string a2 = DefaultOutputDir((dir.path() / "other/../linux").string(), "normal");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(a.rfind((dir.path() / "cache/vigil/build/linux-").string(), 0), 0u) << a;
  EXPECT_EQ(fs::path(a).filename(), "normal");
  EXPECT_EQ(fs::path(a).parent_path(), fs::path(b).parent_path());
  EXPECT_NE(fs::path(a).parent_path(), fs::path(c).parent_path());
  EXPECT_EQ(a, a2);
}

TEST(CheckBuildEnvironment, NamesEachMissingToolAndTheAptGetLine) {
  TempDir dir;
  // A PATH with make and gcc only.
  for (const char* tool : {"make", "gcc", "sh", "printf"}) {
    std::string real = std::string("/usr/bin/") + tool;
    if (!fs::exists(real)) real = std::string("/bin/") + tool;
    fs::create_symlink(real, dir.path() / tool);
  }
  std::string old = std::getenv("PATH");
  setenv("PATH", dir.path().c_str(), 1);
  Status s = CheckBuildEnvironment(BuildOptions{});
  setenv("PATH", old.c_str(), 1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("flex, bison, bc, perl"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("apt-get install flex bison bc perl"), std::string::npos) << s.message();
}

// A tree that is not a kernel tree, one configured in place, and an output
// directory another build holds are refused before anything runs.
TEST(Build, RefusesWhatCannotBeBuilt) {
  TempDir dir;
  BuildObserver quiet;
  BuildOptions o;
  o.tree = (dir.path() / "none").string();
  auto r = Build(o, quiet);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is not a kernel source tree"), std::string::npos);

  fs::path tree = dir.path() / "linux";
  Write(tree / "Makefile", "all:\n");
  Write(tree / "Kconfig", "");
  Write(tree / ".config", "CONFIG_X=y\n");
  o.tree = tree.string();
  o.output_dir = (dir.path() / "out").string();
  r = Build(o, quiet);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("make mrproper"), std::string::npos) << r.status().message();
}

// A stand-in for kbuild: a Makefile that answers the targets vigil build
// asks for, out of tree, the way the kernel's does (O=, a .config, a quiet
// step line per object, an image, kselftest-install).
constexpr const char* kFakeMakefile = R"MK(
O ?= .
.PHONY: tinyconfig olddefconfig all image_name kernelrelease modules_install headers kselftest-install
tinyconfig:
	@mkdir -p $(O)
	@printf '#\n# fake 1.0 Kernel Configuration\nCONFIG_TINY=y\n' > $(O)/.config
olddefconfig:
	@sed -i -e 's/^CONFIG_CANNOT=y/# CONFIG_CANNOT is not set/' -e 's/^CONFIG_MODULES=y/CONFIG_MODULES=y/' $(O)/.config
	@echo "  SYNC    $(O)/include/config/auto.conf"
all:
	@echo "  CC      kernel/a.o"
	@if [ -f $(CURDIR)/broken.c ]; then \
	  echo "kernel/broken.c:3:5: error: 'x' undeclared (first use in this function)"; \
	  echo "make[2]: *** [scripts/Makefile.build:229: kernel/broken.o] Error 1"; exit 2; fi
	@echo "kernel/a.c:7:9: warning: unused variable 'y' [-Wunused-variable]"
	@echo "  CC      kernel/b.o"
	@mkdir -p $(O)/arch/x86/boot && cp $(O)/.config $(O)/arch/x86/boot/bzImage && touch $(O)/vmlinux
image_name:
	@echo arch/x86/boot/bzImage
kernelrelease:
	@echo 1.0.0-fake
modules_install:
	@mkdir -p $(INSTALL_MOD_PATH)/lib/modules/1.0.0-fake && touch $(INSTALL_MOD_PATH)/lib/modules/1.0.0-fake/modules.dep
headers:
	@mkdir -p $(O)/usr/include
kselftest-install:
	@if [ -f $(CURDIR)/selftest-broken.c ]; then echo "tools/testing/selftests/demo/t.c:1:1: error: expected ';' before '}' token"; fi
	@mkdir -p $(INSTALL_PATH) && for t in $(TARGETS); do echo "$$t:t" >> $(INSTALL_PATH)/kselftest-list.txt; done
)MK";

class FakeTreeBuild : public ::testing::Test {
 protected:
  void SetUp() override {
    if (system("command -v make >/dev/null") != 0) GTEST_SKIP() << "no make";
    tree_ = dir_.path() / "linux";
    Write(tree_ / "Makefile", kFakeMakefile);
    Write(tree_ / "Kconfig", "");
    Write(tree_ / "tools/testing/selftests/demo/config", "CONFIG_DEMO=y\nCONFIG_CANNOT=y\n");
    fs::create_directories(tree_ / "tools/testing/selftests/noconfig");
    o_.tree = tree_.string();
    o_.output_dir = (dir_.path() / "out").string();
    o_.base_config = "tinyconfig";
    o_.vm_fragment = false;
    o_.ccache = false;
    o_.jobs = 1;
  }
  struct Recorder : BuildObserver {
    void Phase(std::string_view name) override { phases.emplace_back(name); }
    void Step(std::string_view line, int64_t n) override {
      steps.emplace_back(line);
      last = n;
    }
    std::vector<std::string> phases, steps;
    int64_t last = 0;
  };
  TempDir dir_;
  fs::path tree_;
  BuildOptions o_;
};

TEST_F(FakeTreeBuild, AssemblesTheConfigBuildsAndReportsDroppedOptionsAndWarnings) {
  o_.collections = {"demo", "noconfig"};
  o_.set = {"CONFIG_EXTRA=m"};
  Recorder rec;
  auto r = Build(o_, rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->state, BuildResult::State::kBuilt) << r->failure;
  EXPECT_EQ(rec.phases, (std::vector<std::string>{"config", "kernel", "headers", "kselftest"}));
  EXPECT_EQ(r->headers, o_.output_dir + "/usr/include");
  // The request reached .config in order (base, collection, --set).
  std::string config = Read(fs::path(o_.output_dir) / ".config");
  EXPECT_NE(config.find("CONFIG_TINY=y\n"), std::string::npos);
  EXPECT_LT(config.find("CONFIG_DEMO=y"), config.find("CONFIG_EXTRA=m"));
  // What olddefconfig dropped is reported with where it was asked for.
  ASSERT_EQ(r->mismatches.size(), 1u);
  EXPECT_EQ(r->mismatches[0].name, "CONFIG_CANNOT");
  EXPECT_NE(r->mismatches[0].source.file.find("tools/testing/selftests/demo/config"), std::string::npos);
  ASSERT_EQ(r->diagnostics.size(), 1u);
  EXPECT_EQ(r->diagnostics[0].flag, "-Wunused-variable");
  EXPECT_EQ(r->warnings, 1u);
  EXPECT_EQ(r->errors, 0u);
  EXPECT_EQ(r->steps, 2);  // the two CC lines; SYNC is housekeeping
  EXPECT_EQ(rec.last, r->steps);
  EXPECT_EQ(r->kernel, o_.output_dir + "/arch/x86/boot/bzImage");
  EXPECT_EQ(r->release, "1.0.0-fake");
  EXPECT_EQ(r->tests, o_.output_dir + "/kselftest_install");
  EXPECT_EQ(Read(fs::path(r->tests) / "kselftest-list.txt"), "demo:t\nnoconfig:t\n");
  EXPECT_EQ(r->config_hash, ConfigHash(config));
  EXPECT_TRUE(r->modules.empty());  // CONFIG_MODULES is not set
  EXPECT_NE(Read(r->log).find("CC      kernel/b.o"), std::string::npos);
  EXPECT_TRUE(r->commit.empty());  // not a git tree
}

TEST_F(FakeTreeBuild, ASelftestThatDoesNotCompileFailsTheBuildWhateverMakeSays) {
  // The selftests' Makefile multiplies its collections' exit statuses: one
  // that built makes make end well.
  Write(tree_ / "selftest-broken.c", "");
  o_.collections = {"demo", "noconfig"};
  Recorder rec;
  auto r = Build(o_, rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->state, BuildResult::State::kFailed);
  EXPECT_EQ(r->failure, "kselftest-install: 1 error building the selftests");
  EXPECT_EQ(r->errors, 1u);
}

TEST_F(FakeTreeBuild, AnUnchangedConfigurationKeepsDotConfigUntouched) {
  Recorder rec;
  ASSERT_TRUE(Build(o_, rec).ok());
  fs::path dot = fs::path(o_.output_dir) / ".config";
  auto before = fs::last_write_time(dot);
  fs::last_write_time(dot, before - std::chrono::hours(1));
  auto aged = fs::last_write_time(dot);
  auto again = Build(o_, rec);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->config_reused);  // kconfig did not even run
  EXPECT_EQ(fs::last_write_time(dot), aged);  // kbuild sees no new configuration
  // A Kconfig file that changes (a checkout) settles the configuration again.
  Write(tree_ / "Kconfig", "# changed\n");
  auto changed = Build(o_, rec);
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->config_reused);
  EXPECT_EQ(fs::last_write_time(dot), aged);  // same result: still untouched
  o_.set = {"CONFIG_NEW=y"};
  ASSERT_TRUE(Build(o_, rec).ok());
  EXPECT_NE(fs::last_write_time(dot), aged);
  EXPECT_NE(Read(dot).find("CONFIG_NEW=y"), std::string::npos);
}

TEST_F(FakeTreeBuild, ACompilerErrorFailsTheBuildWithTheDiagnosticAndTheTarget) {
  Write(tree_ / "broken.c", "");
  Recorder rec;
  auto r = Build(o_, rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->state, BuildResult::State::kFailed);
  EXPECT_EQ(r->failed_target, "kernel/broken.o");
  EXPECT_NE(r->failure.find("kernel/broken.o"), std::string::npos) << r->failure;
  EXPECT_EQ(r->errors, 1u);
  bool found = false;
  for (const auto& d : r->diagnostics)
    if (d.file == "kernel/broken.c" && d.line == 3 && d.column == 5 && d.severity == Severity::kError) found = true;
  EXPECT_TRUE(found);
  EXPECT_FALSE(r->tail.empty());
  EXPECT_TRUE(r->kernel.empty());
}

TEST_F(FakeTreeBuild, UnknownBaseTargetUnreadableFragmentAndEscapingCollectionAreReported) {
  Recorder rec;
  o_.base_config = "nosuchconfig";
  auto r = Build(o_, rec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, BuildResult::State::kFailed);
  EXPECT_EQ(r->failure, "config: make nosuchconfig failed");

  o_.base_config = "tinyconfig";
  o_.config_files = {(dir_.path() / "missing.config").string()};
  EXPECT_FALSE(Build(o_, rec).ok());
  o_.config_files.clear();
  o_.collections = {"../../../etc"};
  EXPECT_FALSE(Build(o_, rec).ok());
  o_.collections = {"nosuch"};
  auto nosuch = Build(o_, rec);
  ASSERT_FALSE(nosuch.ok());
  // A collection's config the tree got wrong fails the build (exit 1), recorded.
  Write(tree_ / "tools/testing/selftests/demo/config", "CONFIG_DEMO=y\nthis is not kconfig\n");
  o_.collections = {"demo"};
  auto bad = Build(o_, rec);
  ASSERT_TRUE(bad.ok()) << bad.status().ToString();
  EXPECT_EQ(bad->state, BuildResult::State::kFailed);
  EXPECT_EQ(bad->failure.rfind("config: ", 0), 0u) << bad->failure;
  EXPECT_NE(bad->failure.find("demo/config"), std::string::npos) << bad->failure;
}

// A tree of strangers' (owner_uid) that is not fit to build fails its
// build: the patch loop reports it as the series' and goes on.
TEST_F(FakeTreeBuild, AStrangersTreeUnfitToBuildFailsItsBuild) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  for (auto it = fs::recursive_directory_iterator(dir_.path()); it != fs::recursive_directory_iterator(); ++it) {
    ASSERT_EQ(lchown(it->path().c_str(), 65534, 65534), 0);
  }
  ASSERT_EQ(chown(dir_.path().c_str(), 65534, 65534), 0);
  o_.owner_uid = o_.owner_gid = 65534;
  Recorder rec;
  o_.collections = {"nosuch"};
  auto missing = Build(o_, rec);
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_EQ(missing->state, BuildResult::State::kFailed);
  o_.collections.clear();
  Write(tree_ / ".config", "CONFIG_X=y\n");
  auto in_place = Build(o_, rec);
  ASSERT_TRUE(in_place.ok()) << in_place.status().ToString();
  EXPECT_EQ(in_place->state, BuildResult::State::kFailed);
  EXPECT_NE(in_place->failure.find("configured in place"), std::string::npos) << in_place->failure;
  // The same tree of the user's own is a usage error.
  o_.owner_uid = o_.owner_gid = -1;
  EXPECT_FALSE(Build(o_, rec).ok());
}

TEST_F(FakeTreeBuild, TheDebugVariantMergesTheTreesDebugConfigThenVigilsAndBuildsApart) {
  Write(tree_ / "kernel/configs/debug.config", "CONFIG_TREE_DEBUG=y\nCONFIG_KASAN=n\n");
  auto debug = FindVariant("debug");
  ASSERT_TRUE(debug.ok());
  o_.variant = *debug;
  o_.output_dir.clear();
  setenv("XDG_CACHE_HOME", (dir_.path() / "cache").c_str(), 1);
  Recorder rec;
  auto r = Build(o_, rec);
  unsetenv("XDG_CACHE_HOME");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(fs::path(r->output_dir).filename(), "debug");
  std::string config = Read(fs::path(r->output_dir) / ".config");
  EXPECT_NE(config.find("CONFIG_TREE_DEBUG=y"), std::string::npos);
  // vigil's fragment comes after the tree's: its KASAN=y wins.
  EXPECT_NE(config.find("CONFIG_KASAN=y"), std::string::npos);
  EXPECT_NE(config.find("CONFIG_PROVE_LOCKING=y"), std::string::npos);
}

TEST_F(FakeTreeBuild, ABaseConfigFileIsUsedAsIs) {
  Write(dir_.path() / "my.config", "CONFIG_MINE=y\n");
  o_.base_config = (dir_.path() / "my.config").string();
  Recorder rec;
  auto r = Build(o_, rec);
  ASSERT_TRUE(r.ok());
  std::string config = Read(fs::path(o_.output_dir) / ".config");
  EXPECT_NE(config.find("CONFIG_MINE=y"), std::string::npos);
  EXPECT_EQ(config.find("CONFIG_TINY"), std::string::npos);
  // A file of this directory named as a target could be: the file.
  fs::path was = fs::current_path();
  fs::current_path(dir_.path());
  o_.base_config = "my.config";
  auto here = Build(o_, rec);
  fs::current_path(was);
  ASSERT_TRUE(here.ok()) << here.status().ToString();
  EXPECT_EQ(here->state, BuildResult::State::kBuilt) << here->failure;
  EXPECT_NE(Read(fs::path(o_.output_dir) / ".config").find("CONFIG_MINE=y"), std::string::npos);
}

}  // namespace
}  // namespace vigil::kbuild

namespace vigil::kbuild {
namespace {

TEST_F(FakeTreeBuild, EveryMakeRunsUnderTheWrapperWithACleanEnvironment) {
  // The wrapper records each make it starts, and what of vigil's
  // environment the make would see.
  fs::path calls = dir_.path() / "calls";
  Write(dir_.path() / "wrap.sh",
        "#!/bin/sh\nprintf '%s secret=%s home=%s\\n' \"$*\" \"${VIGIL_TEST_SECRET:-}\" \"${HOME:+set}\" >> " +
            calls.string() + "\nexec \"$@\"\n");
  fs::permissions(dir_.path() / "wrap.sh", fs::perms::owner_all);
  setenv("VIGIL_TEST_SECRET", "s3cr3t", 1);
  o_.wrapper = {(dir_.path() / "wrap.sh").string()};
  o_.clean_env = true;
  Recorder rec;
  auto r = Build(o_, rec);
  unsetenv("VIGIL_TEST_SECRET");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->state, BuildResult::State::kBuilt) << r->failure;
  std::string seen = Read(calls);
  for (const char* target : {"tinyconfig", "olddefconfig", " all", "image_name", "kernelrelease", "headers"}) {
    EXPECT_NE(seen.find(target), std::string::npos) << target << " not run under the wrapper:\n" << seen;
  }
  EXPECT_EQ(seen.find("s3cr3t"), std::string::npos) << seen;  // the environment was cleaned
  EXPECT_NE(seen.find("home=set"), std::string::npos) << seen;  // but for the basics
}

}  // namespace
}  // namespace vigil::kbuild

namespace vigil::kbuild {
namespace {

TEST_F(FakeTreeBuild, ModulesStagingIsKeptForItsReleaseAndClearedOfOthers) {
  o_.set = {"CONFIG_MODULES=y"};
  fs::path modules = fs::path(o_.output_dir) / ".vigil/staging/lib/modules";
  fs::create_directories(modules / "0.9.0-old");
  fs::create_directories(modules / "1.0.0-fake");
  Write(modules / "1.0.0-fake" / "installed-before.ko", "");
  Recorder rec;
  auto r = Build(o_, rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->state, BuildResult::State::kBuilt) << r->failure;
  EXPECT_EQ(r->modules, (modules / "1.0.0-fake").string());
  EXPECT_TRUE(fs::exists(modules / "1.0.0-fake" / "modules.dep"));
  // modules_install updates what changed; the staging is not wiped first.
  EXPECT_TRUE(fs::exists(modules / "1.0.0-fake" / "installed-before.ko"));
  EXPECT_FALSE(fs::exists(modules / "0.9.0-old"));
}

}  // namespace
}  // namespace vigil::kbuild

namespace vigil::kbuild {
namespace {

// make runs as the sandbox user in an output directory it can write: a
// link it leaves there must not lead vigil, as root, to a file of the host.
TEST_F(FakeTreeBuild, AsItsOwnerLinksLeftInTheOutputDirectoryLeadNowhere) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "no setpriv";
  // What only root may touch: a file and a modules tree of the "host".
  fs::path host = dir_.path() / "host";
  Write(host / "precious", "precious\n");
  fs::permissions(host / "precious", fs::perms::owner_read | fs::perms::owner_write);
  fs::create_directories(host / "lib/modules/9.9.9-host");
  // One the sandbox user may write in (so modules_install gets through).
  fs::permissions(host / "lib/modules", fs::perms::all);
  // The output directory as an earlier make left it.
  fs::path vigil_dir = fs::path(o_.output_dir) / ".vigil";
  fs::create_directories(vigil_dir / "staging");
  fs::create_symlink(host / "precious", vigil_dir / "build.log");
  fs::create_symlink(host / "lib", vigil_dir / "staging/lib");
  // Everything but the host's files is the sandbox user's, as the patch
  // loop hands a checkout over; make runs as that user.
  for (auto it = fs::recursive_directory_iterator(dir_.path()); it != fs::recursive_directory_iterator(); ++it) {
    if (it->path().string().rfind(host.string(), 0) != 0) {
      ASSERT_EQ(lchown(it->path().c_str(), 65534, 65534), 0);
    }
  }
  ASSERT_EQ(chown(dir_.path().c_str(), 65534, 65534), 0);
  o_.wrapper = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  o_.owner_uid = o_.owner_gid = 65534;
  o_.set = {"CONFIG_MODULES=y"};
  Recorder rec;
  auto r = Build(o_, rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->state, BuildResult::State::kFailed);
  EXPECT_NE(r->failure.find("out of the output directory"), std::string::npos) << r->failure << "\n" << Read(r->log);
  EXPECT_EQ(Read(host / "precious"), "precious\n");
  EXPECT_TRUE(fs::exists(host / "lib/modules/9.9.9-host"));
  // The log is a file of the build's own now, and what vigil wrote is the user's.
  EXPECT_FALSE(fs::is_symlink(vigil_dir / "build.log"));
  struct stat st {};
  ASSERT_EQ(stat((fs::path(o_.output_dir) / ".config").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  ASSERT_EQ(stat((vigil_dir / "config.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
}

}  // namespace
}  // namespace vigil::kbuild
