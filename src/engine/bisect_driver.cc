#include "engine/bisect_driver.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "base/hash.h"
#include "base/json.h"
#include "base/text.h"
#include "store/postgres.h"
#include "sys/file_lock.h"

namespace vigil::engine {
namespace {

bisect::Outcome OutcomeOf(const std::string& name) {
  return name == "fail"   ? bisect::Outcome::kFail
         : name == "skip" ? bisect::Outcome::kSkip
                          : bisect::Outcome::kPass;
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// Whether the probe builds at each commit (a build command, or the tree).
bool Builds(const BisectRequest& r) { return !r.probe.build.empty() || r.probe.build_tree; }

// The build directories in worktree `wt` (the default of a bisection that
// builds the tree) go with it, also when git left the worktree behind; a
// failure reaches `observer`.
void RemoveBuildDir(const std::string& wt, BisectObserver& observer) {
  std::string prefix = std::filesystem::path(BisectBuildDir(wt, "")).filename().string();
  std::error_code ec;
  if (!std::filesystem::is_directory(wt, ec)) return;
  for (const auto& e : std::filesystem::directory_iterator(wt, ec)) {
    if (e.path().filename().string().rfind(prefix, 0) != 0) continue;
    std::error_code rm;
    std::filesystem::remove_all(e.path(), rm);
    if (rm) observer.Warning(fmt::format("the build directory {} stays: {}", e.path().string(), rm.message()));
  }
}

int64_t MsSince(Clock& clock, std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Monotonic() - start).count();
}

}  // namespace

void CostMeter::Built(int64_t ms) { build_ms_.push_back(std::max<int64_t>(0, ms)); }

void CostMeter::Ran(int64_t ms) {
  run_total_ms_ += std::max<int64_t>(0, ms);
  ++runs_;
}

double CostMeter::mean_build_ms() const {
  if (build_ms_.empty()) return 0;
  // The first build is cold: left out once there are warm ones.
  size_t from = build_ms_.size() > 1 ? 1 : 0;
  double total = 0;
  for (size_t i = from; i < build_ms_.size(); ++i) total += static_cast<double>(build_ms_[i]);
  return total / static_cast<double>(build_ms_.size() - from);
}

double CostMeter::mean_run_ms() const { return runs_ ? static_cast<double>(run_total_ms_) / runs_ : 0.0; }

std::optional<double> CostMeter::Cost() const {
  if (build_ms_.empty() || runs_ == 0) return std::nullopt;
  return std::min(10000.0, mean_build_ms() / std::max(1.0, mean_run_ms()));
}

bool ParseBadHistory(const std::string& s, int* failures, int* runs) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) return false;
  try {  // std::stoi reports bad numbers by throwing
    size_t a = 0, b = 0;
    *failures = std::stoi(s.substr(0, slash), &a);
    *runs = std::stoi(s.substr(slash + 1), &b);
    if (a != slash || b != s.size() - slash - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  return *runs > 0 && *runs <= 100000 && *failures >= 0 && *failures <= *runs;
}

bisect::SearchOptions SearchOptionsOf(const BisectRequest& r) {
  bisect::SearchOptions so;
  so.confidence = r.confidence;
  so.max_runs = r.max_runs;
  so.runs_per_build = r.runs_per_build;
  so.build_cost = r.build_cost >= 0 ? r.build_cost : (Builds(r) ? 4.0 : 0.0);
  so.keep_builds = r.probe.build_tree;  // the probe keeps each kernel and kselftests it built
  so.model.prior_a = r.prior_a;
  so.model.prior_b = r.prior_b;
  so.model.epsilon = r.epsilon;
  so.model.deterministic_prior = r.deterministic;
  so.known_runs = r.known_runs;
  so.known_failures = r.known_failures;
  return so;
}

nlohmann::json BisectOptionsJson(const BisectRequest& r) {
  const ProbeOptions& p = r.probe;
  nlohmann::json opts = {{"command", p.command},
                         {"build", p.build},
                         {"fix", r.fix},
                         {"vigil_test", p.vigil_test},
                         {"tests", p.tests_dir},
                         {"kernel", p.kernel},
                         {"crash_title", p.crash_title},
                         {"confidence", r.confidence},
                         {"max_runs", r.max_runs},
                         {"runs_per_build", r.runs_per_build},
                         {"build_cost", r.build_cost},
                         {"prior", {r.prior_a, r.prior_b}},
                         {"epsilon", r.epsilon},
                         {"deterministic_prior", r.deterministic}};
  // Absent when not given: bisections started before these options resume.
  if (!r.bad_history.empty()) opts["bad_history"] = r.bad_history;
  if (r.first_parent) opts["first_parent"] = true;
  if (p.build_tree) {
    // What makes the kernel a commit is built into (make -j and ccache do not).
    const kbuild::BuildOptions& b = p.build_options;
    opts["build_tree"] = {{"base_config", b.base_config},
                          {"variant",
                           {{"name", b.variant.name},
                            {"debug_config", b.variant.tree_debug_config},
                            {"builtin", b.variant.builtin},
                            {"fragments", b.variant.fragments},
                            {"set", b.variant.set}}},
                          {"vm_fragment", b.vm_fragment},
                          {"collections", b.collections},
                          {"config_files", b.config_files},
                          {"set", b.set},
                          {"cc", b.cc},
                          {"output_dir", b.output_dir}};
  }
  return opts;
}

std::string BisectDbPath(Vcs& vcs, const std::string& db_flag) {
  // Absolute: the worktrees are made beside it (`--db x.db` would put them
  // at the root of the file system).
  if (!db_flag.empty()) return store::IsPostgresUri(db_flag) ? db_flag : std::filesystem::absolute(db_flag).string();
  auto common = vcs.CommonDir();
  std::string dir = common.ok() ? common.value() : vcs.Top() + "/.git";
  return dir + "/vigil-bisect.db";
}

std::string BisectWorktreePath(const std::string& db_path, int64_t id) {
  return std::filesystem::path(db_path).parent_path().string() + fmt::format("/vigil-bisect-wt-{}", id);
}

namespace {

// The result of a finished (or stopped) search, for people and as JSON.
template <typename Line>
nlohmann::json Conclude(const bisect::Search& s, const Line& line, const BisectRequest& r) {
  const bool fix = r.fix;
  const bisect::Model& m = s.model();
  bisect::Group g = m.Best();
  int n = m.n();
  nlohmann::json j = {{"format_version", 1},  {"stop", bisect::StopName(s.stop())},
                      {"posterior", g.mass},  {"runs", s.runs()},
                      {"builds", s.builds()}, {"fix", fix}};
  std::string hypothesis = "culprit";
  if (g.first == 0 && g.last == 0) hypothesis = fix ? "good_end_still_fails" : "good_end_is_bad";
  if (g.first == n + 1) hypothesis = "not_reproducible";
  j["hypothesis"] = hypothesis;
  if (hypothesis == "culprit") {
    // Normal: the first affected commit. --fix: the first commit without the
    // failure, one position before the first affected (newest failing) one.
    int first = std::max(1, g.first), last = std::min(n, g.last);
    int named_first = fix ? first - 1 : first, named_last = fix ? last - 1 : last;
    nlohmann::json range = nlohmann::json::array();
    for (int i = std::min(named_first, named_last); i <= std::max(named_first, named_last); ++i) {
      range.push_back({{"hash", line.commits[i]}, {"subject", line.subjects[i]}});
    }
    j["culprit"] = named_first == named_last ? range[0] : nlohmann::json(nullptr);
    j["range"] = range;
    // Evidence: the commit and the one on the other side of the change.
    int at = named_first, other = fix ? named_first + 1 : named_first - 1;
    auto ev = [&](int i) {
      return nlohmann::json{{"hash", line.commits[i]},
                            {"runs", m.runs(i)},
                            {"failures", m.failures(i)},
                            {"skipped", m.skipped(i)}};
    };
    // (With --fix the line runs the other way, and the other commit is the
    // fix's parent too.)
    j["evidence"] = {{"culprit", ev(at)}, {"parent", ev(other)}};
    std::string cmd = "git checkout " + line.commits[at].substr(0, 12);
    if (!r.probe.build.empty()) cmd += " && " + r.probe.build;
    j["reproduce"] = cmd + " && " + ProbeCommandLine(r.probe);
  } else {
    j["culprit"] = nullptr;
  }
  j["p_estimate"] = m.PHat(std::clamp(g.first, 0, n + 1));
  return j;
}

}  // namespace

BisectDriver::BisectDriver(Vcs& vcs, Probe& probe, BisectObserver& observer, Clock& clock)
    : vcs_(vcs), probe_(probe), observer_(observer), clock_(clock) {}

BisectDriver::Line BisectDriver::Positions(std::vector<Commit> oldest_first, bool fix) const {
  Line l;
  if (fix) std::reverse(oldest_first.begin(), oldest_first.end());
  for (auto& c : oldest_first) {
    l.commits.push_back(std::move(c.hash));
    l.subjects.push_back(std::move(c.subject));
  }
  return l;
}

Status BisectDriver::Resolve(const BisectRequest& r) {
  auto good = vcs_.ResolveCommit(r.good);
  if (!good.ok()) return Status::InvalidArgument(fmt::format("--good {}: not a commit", r.good));
  auto bad = vcs_.ResolveCommit(r.bad);
  if (!bad.ok()) return Status::InvalidArgument(fmt::format("--bad {}: not a commit", r.bad));
  // The older end must be an ancestor of the newer: good..bad, or with --fix bad..good.
  std::string old_end = r.fix ? bad.value() : good.value();
  std::string new_end = r.fix ? good.value() : bad.value();
  if (!vcs_.IsAncestor(old_end, new_end)) {
    return Status::InvalidArgument(r.fix ? "--bad must be an ancestor of --good with --fix (older = bad)"
                                         : "--good must be an ancestor of --bad");
  }
  auto line = vcs_.FirstParentLine(old_end, new_end);
  if (!line.ok()) return line.status();
  if (line->empty()) return Status::InvalidArgument("no commits between the ends");
  std::vector<Commit> all = {{old_end, vcs_.Subject(old_end)}};
  all.insert(all.end(), line->begin(), line->end());
  first_line_ = Positions(std::move(all), r.fix);
  return Status::OK();
}

// When `merge` has exactly two parents: the commits it brought in (the
// first-parent line of its second parent down to what its first parent
// reaches), between that line's own parent (unaffected, as an ancestor of
// the merge's first parent) and the merge itself (affected), as positions.
// The merge stays a candidate: "none of them alone, the merge" is position n.
std::optional<BisectDriver::Line> BisectDriver::MergedLine(const std::string& merge, bool fix) {
  auto parents = vcs_.Parents(merge);
  if (!parents.ok() || parents->size() != 2) return std::nullopt;  // not a merge, or an octopus
  auto line = vcs_.FirstParentLine((*parents)[0], (*parents)[1]);
  if (!line.ok() || line->empty()) return std::nullopt;
  auto base = vcs_.Parents(line->front().hash);
  if (!base.ok() || base->empty()) return std::nullopt;  // the merged line starts at a root commit
  std::vector<Commit> all = {{base->front(), vcs_.Subject(base->front())}};
  all.insert(all.end(), line->begin(), line->end());
  all.push_back({merge, vcs_.Subject(merge)});
  return Positions(std::move(all), fix);
}

Status BisectDriver::CheckEnds(const BisectRequest& r, store::Store& db, int64_t id, const std::string& wt,
                               std::vector<model::BisectRunRecord>* done, int* builds) {
  const int n = static_cast<int>(first_line_.commits.size()) - 1;
  for (int pos : {0, n}) {
    const std::string& hash = first_line_.commits[pos];
    bool recorded = std::any_of(done->begin(), done->end(), [&](const model::BisectRunRecord& rec) {
      return rec.position == pos && rec.commit == hash;
    });
    if (recorded) continue;
    const bool good_end = pos == 0;
    const std::string end = fmt::format("{} end {}", good_end ? "good" : "bad", hash.substr(0, 12));
    // Stopped by a signal: a run or build cut short says nothing, and is not recorded.
    auto stopped = [&] {
      return Status::Internal(fmt::format(
          "stopped at the {} by a signal (the runs so far are kept; run the same command again to resume)", end));
    };
    if (r.cancel && r.cancel->stopping()) return stopped();
    if (Status co = vcs_.Checkout(wt, hash); !co.ok()) return co;
    ++*builds;
    auto built = TimedBuild(wt, hash);
    if (r.cancel && r.cancel->stopping()) return stopped();
    if (!built.ok()) {
      return Status::Internal(
          fmt::format("cannot build at the {}: {} (run again to resume)", end, built.status().message()));
    }
    if (!*built) {
      std::string why = probe_.BuildFailure();
      std::string how = r.probe.build_tree ? std::string("the kernel build of the tree")
                                           : "--build " + SanitizeForTerminal(r.probe.build);
      return Status::InvalidArgument(
          fmt::format("the {} does not build ({}){}", end, how, why.empty() ? "" : ": " + why));
    }
    auto run = TimedRun(wt, hash);
    if (r.cancel && r.cancel->stopping()) return stopped();
    if (!run.ok()) {
      return Status::Internal(
          fmt::format("aborted at the {}: {} (run again to resume)", end, run.status().message()));
    }
    if (!run->cannot_start.empty()) {
      return Status::InvalidArgument(
          fmt::format("the test cannot start at the {}: {}; nothing was bisected", end, run->cannot_start));
    }
    if (!good_end && !run->target_absent.empty()) {
      return Status::InvalidArgument(
          fmt::format("at the {}: {}; nothing was bisected", end, run->target_absent));
    }
    if (run->outcome == bisect::Outcome::kSkip) {
      // An end that cannot be tested leaves the search nothing to stand on:
      // its culprit would be a guess next to the untested end.
      if (!run->target_absent.empty()) {
        return Status::InvalidArgument(fmt::format(
            "the test is untestable at the {}: {}, and it did not get that far; nothing was bisected", end,
            run->target_absent));
      }
      return Status::InvalidArgument(fmt::format(
          "the test is untestable at the {} (it said skip: exit 125; or a --vigil-test skipped there, or stopped "
          "before its subtest); nothing was bisected",
          end));
    }
    model::BisectRunRecord rec{
        pos, hash, bisect::OutcomeName(run->outcome), run->exit_code, run->duration_ms, clock_.UtcNow()};
    if (Status st = db.RecordBisectRun(id, rec); !st.ok())
      return Status::IOError("cannot record a run: " + st.message());
    done->push_back(std::move(rec));
    observer_.EndChecked(good_end, hash, run->outcome);
  }
  return Status::OK();
}

Result<bool> BisectDriver::TimedBuild(const std::string& wt, const std::string& hash) {
  auto start = clock_.Monotonic();
  auto built = probe_.Build(wt, hash);
  // A build that fails may stop early: only builds that succeed are timed.
  if (built.ok() && *built) meter_.Built(MsSince(clock_, start));
  for (const auto& w : probe_.TakeWarnings()) observer_.Warning(w);
  return built;
}

Result<ProbeRun> BisectDriver::TimedRun(const std::string& wt, const std::string& hash) {
  auto start = clock_.Monotonic();
  auto run = probe_.Run(wt, hash);
  // A test that could not start says nothing about what a run costs.
  if (run.ok() && run->cannot_start.empty()) meter_.Ran(MsSince(clock_, start));
  return run;
}

Result<BisectOutcome> BisectDriver::Run(const BisectRequest& r, store::Store& db,
                                        const std::string& db_path) {
  if (first_line_.commits.empty()) return Status::Internal("nothing resolved to bisect");
  // One vigil at a time on a repository's bisection: a second one resuming
  // it would check other commits out in the same worktree under the first.
  std::unique_ptr<sys::FileLock> lock;
  if (!db_path.empty() && db_path != ":memory:" && !store::IsPostgresUri(db_path)) {
    auto held = sys::FileLock::TryAcquire(fmt::format("{}.bisect-{:016x}.lock", db_path, Fnv1a(vcs_.Top())));
    if (!held.ok()) {
      return Status::InvalidArgument(fmt::format("the bisection of {} is being run by another vigil ({})",
                                                 SanitizeForTerminal(vcs_.Top()), held.status().message()));
    }
    lock = std::move(held.value());
  }
  nlohmann::json opts = BisectOptionsJson(r);
  const std::string good = first_line_.commits.front(), bad = first_line_.commits.back();
  int64_t id = 0;
  std::vector<model::BisectRunRecord> done;
  if (auto active = db.ActiveBisection(vcs_.Top()); active.ok()) {
    // Compared as stored: bytes that are not UTF-8 (in the command) were replaced.
    nlohmann::json was = nlohmann::json::parse(active->options_json, nullptr, false);
    bool same = active->good == good && active->bad == bad && was == nlohmann::json::parse(DumpJson(opts));
    if (!same) {
      return Status::InvalidArgument(
          fmt::format("bisection {} of this repository is in progress with other ends or options "
                      "(vigil bisect status; vigil bisect reset ends it)",
                      active->id));
    }
    id = active->id;
    auto runs = db.LoadBisectRuns(id);
    if (!runs.ok()) return runs.status();
    done = std::move(runs.value());
    observer_.Resuming(id, done.size());
  } else {
    model::BisectionRecord b;
    b.repo = vcs_.Top();
    // The ends as the user named them: position 0 is always --good.
    b.good = good;
    b.bad = bad;
    b.options_json = DumpJson(opts);
    b.status = "running";
    b.started_at = clock_.UtcNow();
    auto created = db.CreateBisection(b);
    if (!created.ok()) return created.status();
    id = created.value();
  }
  probe_.RecordBuildsIn(db);
  // The user's checkout is left alone: probes run in a worktree of their own.
  std::string wt = BisectWorktreePath(db_path, id);
  if (Exists(wt) && !Exists(wt + "/.git")) {
    // Not a worktree (left from elsewhere): git would take the repository
    // above it, the user's own checkout, for it.
    return Status::InvalidArgument(fmt::format(
        "{} is in the way of bisection {}'s worktree and is not one (no .git in it): remove it, or give "
        "another --db",
        SanitizeForTerminal(wt), id));
  }
  if (!Exists(wt)) {
    if (Status added = vcs_.AddWorktree(wt, bad); !added.ok()) {
      return Status::IOError("cannot make a worktree: " + added.message());
    }
  }
  observer_.Started({id, static_cast<int>(first_line_.commits.size()) - 1, good, bad});
  int end_builds = 0;
  if (Status checked = CheckEnds(r, db, id, wt, &done, &end_builds); !checked.ok()) {
    if (checked.code() != Status::Code::kInvalidArgument) return checked;  // resumes
    // Nothing to resume: the bisection ends here, as an error.
    nlohmann::json error = {{"format_version", 1}, {"error", checked.message()}};
    std::string text = DumpJson(error);
    if (Status fin = db.FinishBisection(id, "error", text, clock_.UtcNow()); !fin.ok()) {
      observer_.Warning(fmt::format("cannot record the end of bisection {}: {}", id, fin.message()));
    }
    if (Status removed = vcs_.RemoveWorktree(wt); !removed.ok()) {
      observer_.Warning(fmt::format("the worktree {} stays: {}", wt, removed.message()));
    }
    RemoveBuildDir(wt, observer_);
    return checked;
  }
  // Stage after stage: the first-parent line, then, while the culprit is a
  // merge (and not first_parent), the commits that merge brought in.
  // Records replay in order: a stage takes them until it is confident (and
  // runs anew only once they are all taken).
  Line line = first_line_;
  bisect::SearchOptions so = SearchOptionsOf(r);
  // Without --build-cost, a probe that builds costs what was measured.
  const bool measured_cost = r.build_cost < 0 && Builds(r);
  auto cost_now = [&](bisect::Search* search) {
    if (!measured_cost) return;
    if (auto c = meter_.Cost()) {
      so.build_cost = *c;
      if (search) search->set_build_cost(*c);
    }
  };
  cost_now(nullptr);
  size_t replayed = 0;
  int total_runs = 0, total_builds = end_builds, reused_builds = 0;
  nlohmann::json merges = nlohmann::json::array();
  nlohmann::json result;
  bool confident = false;
  for (int stage = 0;; ++stage) {
    int n = static_cast<int>(line.commits.size()) - 1;
    so.max_runs = std::max(0, r.max_runs - total_runs);
    bisect::Search search(n, so);
    // The runs at the ends come first and always count (a search can be
    // confident before any run: one commit between the ends).
    for (; stage == 0 && replayed < done.size() && replayed < 2; ++replayed) {
      const auto& rec = done[replayed];
      if ((rec.position != 0 && rec.position != n) || line.commits[rec.position] != rec.commit) break;
      search.Record(rec.position, OutcomeOf(rec.outcome));
    }
    for (; replayed < done.size() && !search.Confident(); ++replayed) {
      const auto& rec = done[replayed];
      if (rec.position < 0 || rec.position > n || line.commits[rec.position] != rec.commit) continue;
      search.Record(rec.position, OutcomeOf(rec.outcome));
    }
    // The builds the probe kept (the ends', an earlier stage's) cost the
    // search a run, as the one checked out does.
    if (so.keep_builds) {
      for (int i = 0; i <= n; ++i) search.SetKept(i, probe_.HasKept(line.commits[i]));
    }
    int checked_out = -1;
    auto stopped = [&](const std::string& hash) {
      return Status::Internal(
          fmt::format("stopped at {} by a signal (the runs so far are kept; run the same command again to resume)",
                      hash.substr(0, 12)));
    };
    for (int j = search.Next(); j >= 0; j = search.Next()) {
      const std::string& hash = line.commits[j];
      if (r.cancel && r.cancel->stopping()) return stopped(hash);
      if (j != checked_out && probe_.Restore(wt, hash)) {
        // Built before and kept: no checkout, no build.
        checked_out = j;
        ++reused_builds;
      } else if (j != checked_out) {
        if (Status co = vcs_.Checkout(wt, hash); !co.ok()) return co;
        checked_out = j;
        ++total_builds;
        auto built = TimedBuild(wt, hash);
        if (r.cancel && r.cancel->stopping()) return stopped(hash);  // a stopped build says nothing
        if (!built.ok()) {
          return Status::Internal(
              fmt::format("cannot build at {}: {} (the runs so far are kept; run again to resume)",
                          hash.substr(0, 12), built.status().message()));
        }
        cost_now(&search);
        // What the probe keeps now: this build, and no more the ones it let
        // go to make room (a rebuild there costs a build again).
        if (so.keep_builds) {
          for (int i = 0; i <= n; ++i) search.SetKept(i, probe_.HasKept(line.commits[i]));
        } else {
          search.SetKept(j, probe_.HasKept(hash));
        }
        if (!*built) {
          observer_.BuildFailed(hash, probe_.BuildFailure());
          search.Record(j, bisect::Outcome::kSkip);
          if (Status st = db.RecordBisectRun(id, {j, hash, "skip", std::nullopt, 0, clock_.UtcNow()});
              !st.ok()) {
            // Not fatal: a resumed bisection builds it again.
            observer_.Warning(fmt::format("cannot record a skipped commit: {}", st.message()));
          }
          continue;
        }
      }
      auto probe = TimedRun(wt, hash);
      if (r.cancel && r.cancel->stopping()) return stopped(hash);  // nor does a stopped run
      if (!probe.ok()) {
        return Status::Internal(
            fmt::format("aborted at {}: {} (the runs so far are kept; run again to resume)",
                        hash.substr(0, 12), probe.status().message()));
      }
      if (!probe->cannot_start.empty()) {
        observer_.Warning(fmt::format("{}: the test cannot start here: {} (untestable)", hash.substr(0, 12),
                                      probe->cannot_start));
      }
      const char* name = bisect::OutcomeName(probe->outcome);
      Status st =
          db.RecordBisectRun(id, {j, hash, name, probe->exit_code, probe->duration_ms, clock_.UtcNow()});
      if (!st.ok()) return Status::IOError("cannot record a run: " + st.message());
      search.Record(j, probe->outcome);
      cost_now(&search);
      bisect::Group g = search.model().Best();
      BisectRunEvent e;
      e.run = total_runs + search.runs();
      e.commit = hash;
      e.outcome = probe->outcome;
      e.posterior = g.mass;
      if (g.first >= 1 && g.first <= n) {
        e.best_commit = line.commits[r.fix ? g.first - 1 : g.first];
      } else {
        e.best = g.first == 0 ? BisectRunEvent::Best::kGoodEnd : BisectRunEvent::Best::kNotReproducible;
      }
      observer_.Ran(e);
    }
    total_runs += search.runs();
    nlohmann::json concluded = Conclude(search, line, r);
    bool stage_confident = search.stop() == bisect::Stop::kConfident;
    if (stage > 0 && !stage_confident && confident) {
      // The runs ran out inside a merge: the merge, found with confidence on
      // the line above, stays the answer; this stage's guess has no weight.
      merges.erase(merges.end() - 1);
      break;
    }
    result = std::move(concluded);
    confident = stage_confident;
    if (!confident || r.first_parent || stage >= 16 || result["culprit"].is_null()) break;
    if (total_runs >= r.max_runs) break;  // nothing left to look into the merge with
    // A merge named on this line: descend into what it merged, unless it is
    // the merge this line came from (its own changes are the culprit then).
    std::string merge = result["culprit"]["hash"];
    bool again = false;
    for (const auto& m : merges) again |= m["hash"] == merge;
    if (again) break;
    std::optional<Line> merged = MergedLine(merge, r.fix);
    if (!merged) break;
    // What this stage saw on the failing side is evidence about p in the
    // next: every such commit contains the merge's changes.
    bisect::Group g = search.model().Best();
    so.known_runs = so.known_failures = 0;
    for (int i = g.first; i <= n; ++i) {
      so.known_runs += search.model().runs(i);
      so.known_failures += search.model().failures(i);
    }
    int commits = static_cast<int>(merged->commits.size()) - 2;
    merges.push_back({{"hash", merge},
                      {"subject", result["culprit"]["subject"]},
                      {"posterior", result["posterior"]},
                      {"commits", commits}});
    observer_.Descending(
        {merge, result["culprit"]["subject"].get<std::string>(), result["posterior"].get<double>(), commits});
    line = std::move(*merged);
  }
  result["runs"] = total_runs;
  result["builds"] = total_builds;
  result["reused_builds"] = reused_builds;
  result["merges"] = merges;
  result["bisection"] = id;
  result["build_cost"] = so.build_cost;
  result["build_cost_measured"] = measured_cost && meter_.Cost().has_value();
  if (meter_.builds() > 0 || meter_.runs() > 0) {
    result["measured"] = {{"build_ms", static_cast<int64_t>(meter_.mean_build_ms() + 0.5)},
                          {"builds", meter_.builds()},
                          {"run_ms", static_cast<int64_t>(meter_.mean_run_ms() + 0.5)},
                          {"runs", meter_.runs()}};
  }
  if (Status fin = db.FinishBisection(id, "done", DumpJson(result), clock_.UtcNow()); !fin.ok()) {
    observer_.Warning(fmt::format("cannot record the end of bisection {}: {}", id, fin.message()));
  }
  if (Status removed = vcs_.RemoveWorktree(wt); !removed.ok()) {
    observer_.Warning(fmt::format("the worktree {} stays: {}", wt, removed.message()));
  }
  RemoveBuildDir(wt, observer_);
  return BisectOutcome{id, confident, std::move(result)};
}

Result<BisectOutcome> RunBisection(Vcs& vcs, Probe& probe, BisectObserver& observer, const BisectRequest& r) {
  BisectDriver driver(vcs, probe, observer);
  if (Status st = driver.Resolve(r); !st.ok()) return st;
  std::string db_path = BisectDbPath(vcs, r.db_path);
  auto db = store::Store::Open(db_path);
  if (!db.ok()) return Status::IOError(fmt::format("{}: {}", store::ShownPath(db_path), db.status().message()));
  return driver.Run(r, **db, db_path);
}

Result<BisectionStatus> LatestBisection(store::Store& db, const std::string& repo) {
  BisectionStatus s;
  auto b = db.LatestBisection(repo);
  if (!b.ok()) return s;
  s.found = true;
  s.bisection = std::move(b.value());
  auto runs = db.LoadBisectRuns(s.bisection.id);
  if (!runs.ok()) return runs.status();
  s.runs = std::move(runs.value());
  return s;
}

Result<std::unique_ptr<store::Store>> OpenBisectStore(const std::string& db_path) {
  if (!Exists(db_path)) return Status::NotFound("no bisection in this repository");
  return store::Store::Open(db_path);
}

Result<int64_t> ResetBisection(Vcs& vcs, store::Store& db, const std::string& db_path,
                               BisectObserver& observer, Clock& clock) {
  auto b = db.ActiveBisection(vcs.Top());
  if (!b.ok()) return b.status();
  std::string wt = BisectWorktreePath(db_path, b->id);
  if (Exists(wt)) {
    if (Status removed = vcs.RemoveWorktree(wt); !removed.ok()) {
      observer.Warning(fmt::format("the worktree {} stays: {}", wt, removed.message()));
    }
  }
  RemoveBuildDir(wt, observer);
  if (Status fin = db.FinishBisection(b->id, "reset", "", clock.UtcNow()); !fin.ok()) {
    observer.Warning(fmt::format("cannot record the end of bisection {}: {}", b->id, fin.message()));
  }
  return b->id;
}

}  // namespace vigil::engine
