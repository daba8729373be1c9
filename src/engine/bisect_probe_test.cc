#include "engine/bisect_probe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "store/store.h"

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

// One attempt of coll:t.sh with this status and these subtests (path, status).
model::AttemptRecord Attempt(const std::string& status, std::vector<std::pair<std::string, std::string>> subtests,
                             int attempt = 1) {
  model::AttemptRecord a;
  a.test_path = "coll:t.sh";
  a.attempt = attempt;
  a.status = status;
  for (const auto& [path, st] : subtests) a.subtests.push_back({path, st, std::nullopt});
  return a;
}

Outcome OutcomeOf(const std::string& sub, const std::vector<model::AttemptRecord>& attempts,
                  std::string* absent = nullptr) {
  ProbeRun p;
  JudgeAttempts("coll:t.sh", sub, "", attempts, &p);
  if (absent) *absent = p.target_absent;
  return p.outcome;
}

TEST(JudgeAttemptsTest, TheSubtestsOwnResultCountsInAnyAttempt) {
  EXPECT_EQ(OutcomeOf("b", {Attempt("FAIL", {{"a", "FAIL"}, {"b", "PASS"}})}), Outcome::kPass);
  EXPECT_EQ(OutcomeOf("b", {Attempt("FAIL", {{"a", "PASS"}, {"b", "FAIL"}})}), Outcome::kFail);
  // Failed, then passed on a retry: a failure.
  EXPECT_EQ(OutcomeOf("b", {Attempt("FAIL", {{"b", "FAIL"}}), Attempt("PASS", {{"b", "PASS"}}, 2)}), Outcome::kFail);
  EXPECT_EQ(OutcomeOf("b", {Attempt("PASS", {{"b", "SKIP"}})}), Outcome::kSkip);
}

TEST(JudgeAttemptsTest, ASubtestNotThereYetIsGoodButOneTheTestNeverGotToSaysNothing) {
  std::string absent;
  // Ran to its end without it (passed, or failed on another): not there yet.
  EXPECT_EQ(OutcomeOf("b", {Attempt("PASS", {{"a", "PASS"}})}, &absent), Outcome::kPass);
  EXPECT_EQ(absent, "coll:t.sh (PASS) has no subtest 'b' (it has: a)");
  EXPECT_EQ(OutcomeOf("b", {Attempt("FAIL", {{"a", "FAIL"}})}), Outcome::kPass);
  // Stopped before it: a planned result never came, a crash, a timeout, a
  // failure before any result; or skipped as a whole.
  EXPECT_EQ(OutcomeOf("b", {Attempt("FAIL", {{"a", "PASS"}, {"test 2 (no result)", "CRASH"}})}), Outcome::kSkip);
  EXPECT_EQ(OutcomeOf("b", {Attempt("CRASH", {{"a", "PASS"}})}), Outcome::kSkip);
  EXPECT_EQ(OutcomeOf("b", {Attempt("TIMEOUT", {{"a", "PASS"}})}), Outcome::kSkip);
  EXPECT_EQ(OutcomeOf("b", {Attempt("FAIL", {})}, &absent), Outcome::kSkip);
  EXPECT_EQ(absent, "coll:t.sh (FAIL) has no subtest 'b' (it has none)");
  EXPECT_EQ(OutcomeOf("b", {Attempt("SKIP", {})}), Outcome::kSkip);
  // The test itself: a failure in any attempt; a skip says nothing.
  EXPECT_EQ(OutcomeOf("", {Attempt("FAIL", {}), Attempt("PASS", {}, 2)}), Outcome::kFail);
  EXPECT_EQ(OutcomeOf("", {Attempt("SKIP", {})}), Outcome::kSkip);
  EXPECT_EQ(OutcomeOf("", {Attempt("PASS", {{"a", "PASS"}})}), Outcome::kPass);
}

// A stand-in for a kernel tree: a Makefile that answers what kbuild::Build
// asks for, out of tree (O=), and fails to compile when broken.c is there.
constexpr const char* kFakeKernelMakefile = R"MK(
O ?= .
.PHONY: tinyconfig olddefconfig all image_name kernelrelease modules_install headers kselftest-install
tinyconfig:
	@mkdir -p $(O)
	@printf 'CONFIG_TINY=y\nCONFIG_MODULES=y\n' > $(O)/.config
