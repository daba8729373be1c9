#include "engine/bisect_probe.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "base/text.h"
#include "engine/kernel_build.h"
#include "judge/outcome.h"
#include "store/store.h"
#include "sys/process.h"

namespace vigil::engine {
namespace {

namespace fs = std::filesystem;

// `path` as given when absolute, else inside the worktree.
std::string InWorktree(const std::string& wt, const std::string& path) {
  return path[0] == '/' ? path : wt + "/" + path;
}

// The last (or first) line of `output` that is not blank, cut at 200 bytes
// and safe for a terminal: what a program said about why it stopped.
std::string OneLine(const std::string& output, bool last) {
  std::vector<std::string_view> lines;
  ForEachLine(output, [&](std::string_view l) {
    if (l.find_first_not_of(" \t\r") != std::string_view::npos) lines.push_back(l);
  });
  if (lines.empty()) return "";
  std::string_view l = last ? lines.back() : lines.front();
  return SanitizeForTerminal(l.substr(0, 200));
}

class ProbeBase : public Probe {
 public:
  explicit ProbeBase(ProbeOptions o) : o_(std::move(o)) {}

  Result<bool> Build(const std::string& worktree, const std::string&) override {
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
  // `output` gets what it printed.
  Result<ProbeRun> Start(std::vector<std::string> argv, const std::string& worktree,
                         const std::string& commit, std::string* output) {
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
    *output = std::move(r->output);
    return p;
  }

  ProbeOptions o_;
};

// git bisect run's convention.
class CommandProbe final : public ProbeBase {
 public:
  using ProbeBase::ProbeBase;

  Result<ProbeRun> Run(const std::string& worktree, const std::string& commit) override {
    std::string output;
    auto p = Start(o_.command, worktree, commit, &output);
    if (!p.ok()) return p;
    int code = *p->exit_code;
    if (code >= 128) return Status::Internal(fmt::format("the test exited {} (>= 128: abort)", code));
    if (code == 126 || code == 127) {
      // The shell's (and exec's) "found but not executable" and "not found".
      std::string said = OneLine(output, true);
      p->cannot_start =
          fmt::format("'{}' exited {} ({}){}", SanitizeForTerminal(ProbeCommandLine(o_).substr(0, 200)), code,
                      code == 127 ? "command not found" : "not executable", said.empty() ? "" : ": " + said);
      p->outcome = bisect::Outcome::kSkip;
      return p;
    }
    p->outcome = code == 0     ? bisect::Outcome::kPass
                 : code == 125 ? bisect::Outcome::kSkip
                               : bisect::Outcome::kFail;
    return p;
  }
};

class SilentBuild final : public kbuild::BuildObserver {};

// `vigil run` of one test into a store in the worktree; only the named test
// or subtest (or the crash title) counts. With build_tree, on what the last
// Build made.
class VigilTestProbe final : public ProbeBase {
 public:
  using ProbeBase::ProbeBase;

  Result<bool> Build(const std::string& worktree, const std::string& commit) override {
    if (!o_.build_tree) return ProbeBase::Build(worktree, commit);
    built_ = {};
    failure_.clear();
    kbuild::BuildOptions bo = o_.build_options;
    bo.tree = worktree;
    if (bo.output_dir.empty()) bo.output_dir = BisectBuildDir(worktree, bo.variant.name);
    bo.cancel = o_.cancel;
    if (!environment_checked_) {
      if (Status env = kbuild::CheckBuildEnvironment(bo); !env.ok()) return env;
      environment_checked_ = true;
    }
    SilentBuild silent;
    kbuild::BuildObserver& observer = o_.build_observer ? *o_.build_observer : silent;
    Result<kbuild::BuildResult> r = Status::Internal("not built");
    if (db_) {
      BuildRequest req;
      req.options = bo;
      req.command_line = "vigil bisect run --build-tree (at " + commit + ")";
      req.host = sys::HostName();
      auto out = BuildAndRecord(*db_, req, observer);
      r = out.ok() ? Result<kbuild::BuildResult>(std::move(out->result))
                   : Result<kbuild::BuildResult>(out.status());
    } else {
      r = kbuild::Build(bo, observer);
    }
    if (!r.ok()) return r.status();
    if (r->state != kbuild::BuildResult::State::kBuilt) {
      failure_ = SanitizeForTerminal(r->failure.substr(0, 300));
      if (!r->failed_target.empty())
        failure_ += " (" + SanitizeForTerminal(r->failed_target.substr(0, 200)) + ")";
      if (!r->log.empty()) failure_ += "; the whole output: " + SanitizeForTerminal(r->log);
      return false;
    }
    if (r->kernel.empty() || r->tests.empty())
      return Status::Internal(fmt::format("the build in {} made no {}", r->output_dir,
                                          r->kernel.empty() ? "kernel image" : "kselftests"));
    built_ = std::move(r.value());
    Keep(worktree, commit);
    return true;
  }

