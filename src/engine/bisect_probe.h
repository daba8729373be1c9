// What runs the test at one commit of a bisection and says pass, fail or
// skip: a shell command with git bisect run's exit codes, or one vigil test
// (a `vigil run` whose records are read back from its store), booted on the
// kernel the probe built at that commit when it builds the tree.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "bisect/search.h"
#include "kbuild/build.h"
#include "model/records.h"
#include "sys/cancel.h"

namespace vigil::store {
class Store;
}

namespace vigil::engine {

struct ProbeRun {
  bisect::Outcome outcome = bisect::Outcome::kPass;
  std::optional<int> exit_code;
  int64_t duration_ms = 0;
  // Not empty: the test could not be started at this commit (why: command
  // not found or not executable, no such vigil test in the tree); the
  // outcome is skip. At an end of the bisection it is an error.
  std::string cannot_start;
  // Not empty: the test ran but the subtest the probe judges did not appear
  // in its results: what did instead. The outcome is pass when the test ran
  // to its end (the subtest is not there yet), skip when it stopped before
  // (JudgeAttempts). At the bad end of a bisection it is an error (a name
  // that matches nothing would make every commit pass).
  std::string target_absent;
};

// What a --vigil-test probe's attempts of `test` (one run's) say, into
// p->outcome and p->target_absent: with `crash_title`, whether a kernel report
// of that title came; else whether `sub` (a subtest path; "" for the test
// itself) failed in any attempt. Skip when they say nothing of it: the test
// or the subtest skipped, or the test stopped before the subtest (crash,
// timeout, a planned result missing, no result at all).
void JudgeAttempts(const std::string& test, const std::string& sub, const std::string& crash_title,
                   const std::vector<model::AttemptRecord>& attempts, ProbeRun* p);

class Probe {
 public:
  virtual ~Probe() = default;
  // Builds what `worktree` holds (checked out at `commit`); false when it
  // does not build, which makes the commit untestable; an error when the
  // build cannot be attempted (the environment lacks a tool), which ends
  // the bisection (it resumes once that is fixed).
  virtual Result<bool> Build(const std::string& worktree, const std::string& commit) = 0;
  // One run of the test at `commit` in `worktree`; an error ends the
  // bisection (the runs so far stay recorded: it resumes).
  virtual Result<ProbeRun> Run(const std::string& worktree, const std::string& commit) = 0;
  // Why the last Build returned false, in one line (where its whole output
  // is); "" when the probe cannot say.
  virtual std::string BuildFailure() const { return ""; }
  // Where the probe records the builds it makes (`db` outlives its use);
  // by default it records none.
  virtual void RecordBuildsIn(store::Store& /*db*/) {}
  // Makes what an earlier Build at `commit` made, kept since, what the next
  // runs use, with no checkout and no build; false when nothing was kept
  // (then the caller checks out and builds). By default nothing is kept.
  virtual bool Restore(const std::string& /*worktree*/, const std::string& /*commit*/) { return false; }
  // Whether Restore would bring back a build of `commit` now.
  virtual bool HasKept(const std::string& /*commit*/) const { return false; }
  // What the probe has to say since the last call (a build it could not
  // keep), each a line for the user; none by default.
  virtual std::vector<std::string> TakeWarnings() { return {}; }
};

struct ProbeOptions {
  std::string build;                 // shell command run after each checkout; "" none
  std::vector<std::string> command;  // the test command, or empty for ...
  std::string vigil_test;            // ... this vigil test (COLLECTION:TEST[:SUBTEST])
  std::string tests_dir;             // its kselftest tree (relative to the worktree)
  std::string kernel;                // boot this kernel (relative to the worktree)
  std::string crash_title;           // count only kernel reports with this title glob
  std::string vigil_exe;             // the vigil that runs it; "" this one
  // With a vigil test: build the worktree as a kernel tree at each commit
  // (kbuild::Build, incrementally in one output directory) and boot what it
  // built: its kernel, modules and installed kselftests (instead of
  // kernel/tests_dir). build_options.tree is the worktree; an empty
  // build_options.output_dir is BisectBuildDir(worktree, variant).
  bool build_tree = false;
  kbuild::BuildOptions build_options;
  kbuild::BuildObserver* build_observer = nullptr;  // the builds' progress; null: none
  // A build is kept only where this much stays free after the copy (the
  // next build needs room more than an old one needs keeping).
  uintmax_t keep_free_bytes = uintmax_t{2} << 30;
  // Raised: the build or test running is terminated as on a timeout (not
  // recorded with the bisection).
  const sys::Cancellation* cancel = nullptr;
};

// How many builds a probe that builds the tree keeps (the oldest goes first):
// a bisection builds about log2(commits) + 3 commits.
inline constexpr int kKeptBuilds = 24;

// Where such a probe keeps each build, `<worktree>/.vigil-build-<variant>-kept/
// <commit>`: a copy of its kernel image, modules and installed kselftests,
// so that going back to a commit boots them again without building it.
std::string KeptBuildDir(const std::string& worktree, const std::string& variant, const std::string& commit);

// Where a bisection that builds the tree builds by default: in its worktree,
// `<worktree>/.vigil-build-<variant>` (untracked; checkouts keep it, and it
// goes with the worktree). One level below the tree, kbuild's and ccache's
// paths are relative, so ccache's hits survive any worktree location.
std::string BisectBuildDir(const std::string& worktree, const std::string& variant);

// The shell command (each argument quoted) that runs what the probe runs, at
// the top of a checkout: the test command, or `vigil run --tests DIR -t TEST`.
std::string ProbeCommandLine(const ProbeOptions& options);

// The command probe (exit 0 pass, 125 skip, 1-127 fail, >= 128 or a signal:
// abort; 126 and 127, the shell's "not executable" and "not found", fill
// cannot_start) or, with a vigil test, the vigil run probe (only the named test or
// subtest, or the crash title, counts; no result for it: cannot_start); with
// build_tree, its Build is a kernel build (a build that fails: false; one
// that cannot be attempted: the error), recorded with its diagnostics in the
// store RecordBuildsIn gave (engine::BuildAndRecord), and kept (Restore).
std::unique_ptr<Probe> MakeProbe(ProbeOptions options);

}  // namespace vigil::engine