olddefconfig:
	@true
all:
	@echo "  CC      kernel/a.o"
	@if [ -f $(CURDIR)/broken.c ]; then \
	  echo "kernel/broken.c:3:5: error: 'x' undeclared (first use in this function)"; \
	  echo "make[2]: *** [scripts/Makefile.build:229: kernel/broken.o] Error 1"; exit 2; fi
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
	@mkdir -p $(INSTALL_PATH) && for t in $(TARGETS); do echo "$$t:t" >> $(INSTALL_PATH)/kselftest-list.txt; done
)MK";

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The vigil test probe that builds the tree: kbuild::Build into the
// directory beside the worktree, then `vigil run` on what it made (the
// vigil here is a script that writes down its arguments).
class BuildTreeProbeTest : public CommandProbeTest {
 protected:
  void SetUp() override {
    CommandProbeTest::SetUp();
    wt_ = dir_ / "vigil-bisect-wt-1";
    WriteFile(wt_ / "Makefile", kFakeKernelMakefile);
    WriteFile(wt_ / "Kconfig", "");
    fs::create_directories(wt_ / "tools/testing/selftests/demo");
    WriteFile(dir_ / "fake-vigil", "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$ARGS_FILE\"\n");
    fs::permissions(dir_ / "fake-vigil", fs::perms::owner_all);
    setenv("ARGS_FILE", (dir_ / "args").c_str(), 1);
    o_.vigil_test = "demo:t";
    o_.vigil_exe = (dir_ / "fake-vigil").string();
    o_.build_tree = true;
    o_.build_options.base_config = "tinyconfig";
    o_.build_options.vm_fragment = false;
    o_.build_options.ccache = false;
    o_.build_options.jobs = 1;
    o_.build_options.collections = {"demo"};
    if (!kbuild::CheckBuildEnvironment(o_.build_options).ok()) GTEST_SKIP() << "no kernel build environment";
  }
  fs::path wt_;
  ProbeOptions o_;
};

TEST_F(BuildTreeProbeTest, BuildsBesideTheWorktreeAndBootsTheKernelModulesAndTestsItBuilt) {
  auto probe = MakeProbe(o_);
  auto built = probe->Build(wt_.string(), "c1");
  ASSERT_TRUE(built.ok()) << built.status().message();
  ASSERT_TRUE(*built) << probe->BuildFailure();
  fs::path out = BisectBuildDir(wt_.string(), "normal");
  EXPECT_EQ(out, dir_ / "vigil-bisect-wt-1/.vigil-build-normal");
  EXPECT_TRUE(fs::exists(out / "kselftest_install/kselftest-list.txt"));
  auto run = probe->Run(wt_.string(), "c1");
  ASSERT_TRUE(run.ok()) << run.status().message();
  std::string args = ReadFile(dir_ / "args");
  std::string real = fs::canonical(out).string();
  EXPECT_NE(args.find("--tests\n" + real + "/kselftest_install\n"), std::string::npos) << args;
  EXPECT_NE(args.find("-t\ndemo:t\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--kernel\n" + real + "/arch/x86/boot/bzImage\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--modules\n" + real + "/.vigil/staging/lib/modules/1.0.0-fake\n"), std::string::npos)
      << args;
  // The fake vigil recorded no run: the test did not run, untestable.
  EXPECT_EQ(run->outcome, Outcome::kSkip);
  EXPECT_FALSE(run->cannot_start.empty());
}

TEST_F(BuildTreeProbeTest, ACommitThatDoesNotCompileIsNotBuiltAndSaysWhy) {
  WriteFile(wt_ / "broken.c", "");
  auto probe = MakeProbe(o_);
  auto built = probe->Build(wt_.string(), "c1");
  ASSERT_TRUE(built.ok()) << built.status().message();
  EXPECT_FALSE(*built);
  EXPECT_NE(probe->BuildFailure().find("kernel/broken.o"), std::string::npos) << probe->BuildFailure();
  EXPECT_NE(probe->BuildFailure().find("build.log"), std::string::npos) << probe->BuildFailure();
  // Nothing to boot: the run is refused rather than booting an older build.
  EXPECT_FALSE(probe->Run(wt_.string(), "c1").ok());
}

