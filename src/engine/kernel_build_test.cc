#include "engine/kernel_build.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "report/record_json.h"
#include "store/memory_store.h"

namespace vigil::engine {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << text;
}

// A stand-in for kbuild whose `all` prints what diag.txt holds, as an
// incremental build prints the warnings of only what it compiled again.
constexpr const char* kMakefile = R"MK(
O ?= .
.PHONY: tinyconfig olddefconfig all image_name kernelrelease headers
tinyconfig:
	@mkdir -p $(O)
	@printf 'CONFIG_TINY=y\n' > $(O)/.config
olddefconfig:
	@true
all:
	@cat $(CURDIR)/diag.txt
	@mkdir -p $(O)/arch/x86/boot && touch $(O)/arch/x86/boot/bzImage $(O)/vmlinux
image_name:
	@echo arch/x86/boot/bzImage
kernelrelease:
	@echo 1.0.0-fake
headers:
	@mkdir -p $(O)/usr/include
)MK";

struct Quiet : kbuild::BuildObserver {
  void Phase(std::string_view) override {}
  void Step(std::string_view, int64_t) override {}
};

TEST(BuildAndRecord, NewWarningsAreAgainstWhatTheOutputDirectorysEarlierBuildsReported) {
  if (system("command -v make >/dev/null && command -v gcc >/dev/null") != 0) GTEST_SKIP() << "no make or gcc";
  fs::path dir = fs::temp_directory_path() / fmt::format("vigil-kernel-build-test-{}", getpid());
  fs::remove_all(dir);
  Write(dir / "linux/Makefile", kMakefile);
  Write(dir / "linux/Kconfig", "");
  auto db = store::NewMemoryStore();
  BuildRequest req;
  req.options.tree = (dir / "linux").string();
  req.options.output_dir = (dir / "out").string();
  req.options.base_config = "tinyconfig";
  req.options.vm_fragment = false;
  req.options.ccache = false;
  req.options.jobs = 1;
  req.compare_to = "auto";
  Quiet quiet;
  auto build = [&](const std::string& diagnostics) {
    Write(dir / "linux/diag.txt", diagnostics);
    auto out = BuildAndRecord(*db, req, quiet);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : BuildOutcome{};
  };
  const std::string a = "kernel/a.c:7:9: warning: unused variable 'y' [-Wunused-variable]\n";
  const std::string b = "kernel/b.c:3:5: warning: unused variable 'z' [-Wunused-variable]\n";
  build(a);                        // cold: a.c warns
  build("");                       // nothing compiled again
  BuildOutcome third = build(a + b);  // a.c and b.c compiled: only b.c's is new
  ASSERT_EQ(third.new_diagnostics.size(), 1u);
  EXPECT_EQ(third.new_diagnostics[0].file, "kernel/b.c");
  // One more copy of a warning than any earlier build had is new.
  BuildOutcome fourth = build(a + a + b);
  ASSERT_EQ(fourth.new_diagnostics.size(), 1u);
  EXPECT_EQ(fourth.new_diagnostics[0].file, "kernel/a.c");
  fs::remove_all(dir);
}

// vigil watch builds every series and base in one directory. A series' v1
// brought a warning; the base moved on; v2 brings the same warning: it is
// new against the base (before, v1's build counted as the base's).
TEST(BuildAndRecord, AnEarlierSeriesBuildIsNotTheBases) {
  if (system("command -v make >/dev/null && command -v gcc >/dev/null && command -v git >/dev/null") != 0)
    GTEST_SKIP() << "no make, gcc or git";
  fs::path dir = fs::temp_directory_path() / fmt::format("vigil-kernel-build-series-{}", getpid());
  fs::remove_all(dir);
  const fs::path tree = dir / "linux";
  Write(tree / "Makefile", kMakefile);
  Write(tree / "Kconfig", "");
  auto git = [&](const std::string& args) {
    std::string cmd = fmt::format("git -C {} -c user.name=t -c user.email=t@e {} >/dev/null 2>&1", tree.string(), args);
    EXPECT_EQ(system(cmd.c_str()), 0) << cmd;
  };
  git("init -q -b main");
  Write(tree / ".gitignore", "diag.txt\n");
  git("add -A");
  git("commit -q -m base");
  auto db = store::NewMemoryStore();
  BuildRequest req;
  req.options.tree = tree.string();
  req.options.output_dir = (dir / "out").string();
  req.options.base_config = "tinyconfig";
  req.options.vm_fragment = false;
  req.options.ccache = false;
  req.options.jobs = 1;
  Quiet quiet;
  auto build = [&](const std::string& diagnostics, int64_t compare_to) {
    Write(tree / "diag.txt", diagnostics);
    req.compare_to = compare_to ? std::to_string(compare_to) : "";
    auto out = BuildAndRecord(*db, req, quiet);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : BuildOutcome{};
  };
  const std::string a = "kernel/a.c:7:9: warning: unused variable 'y' [-Wunused-variable]\n";
  const std::string b = "kernel/b.c:3:5: warning: unused variable 'z' [-Wunused-variable]\n";
  int64_t base = build(a, 0).build_id;  // the base, cold: a.c warns
  git("checkout -q -b series1");
  Write(tree / "kernel/b.c", "v1\n");
  git("add -A");
  git("commit -q -m series-v1");
  EXPECT_EQ(build(b, base).new_diagnostics.size(), 1u);  // v1: b.c's warning is new
  git("checkout -q main");
  Write(tree / "kernel/c.c", "moved on\n");
  git("add -A");
  git("commit -q -m base2");
  int64_t base2 = build("", base).build_id;  // the base moved on: b.c compiled again, clean
  git("checkout -q -b series2");
  Write(tree / "kernel/b.c", "v2\n");
  git("add -A");
  git("commit -q -m series-v2");
  BuildOutcome v2 = build(b, base2);
  ASSERT_EQ(v2.new_diagnostics.size(), 1u) << "v1's build taken for the base's";
  EXPECT_EQ(v2.new_diagnostics[0].file, "kernel/b.c");
  // The base's own history still counts: a.c's warning (the first base
  // build's, not compiled again since) is not new.
  BuildOutcome again = build(a + b, base2);
  ASSERT_EQ(again.new_diagnostics.size(), 1u);
  EXPECT_EQ(again.new_diagnostics[0].file, "kernel/b.c");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::engine

namespace vigil::engine {
namespace {

// A diagnostic's notes ("declared here", "in expansion of macro") reach the
// JSON that `vigil build --json` and the dashboard write, in one shape.
TEST(BuildDiagnostics, NotesAreKeptInTheJson) {
  kbuild::Diagnostic d;
  d.file = "net/x.c";
  d.line = 12;
  d.column = 7;
  d.severity = kbuild::Severity::kWarning;
  d.message = "unused variable 'y'";
  d.flag = "-Wunused-variable";
  d.notes.push_back({"include/x.h", 3, 5, "in expansion of macro 'X'"});
  d.notes.push_back({"", 0, 0, "each undeclared identifier is reported only once"});
  auto records = DiagnosticRecordsOf({d});
  ASSERT_EQ(records.size(), 1u);
  nlohmann::json j = report::DiagnosticJson(records[0]);
  EXPECT_EQ(j["file"], "net/x.c");
  EXPECT_EQ(j["line"], 12);
  EXPECT_EQ(j["severity"], "warning");
  EXPECT_EQ(j["flag"], "-Wunused-variable");
  EXPECT_EQ(j["notes"], nlohmann::json::array({"include/x.h:3:5: in expansion of macro 'X'",
                                               "each undeclared identifier is reported only once"}));
}

}  // namespace
}  // namespace vigil::engine