  bool HasKept(const std::string& commit) const override { return kept_.count(commit) > 0; }

  std::vector<std::string> TakeWarnings() override { return std::exchange(warnings_, {}); }

  bool Restore(const std::string& worktree, const std::string& commit) override {
    auto it = kept_.find(commit);
    if (it == kept_.end()) return false;
    std::error_code ec;
    const kbuild::BuildResult& b = it->second.build;
    if (!fs::exists(b.kernel, ec) || !fs::exists(b.tests, ec) || (!b.modules.empty() && !fs::exists(b.modules, ec))) {
      fs::remove_all(KeptBuildDir(worktree, o_.build_options.variant.name, commit), ec);
      kept_.erase(it);
      return false;
    }
    it->second.used = ++uses_;
    built_ = b;
    failure_.clear();
    return true;
  }

  std::string BuildFailure() const override { return failure_; }
  void RecordBuildsIn(store::Store& db) override { db_ = &db; }

  Result<ProbeRun> Run(const std::string& worktree, const std::string& commit) override {
    auto [test, sub] = judge::SplitTestPath(o_.vigil_test);
    if (o_.build_tree && built_.kernel.empty()) return Status::Internal("nothing built to boot");
    std::string db_path = worktree + "/.vigil-bisect-run.db";
    int64_t before = LatestRun(db_path);
    std::string tests = o_.build_tree          ? built_.tests
                        : o_.tests_dir.empty() ? worktree
                                               : InWorktree(worktree, o_.tests_dir);
    std::vector<std::string> argv = {o_.vigil_exe.empty() ? sys::SelfExe() : o_.vigil_exe,
                                     "run",
                                     "--tests",
                                     tests,
                                     "-t",
                                     test,
                                     "--db",
                                     db_path,
                                     "--color",
                                     "never"};
    if (o_.build_tree) {
      argv.push_back("--kernel");
      argv.push_back(built_.kernel);
      if (!built_.modules.empty()) {
        argv.push_back("--modules");
        argv.push_back(built_.modules);
      }
    } else if (!o_.kernel.empty()) {
      argv.push_back("--kernel");
      argv.push_back(InWorktree(worktree, o_.kernel));
    }
    std::string output;
    auto p = Start(std::move(argv), worktree, commit, &output);
    if (!p.ok()) return p;
    Judge(db_path, before, test, sub, &*p);
    if (!p->cannot_start.empty()) {
      std::string said = OneLine(output, false);
      if (!said.empty()) p->cannot_start += ": " + said;
    }
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

  // What the run newer than `before` says about the test, into `p`:
  // cannot_start (skip) when vigil did not run it.
  void Judge(const std::string& db_path, int64_t before, const std::string& test, const std::string& sub,
             ProbeRun* p) {
    p->outcome = bisect::Outcome::kSkip;
    std::string not_run = fmt::format("vigil run did not run {} (exit {})", SanitizeForTerminal(test),
                                      p->exit_code ? std::to_string(*p->exit_code) : "-");
    std::error_code ec;
    std::unique_ptr<store::Store> db;
    if (std::filesystem::exists(db_path, ec)) {
      auto opened = store::Store::Open(db_path);
      if (opened.ok()) db = std::move(opened.value());
    }
    auto run = db ? db->LatestRun() : Result<int64_t>(Status::NotFound(""));
    if (!run.ok() || run.value() <= before) {
      p->cannot_start = not_run;
      return;
    }
    auto all = db->LoadAttempts(run.value());
    if (!all.ok()) {
      p->cannot_start = not_run;
      return;
    }
    std::vector<model::AttemptRecord> attempts;
    for (auto& a : all.value()) {
      if (a.test_path == test) attempts.push_back(std::move(a));
    }
    if (attempts.empty()) {
      p->cannot_start = fmt::format("no test {} in the tree", SanitizeForTerminal(test));
      return;
    }
    JudgeAttempts(test, sub, o_.crash_title, attempts, p);
  }

  // A commit as git names it (hex): the only names a kept build is filed under.
  static bool KeepableCommit(const std::string& commit) {
    return !commit.empty() && commit.size() <= 64 && std::all_of(commit.begin(), commit.end(), [](char c) {
             return std::isxdigit(static_cast<unsigned char>(c));
           });
  }

  // Copies what the build at `commit` made (built_) out of the output
  // directory, which the next build overwrites, and forgets the least
  // recently used kept builds past kKeptBuilds. Only what this probe kept is
  // restored (never what a checkout may have put in the worktree). A copy
  // that fails (no space left) keeps nothing: going back there builds again.
  void Keep(const std::string& worktree, const std::string& commit) {
    if (!KeepableCommit(commit) || built_.kernel.empty() || built_.tests.empty()) return;
    fs::path dir = KeptBuildDir(worktree, o_.build_options.variant.name, commit);
    std::error_code ec;
    // What an earlier process kept is not used: it goes with the first keep.
    if (!swept_) fs::remove_all(dir.parent_path(), ec);
    swept_ = true;
    kept_.erase(commit);
    fs::remove_all(dir, ec);
    // Never at the cost of the next build's space: what is copied, and
    // keep_free_bytes more, must be free.
    uintmax_t bytes = TreeBytes(built_.kernel) + TreeBytes(built_.tests) +
                      (built_.modules.empty() ? 0 : TreeBytes(built_.modules));
    fs::create_directories(dir.parent_path(), ec);
    fs::space_info space = fs::space(dir.parent_path(), ec);
    // Said once: going back to a commit whose build was not kept builds it
    // again, which the user would see as one commit built twice.
    auto not_kept = [&](const std::string& why) {
      if (told_not_kept_) return;
      told_not_kept_ = true;
      warnings_.push_back(fmt::format("the build of {} is not kept{}; going back to such a commit builds it again",
                                      commit.substr(0, 12), why));
    };
    if (ec || space.available < bytes + o_.keep_free_bytes) {
      std::string where = SanitizeForTerminal(dir.parent_path().string());
      not_kept(fmt::format(
          ", nor the next ones while space is short: {} (a kept build takes {:.1f} GiB and {:.1f} GiB must stay "
          "free for the next build)",
          ec ? "cannot tell the free space in " + where + ": " + ec.message()
             : fmt::format("{:.1f} GiB free in {}", static_cast<double>(space.available) / (1 << 30), where),
          static_cast<double>(bytes) / (1 << 30), static_cast<double>(o_.keep_free_bytes) / (1 << 30)));
      return;
    }
    kbuild::BuildResult b;
    b.state = kbuild::BuildResult::State::kBuilt;
    b.commit = commit;
    b.kernel = (dir / "kernel" / fs::path(built_.kernel).filename()).string();
    b.tests = (dir / "tests").string();
    auto tree = fs::copy_options::recursive | fs::copy_options::copy_symlinks;
    bool ok = fs::create_directories(dir / "kernel", ec) && !ec;
    if (ok) ok = fs::copy_file(built_.kernel, b.kernel, ec) && !ec;
    if (ok && !built_.modules.empty()) {
      b.modules = (dir / "modules" / fs::path(built_.modules).filename()).string();
      ok = fs::create_directories(b.modules, ec) && !ec;
      if (ok) fs::copy(built_.modules, b.modules, tree, ec);
      ok = ok && !ec;
    }
    if (ok) {
      fs::copy(built_.tests, b.tests, tree, ec);
      ok = !ec;
    }
    if (!ok) {
      not_kept(": " + ec.message());
      fs::remove_all(dir, ec);
      return;
    }
    kept_[commit] = {std::move(b), ++uses_};
    while (kept_.size() > static_cast<size_t>(kKeptBuilds)) {
      auto oldest = std::min_element(kept_.begin(), kept_.end(),
                                     [](const auto& x, const auto& y) { return x.second.used < y.second.used; });
      fs::remove_all(KeptBuildDir(worktree, o_.build_options.variant.name, oldest->first), ec);
      kept_.erase(oldest);
    }
  }

  // The bytes of the regular files at or under `path` (symlinks not followed).
  static uintmax_t TreeBytes(const fs::path& path) {
    std::error_code ec;
    if (fs::is_regular_file(fs::symlink_status(path, ec))) return fs::file_size(path, ec);
    uintmax_t total = 0;
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      std::error_code fec;
      if (it->is_regular_file(fec) && !it->is_symlink(fec)) total += it->file_size(fec);
    }
    return total;
  }

