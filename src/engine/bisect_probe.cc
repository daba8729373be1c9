#include "engine/bisect_probe.h"

#include <fnmatch.h>

#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "base/text.h"
#include "judge/outcome.h"
#include "store/store.h"
#include "sys/process.h"

namespace vigil::engine {
namespace {

// `path` as given when absolute, else inside the worktree.
std::string InWorktree(const std::string& wt, const std::string& path) {
  return path[0] == '/' ? path : wt + "/" + path;
}

class ProbeBase : public Probe {
 public:
  explicit ProbeBase(ProbeOptions o) : o_(std::move(o)) {}

  bool Build(const std::string& worktree, const std::string&) override {
    if (o_.build.empty()) return true;
    sys::ProcessOptions bo;
    bo.argv = {"/bin/sh", "-c", o_.build};
    bo.cwd = worktree;
    bo.env = sys::CurrentEnvironment();
    bo.cancel = o_.cancel;
    auto br = sys::RunProcess(bo);
    return br.ok() && br->status.exited() && br->status.exit_code() == 0;
  }

 protected:
  // Runs `argv` in the worktree: how it ended, or an error when it could not
  // start or did not exit (killed by a signal).
  Result<ProbeRun> Start(std::vector<std::string> argv, const std::string& worktree,
                         const std::string& commit) {
    sys::ProcessOptions o;
    o.argv = std::move(argv);
    o.cwd = worktree;
    o.env = sys::CurrentEnvironment();
    o.env.push_back("VIGIL_BISECT_COMMIT=" + commit);
    o.cancel = o_.cancel;
    auto r = sys::RunProcess(o);
    if (!r.ok()) return r.status();
    if (r->cancelled) return Status::Internal("the test was stopped (vigil was cancelled)");
    if (!r->status.exited())
      return Status::Internal(fmt::format("the test was killed by {}", r->status.ToString()));
    ProbeRun p;
    p.duration_ms = r->duration_ms;
    p.exit_code = r->status.exit_code();
    return p;
  }

  ProbeOptions o_;
};

// git bisect run's convention.
class CommandProbe final : public ProbeBase {
 public:
  using ProbeBase::ProbeBase;

  Result<ProbeRun> Run(const std::string& worktree, const std::string& commit) override {
    auto p = Start(o_.command, worktree, commit);
    if (!p.ok()) return p;
    int code = *p->exit_code;
    if (code >= 128) return Status::Internal(fmt::format("the test exited {} (>= 128: abort)", code));
    p->outcome = code == 0     ? bisect::Outcome::kPass
                 : code == 125 ? bisect::Outcome::kSkip
                               : bisect::Outcome::kFail;
    return p;
  }
};

// `vigil run` of one test into a store in the worktree; only the named test
// or subtest (or the crash title) counts.
class VigilTestProbe final : public ProbeBase {
 public:
  using ProbeBase::ProbeBase;

  Result<ProbeRun> Run(const std::string& worktree, const std::string& commit) override {
    auto [test, sub] = judge::SplitTestPath(o_.vigil_test);
    std::string db_path = worktree + "/.vigil-bisect-run.db";
    int64_t before = LatestRun(db_path);
    std::vector<std::string> argv = {o_.vigil_exe.empty() ? sys::SelfExe() : o_.vigil_exe,
                                     "run",
                                     "--tests",
                                     o_.tests_dir.empty() ? worktree : InWorktree(worktree, o_.tests_dir),
                                     "-t",
                                     test,
                                     "--db",
                                     db_path,
                                     "--color",
                                     "never"};
    if (!o_.kernel.empty()) {
      argv.push_back("--kernel");
      argv.push_back(InWorktree(worktree, o_.kernel));
    }
    auto p = Start(std::move(argv), worktree, commit);
    if (!p.ok()) return p;
    p->outcome = Judge(db_path, before, test, sub);
    return p;
  }

 private:
  // The newest run in the store at `path`; 0 when there is none.
  static int64_t LatestRun(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return 0;
    auto db = store::Store::Open(path);
    if (!db.ok()) return 0;
    auto latest = (*db)->LatestRun();
    return latest.ok() ? latest.value() : 0;
  }

  // What the run newer than `before` says about the test; skip (untestable
  // here) when vigil could not run it.
  bisect::Outcome Judge(const std::string& db_path, int64_t before, const std::string& test,
                        const std::string& sub) {
    std::error_code ec;
    if (!std::filesystem::exists(db_path, ec)) return bisect::Outcome::kSkip;
    auto db = store::Store::Open(db_path);
    if (!db.ok()) return bisect::Outcome::kSkip;
    auto run = (*db)->LatestRun();
    if (!run.ok() || run.value() <= before) return bisect::Outcome::kSkip;
    auto all = (*db)->LoadAttempts(run.value());
    if (!all.ok()) return bisect::Outcome::kSkip;
    std::vector<model::AttemptRecord> attempts;
    for (auto& a : all.value()) {
      if (a.test_path == test) attempts.push_back(std::move(a));
    }
    if (attempts.empty()) return bisect::Outcome::kSkip;
    bool failed = false;
    if (!o_.crash_title.empty()) {
      for (const auto& a : attempts) {
        for (const auto& c : a.crashes)
          failed |= fnmatch(o_.crash_title.c_str(), SanitizeUtf8(c.title).c_str(), 0) == 0;
      }
    } else if (sub.empty()) {
      failed = judge::IsFailureName(judge::FinalStatus(attempts));
    } else {
      for (const auto& s : judge::SubtestVerdicts(attempts)) {
        if (SanitizeUtf8(s.path) == sub) failed |= judge::IsFailureName(s.status);
      }
    }
    return failed ? bisect::Outcome::kFail : bisect::Outcome::kPass;
  }
};

}  // namespace

std::unique_ptr<Probe> MakeProbe(ProbeOptions options) {
  if (options.vigil_test.empty()) return std::make_unique<CommandProbe>(std::move(options));
  return std::make_unique<VigilTestProbe>(std::move(options));
}

}  // namespace vigil::engine