TEST_F(BuildTreeProbeTest, EachBuildIsRecordedInTheBisectionsStore) {
  auto db = store::Store::Open((dir_ / "bisect.db").string());
  ASSERT_TRUE(db.ok()) << db.status().message();
  auto probe = MakeProbe(o_);
  probe->RecordBuildsIn(**db);
  auto built = probe->Build(wt_.string(), "c1");
  ASSERT_TRUE(built.ok() && *built) << probe->BuildFailure();
  WriteFile(wt_ / "broken.c", "");
  built = probe->Build(wt_.string(), "c2");
  ASSERT_TRUE(built.ok());
  EXPECT_FALSE(*built);
  auto builds = (*db)->ListBuilds({});
  ASSERT_TRUE(builds.ok());
  ASSERT_EQ(builds->size(), 2u);
  EXPECT_EQ((*builds)[0].status, "failed");  // newest first
  EXPECT_EQ((*builds)[1].status, "built");
  EXPECT_NE((*builds)[0].command.find("at c2"), std::string::npos) << (*builds)[0].command;
  EXPECT_EQ((*builds)[1].output_dir, fs::canonical(BisectBuildDir(wt_.string(), "normal")).string());
  auto diagnostics = (*db)->LoadBuildDiagnostics((*builds)[0].id);
  ASSERT_TRUE(diagnostics.ok());
  bool compiler_error = false;
  for (const auto& d : *diagnostics) compiler_error |= d.file == "kernel/broken.c" && d.severity == "error";
  EXPECT_TRUE(compiler_error);
}

TEST_F(BuildTreeProbeTest, EachBuildIsKeptAndRestoredWithoutBuildingAgain) {
  auto probe = MakeProbe(o_);
  auto built = probe->Build(wt_.string(), "aaaa");
  ASSERT_TRUE(built.ok() && *built) << probe->BuildFailure();
  // The next commit's build overwrites the output directory ...
  WriteFile(wt_ / "Makefile", std::string(kFakeKernelMakefile) + "\n");
  built = probe->Build(wt_.string(), "bbbb");
  ASSERT_TRUE(built.ok() && *built) << probe->BuildFailure();
  // ... but aaaa's kernel, modules and kselftests were kept.
  fs::path kept = KeptBuildDir(wt_.string(), "normal", "aaaa");
  EXPECT_EQ(kept, dir_ / "vigil-bisect-wt-1/.vigil-build-normal-kept/aaaa");
  fs::remove(wt_ / "Makefile");  // a build now would fail
  ASSERT_TRUE(probe->Restore(wt_.string(), "aaaa"));
  auto run = probe->Run(wt_.string(), "aaaa");
  ASSERT_TRUE(run.ok()) << run.status().message();
  std::string args = ReadFile(dir_ / "args");
  std::string real = kept.string();
  EXPECT_NE(args.find("--tests\n" + real + "/tests\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--kernel\n" + real + "/kernel/bzImage\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--modules\n" + real + "/modules/1.0.0-fake\n"), std::string::npos) << args;
  EXPECT_TRUE(fs::exists(kept / "tests/kselftest-list.txt"));
  EXPECT_TRUE(fs::exists(kept / "modules/1.0.0-fake/modules.dep"));
  // Nothing kept for a commit never built, or one that is not a commit name.
  EXPECT_FALSE(probe->Restore(wt_.string(), "cccc"));
  EXPECT_FALSE(probe->Restore(wt_.string(), "../aaaa"));
  // Nor what another probe (or a checkout) left in the directory.
  fs::create_directories(KeptBuildDir(wt_.string(), "normal", "dddd"));
  fs::copy(kept, KeptBuildDir(wt_.string(), "normal", "dddd"), fs::copy_options::recursive);
  EXPECT_FALSE(MakeProbe(o_)->Restore(wt_.string(), "dddd"));
  EXPECT_FALSE(probe->Restore(wt_.string(), "dddd"));
  // A kept build that lost a part is not used.
  fs::remove_all(kept / "tests");
  EXPECT_FALSE(probe->Restore(wt_.string(), "aaaa"));
}