  struct Kept {
    kbuild::BuildResult build;  // paths in its KeptBuildDir
    uint64_t used = 0;          // when last kept or restored (uses_)
  };
  std::map<std::string, Kept> kept_;
  uint64_t uses_ = 0;
  bool swept_ = false;  // the kept builds' directory was emptied
  bool told_not_kept_ = false;         // a build that could not be kept was said
  std::vector<std::string> warnings_;  // for TakeWarnings()
  bool environment_checked_ = false;
  std::string failure_;
  store::Store* db_ = nullptr;
  kbuild::BuildResult built_;  // what the last Build made (build_tree)
};

}  // namespace

std::string BisectBuildDir(const std::string& worktree, const std::string& variant) {
  return worktree + "/.vigil-build-" + variant;
}

std::string KeptBuildDir(const std::string& worktree, const std::string& variant, const std::string& commit) {
  return BisectBuildDir(worktree, variant) + "-kept/" + commit;
}

void JudgeAttempts(const std::string& test, const std::string& sub, const std::string& crash_title,
                   const std::vector<model::AttemptRecord>& attempts, ProbeRun* p) {
  p->outcome = bisect::Outcome::kSkip;
  p->target_absent.clear();
  bool failed = false;
  if (!crash_title.empty()) {
    for (const auto& a : attempts) {
      for (const auto& c : a.crashes)
        failed |= fnmatch(crash_title.c_str(), SanitizeUtf8(c.title).c_str(), 0) == 0;
    }
  } else if (sub.empty()) {
    // A failure in any attempt is one (retries from a vigil.toml beside
    // the tests would make a flaky failure FLAKY, a pass); a test that
    // skipped (exit 4: a missing option, a tool) said nothing of it.
    for (const auto& a : attempts) failed |= judge::IsFailureName(a.status);
    if (!failed && judge::KindOf(judge::FinalStatus(attempts)) == judge::Kind::kSkip) return;
  } else {
    bool seen = false;
    bool cut = false;  // a result the test planned never came (the parser's CRASH)
    std::vector<model::SubtestRecord> verdicts = judge::SubtestVerdicts(attempts);
    std::string names;
    for (const auto& s : verdicts) {
      std::string path = SanitizeUtf8(s.path);
      if (path == sub) {
        seen = true;
        // FLAKY: it failed in an attempt (see above).
        failed |= judge::IsFailureName(s.status) || s.status == "FLAKY";
        if (!failed && judge::KindOf(s.status) == judge::Kind::kSkip) return;  // skipped: untestable
      } else if (names.size() < 200) {
        names += (names.empty() ? "" : ", ") + SanitizeForTerminal(path);
      }
      cut |= s.status == "CRASH";
    }
    if (!seen) {
      std::string status = judge::FinalStatus(attempts);
      p->target_absent = fmt::format("{} ({}) has no subtest '{}'{}", SanitizeForTerminal(test), status,
                                     SanitizeForTerminal(sub),
                                     names.empty() ? " (it has none)" : " (it has: " + names + ")");
      // The test may not have got to it: it crashed or timed out, a
      // result it planned never came, it failed before any result, or it
      // skipped as a whole (a missing option, a tool). That says nothing
      // of the subtest: untestable. One that ran to its end without it
      // (passed, or failed on others) does not have it (yet): it cannot
      // fail there.
      bool said_nothing = status == "CRASH" || status == "TIMEOUT" || cut ||
                          (judge::IsFailureName(status) && verdicts.empty()) ||
                          judge::KindOf(status) == judge::Kind::kSkip;
      p->outcome = said_nothing ? bisect::Outcome::kSkip : bisect::Outcome::kPass;
      return;
    }
  }
  p->outcome = failed ? bisect::Outcome::kFail : bisect::Outcome::kPass;
}

std::string ProbeCommandLine(const ProbeOptions& o) {
  std::vector<std::string> argv = o.command;
  if (!o.vigil_test.empty() && o.build_tree) {
    // What the probe does, as the commands a person types: the build prints
    // the paths of what it made (its "run it:" line).
    std::string line = "vigil build --tree .";
    const kbuild::BuildOptions& b = o.build_options;
    for (const auto& c : b.collections) line += " -c " + ShellQuote(c);
    if (b.base_config != "defconfig") line += " --base-config " + ShellQuote(b.base_config);
    for (const auto& c : b.config_files) line += " --config " + ShellQuote(c);
    for (const auto& x : b.set) line += " --set " + ShellQuote(x);
    if (!b.vm_fragment) line += " --no-vm-fragment";
    if (b.variant.name != "normal") line += " --variant " + ShellQuote(b.variant.name);
    return line + " && vigil run -t " + ShellQuote(judge::SplitTestPath(o.vigil_test).first) +
           " --kernel KERNEL --modules MODULES --tests TESTS (as vigil build prints them)";
  }
  if (!o.vigil_test.empty()) {
    argv = {"vigil",   "run",
            "--tests", o.tests_dir.empty() ? "." : o.tests_dir,
            "-t",      judge::SplitTestPath(o.vigil_test).first};
    if (!o.kernel.empty()) {
      argv.push_back("--kernel");
      argv.push_back(o.kernel);
    }
  }
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + ShellQuote(a);
  return line;
}

std::unique_ptr<Probe> MakeProbe(ProbeOptions options) {
  if (options.vigil_test.empty()) return std::make_unique<CommandProbe>(std::move(options));
  return std::make_unique<VigilTestProbe>(std::move(options));
}

}  // namespace vigil::engine