TEST_F(BuildTreeProbeTest, ABuildThereIsNoRoomToKeepIsSaidOnce) {
  o_.keep_free_bytes = UINTMAX_MAX / 4;  // more than any disk has free
  auto probe = MakeProbe(o_);
  for (const char* commit : {"aaaa", "bbbb"}) {
    auto built = probe->Build(wt_.string(), commit);
    ASSERT_TRUE(built.ok() && *built) << probe->BuildFailure();
    EXPECT_FALSE(probe->HasKept(commit));
  }
  EXPECT_FALSE(fs::exists(KeptBuildDir(wt_.string(), "normal", "aaaa")));
  // Both built and neither kept; one warning says so (and is taken once).
  std::vector<std::string> said = probe->TakeWarnings();
  ASSERT_EQ(said.size(), 1u);
  EXPECT_NE(said[0].find("the build of aaaa is not kept, nor the next ones"), std::string::npos) << said[0];
  EXPECT_NE(said[0].find("GiB free in"), std::string::npos) << said[0];
  EXPECT_TRUE(probe->TakeWarnings().empty());
}

TEST_F(BuildTreeProbeTest, OnlyTheMostRecentlyUsedBuildsAreKept) {
  auto probe = MakeProbe(o_);
  auto name = [](int i) { return fmt::format("{:04x}", i); };
  for (int i = 0; i <= kKeptBuilds; ++i) {
    auto built = probe->Build(wt_.string(), name(i));
    ASSERT_TRUE(built.ok() && *built) << probe->BuildFailure();
    // The first, used again after the others were built, outlives the second.
    if (i == kKeptBuilds - 1) {
      ASSERT_TRUE(probe->Restore(wt_.string(), name(0)));
    }
  }
  int kept = 0;
  for (auto it = fs::directory_iterator(fs::path(KeptBuildDir(wt_.string(), "normal", "x")).parent_path());
       it != fs::directory_iterator(); ++it)
    ++kept;
  EXPECT_EQ(kept, kKeptBuilds);
  EXPECT_TRUE(probe->Restore(wt_.string(), name(0)));
  EXPECT_FALSE(probe->Restore(wt_.string(), name(1)));
  EXPECT_TRUE(probe->Restore(wt_.string(), name(kKeptBuilds)));
}

TEST_F(BuildTreeProbeTest, ATreeThatCannotBeBuiltAtAllIsAnErrorNotAnUntestableCommit) {
  fs::remove(wt_ / "Kconfig");
  auto built = MakeProbe(o_)->Build(wt_.string(), "c1");
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.status().message().find("not a kernel source tree"), std::string::npos)
      << built.status().message();
}

TEST(ProbeCommandLineTest, ABuildTreeProbeSaysHowToBuildAndRunItByHand) {
  ProbeOptions o;
  o.vigil_test = "net/mptcp:mptcp_join.sh:add addr";
  o.build_tree = true;
  o.build_options.collections = {"net/mptcp"};
  o.build_options.variant.name = "debug";
  EXPECT_EQ(ProbeCommandLine(o),
            "vigil build --tree . -c net/mptcp --variant debug && vigil run -t net/mptcp:mptcp_join.sh "
            "--kernel KERNEL "
            "--modules MODULES --tests TESTS (as vigil build prints them)");
  // What changes the kernel built is in it.
  o.build_options.base_config = "tinyconfig";
  o.build_options.config_files = {"my frag.config"};
  o.build_options.set = {"CONFIG_KASAN=y"};
  o.build_options.jobs = 8;
  std::string line = ProbeCommandLine(o);
  EXPECT_EQ(line.substr(0, line.find(" && ")),
            "vigil build --tree . -c net/mptcp --base-config tinyconfig --config 'my frag.config' --set "
            "CONFIG_KASAN=y "
            "--variant debug");
}

}  // namespace
}  // namespace vigil::engine
