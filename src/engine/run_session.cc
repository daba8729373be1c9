#include "engine/run_session.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "base/json.h"
#include "base/text.h"
#include "engine/run_group.h"
#include "engine/verdict.h"
#include "judge/outcome.h"
#include "model/test_path.h"
#include "runner/config.h"
#include "runner/scheduler.h"
#include "runner/split.h"
#include "runner/test_run.h"
#include "runner/timeout.h"
#include "sys/process.h"
#include "sys/sandbox.h"
#include "store/postgres.h"

namespace vigil::engine {
namespace {

// Hands each line a test prints to the observer.
class OutputToObserver final : public runner::TestProgress {
 public:
  OutputToObserver(RunObserver& observer, std::string path) : observer_(observer), path_(std::move(path)) {}
  void OnSubtest(const runner::TestSpec&, int, const ktap::TestNode&) override {}
  void OnOutputLine(const runner::TestSpec&, std::string_view line) override { observer_.OnTestOutput(path_, line); }

 private:
  RunObserver& observer_;
  std::string path_;
};

// Longest subtest path kept: names are capped by the parser, but 64 levels of
// them would make every record of a deep tree large.
constexpr size_t kMaxSubtestPath = 4096;

// Subtests flattened to "parent > child" paths, as the store keeps them
// (results that never came named as every report names them). A path is
// one subtest's within an attempt: a name a parent gives two of its
// subtests (or a name holding " > " that matches a nested path) gets " (2)",
// " (3)"... from its second time on, so that two results are never folded
// into one as if one were a retry of the other.
class Flattener {
 public:
  explicit Flattener(std::vector<model::SubtestRecord>* out) : out_(out) {}
  void Add(const ktap::TestNode& n, const std::string& prefix) {
    for (const auto& c : n.subtests) {
      std::string name = ktap::DisplayName(c);
      std::string path = prefix.empty() ? name : prefix + " > " + name;
      if (path.size() > kMaxSubtestPath) {
        path = path.substr(0, kMaxSubtestPath / 2) + " [...] " + path.substr(path.size() - kMaxSubtestPath / 2);
      }
      if (!seen_.insert(path).second) {
        // The next free number: counted per path, so a thousand subtests of
        // one name cost a thousand lookups, not a million.
        int& next = next_[path];
        if (next < 2) next = 2;
        std::string again;
        do {
          again = fmt::format("{} ({})", path, next++);
        } while (!seen_.insert(again).second);
        path = std::move(again);
      }
      out_->push_back({path, std::string(ktap::StatusName(c.status)), c.duration_ms});
      Add(c, path);
    }
  }

 private:
  std::vector<model::SubtestRecord>* out_;
  std::unordered_set<std::string> seen_;
  std::unordered_map<std::string, int> next_;
};

}  // namespace

std::vector<model::SubtestRecord> SubtestRecords(const ktap::TestNode& root) {
  std::vector<model::SubtestRecord> out;
  Flattener(&out).Add(root, "");
  return out;
}

namespace {

model::AttemptRecord ToRecord(const runner::TestOutcome& o, const std::string& started_at) {
  model::AttemptRecord a;
  a.test_path = o.spec.path();
  a.status = std::string(ktap::StatusName(o.node.status));
  if (o.process.status.exited()) a.exit_code = o.process.status.exit_code();
  a.signal = o.process.status.signal();
  a.timed_out = o.process.timed_out;
  a.duration_ms = o.process.duration_ms;
  a.started_at = started_at;
  a.output_bytes = o.process.output_bytes;
  a.output = o.process.output;
  a.environment_issues = o.environment_issues;
  a.subtests = SubtestRecords(o.node);
  a.subtests_dropped = o.node.dropped;
  for (const auto& k : o.process.kernel_reports)
    a.crashes.push_back({std::string(model::TypeName(k.type)), k.title, k.fatal, k.fingerprint, k.guilty, k.text});
  a.interrupted = o.process.cancelled;
  return a;
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.string();
}

// --db as a command that vigil prints gives it: a file made absolute, a
// PostgreSQL URI as it is but without its password.
std::string ShownDb(const std::string& db_path) {
  return store::IsPostgresUri(db_path) ? store::ShownPath(db_path) : Absolute(db_path);
}

// What an earlier invocation of a run left of a test: its attempts
// (interrupted ones discarded), by number.
struct Prior {
  std::map<int, std::string> statuses;
  int last() const { return statuses.empty() ? 0 : statuses.rbegin()->first; }
  bool failed() const { return !statuses.empty() && judge::IsFailureName(statuses.rbegin()->second); }
};

std::map<std::string, Prior> PriorAttempts(const std::vector<model::AttemptRecord>& recorded) {
  std::map<std::string, Prior> prior;
  for (const auto& a : recorded) prior[a.test_path].statuses[a.attempt] = a.status;
  return prior;
}

// Whether a test needs nothing more: it passed (or skipped), or failed on
// every attempt its retries allow. A failure whose retry was interrupted
// still has a retry to run.
bool Finished(const std::map<std::string, Prior>& prior, const std::string& path, int retries) {
  auto it = prior.find(path);
  return it != prior.end() && (!it->second.failed() || it->second.last() >= 1 + retries);
}

// -t TEST#N names one shard (vigil.toml): the plan has TEST, the shard is
// picked after the expansion. Resuming a sharded run names shards too.
struct ShardPick {
  std::set<std::string> wanted_shards, whole_tests;
};

ShardPick SplitShardNames(runner::PlanFilter* filter) {
  ShardPick pick;
  std::vector<std::string> plain;
  for (const auto& t : filter->tests) {
    model::TestPath path = model::TestPath::Parse(t);
    bool shard = path.shard().has_value();
    std::string base = shard ? path.BaseTestId() : t;
    if (shard) {
      pick.wanted_shards.insert(t);
    } else {
      pick.whole_tests.insert(t);
    }
    if (std::find(plain.begin(), plain.end(), base) == plain.end()) plain.push_back(base);
  }
  filter->tests = plain;
  return pick;
}

// A long test split into parts (vigil.toml shards) that run as tests of their own.
std::vector<runner::TestSpec> ExpandShards(const std::vector<runner::TestSpec>& tests, const runner::RunConfig& config) {
  std::vector<runner::TestSpec> expanded;
  for (const auto& t : tests) {
    const runner::TestRule* r = config.RuleFor(t.path());
    if (!r || r->shards.empty()) {
      expanded.push_back(t);
      continue;
    }
    for (size_t k = 0; k < r->shards.size(); ++k) {
      runner::TestSpec part = t;
      part.name = fmt::format("{}#{}", t.name, k + 1);
      std::istringstream words(r->shards[k]);
      for (std::string w; words >> w;) part.extra_args.push_back(w);
      expanded.push_back(std::move(part));
    }
  }
  return expanded;
}

Result<std::vector<runner::TestSpec>> PickShards(std::vector<runner::TestSpec> tests, const ShardPick& pick) {
  if (pick.wanted_shards.empty()) return tests;
  // Shards of a test named only by some of its shards are left out.
  std::set<std::string> shard_bases;
  for (const auto& w : pick.wanted_shards) shard_bases.insert(model::TestPath::Parse(w).BaseTestId());
  std::vector<runner::TestSpec> picked;
  for (auto& t : tests) {
    std::string path = t.path();
    std::string base = model::TestPath::Parse(path).BaseTestId();
    bool dropped = shard_bases.count(base) && !pick.wanted_shards.count(path) && !pick.whole_tests.count(base);
    if (!dropped) picked.push_back(std::move(t));
  }
  // A test named with #N that has no such shard is an error, as any unknown test.
  for (const auto& w : pick.wanted_shards) {
    bool found = std::any_of(picked.begin(), picked.end(), [&](const runner::TestSpec& t) { return t.path() == w; });
    if (!found) return Status::InvalidArgument(fmt::format("no such test '{}' (no such shard in vigil.toml)", w));
  }
  return picked;
}

// The tests a run runs, in plan order: the list filtered, vigil.toml read
// (--config, else the one beside the tests), shards expanded and picked, the
// per-test timeout and retries applied. Resuming, `filter` names what is left.
struct Planned {
  std::vector<runner::TestSpec> tests;
  std::vector<int> retries;
  runner::RunConfig config;
  std::vector<std::string> warnings;
};

Result<Planned> PlanTests(const std::string& tests_dir, runner::PlanFilter filter, bool resuming, const RunRequest& f) {
  Planned p;
  ShardPick shard_pick = SplitShardNames(&filter);
  if (!resuming || !filter.tests.empty()) {
    auto plan = runner::LoadPlan(tests_dir, filter, &p.warnings);
    if (!plan.ok()) return plan.status();
    p.tests = std::move(*plan);
  }
  if (p.tests.empty() && !resuming) {
    return Status::InvalidArgument(fmt::format("no tests selected in {}", tests_dir));
  }
  std::string config_path = f.config_path;
  if (config_path.empty() && f.files_beside_tests) {
    std::error_code ec;
    std::string beside = (std::filesystem::path(tests_dir) / "vigil.toml").string();
    if (std::filesystem::exists(beside, ec)) config_path = beside;
  }
  if (!config_path.empty()) {
    auto loaded = runner::LoadConfig(config_path);
    if (!loaded.ok()) return loaded.status();
    p.config = std::move(*loaded);
  }
  p.tests = ExpandShards(p.tests, p.config);
  auto picked = PickShards(std::move(p.tests), shard_pick);
  if (!picked.ok()) return picked.status();
  p.tests = std::move(*picked);
  // --skip also names shards (TEST#N): the list was filtered before they existed.
  std::erase_if(p.tests, [&](const runner::TestSpec& t) {
    return std::any_of(filter.skip.begin(), filter.skip.end(),
                       [&](const std::string& pat) { return runner::GlobMatch(pat, t.path()); });
  });
  if (p.tests.empty() && !resuming) {
    return Status::InvalidArgument(fmt::format("no tests selected in {}", tests_dir));
  }
  p.retries.assign(p.tests.size(), f.retries);
  for (size_t i = 0; i < p.tests.size(); ++i) {
    if (const runner::TestRule* r = p.config.RuleFor(p.tests[i].path())) {
      if (r->timeout_s) p.tests[i].timeout = std::chrono::seconds(*r->timeout_s);
      if (r->retries) p.retries[i] = *r->retries;
    }
  }
  return p;
}

// The shards of run group `run_id` (their split and states), once its
// shard count and its plan are this shard's: what a shard joins
// (JoinGroup) and what `vigil run --list --shard` shows (ListPlan).
Result<std::vector<model::RunShardRecord>> GroupShards(store::Store& db, int64_t run_id,
                                                        const std::vector<std::string>& plan, const RunRequest& f) {
  std::string group = SanitizeForTerminal(f.run_group);
  auto run = db.LoadRun(run_id);
  if (!run.ok()) return run.status();
  if (run->shards != f.shard_count) {
    return Status::InvalidArgument(fmt::format("run group {} (run {}) has {} shards, not {}: --shard I/{} there",
                                               group, run_id, run->shards, f.shard_count, run->shards));
  }
  {
    std::vector<std::string> theirs = run->plan, ours = plan;
    std::sort(theirs.begin(), theirs.end());
    std::sort(ours.begin(), ours.end());
    if (theirs != ours) {
      return Status::InvalidArgument(fmt::format(
          "shard {}/{} plans other tests than run group {} (run {}): {} here, {} there; every shard needs the same "
          "tests, filters and vigil.toml",
          f.shard, f.shard_count, group, run_id, ours.size(), theirs.size()));
    }
  }
  auto shards = db.LoadRunShards(run_id);
  if (!shards.ok()) return shards.status();
  if (shards->size() != static_cast<size_t>(f.shard_count)) {
    return Status::Internal(fmt::format("run {} has {} shard rows, not {}", run_id, shards->size(), f.shard_count));
  }
  return shards;
}

// A shard joining its run group: the group's run, created with the split
// (runner::SplitPlan over the store's durations) when this shard is the
// first to come, else the one there is, checked against this shard's plan;
// the shard started unless another vigil runs it or it has finished; what
// an earlier invocation of it recorded in *recorded (interrupted attempts
// dropped). Returns the run's id.
Result<int64_t> JoinGroup(store::Store& db, Clock& clock, RunObserver& observer,
                          const std::vector<runner::TestSpec>& tests, int64_t env_id, const std::string& console_log,
                          const RunRequest& f, const std::string& tests_dir,
                          std::vector<model::AttemptRecord>* recorded, bool* finished_already) {
  std::string group = SanitizeForTerminal(f.run_group);
  std::vector<std::string> plan;
  for (const auto& t : tests) plan.push_back(t.path());
  auto found = db.FindGroupRun(f.run_group);
  if (!found.ok() && found.status().code() != Status::Code::kNotFound) return found.status();
  int64_t run_id = 0;
  if (found.ok()) {
    run_id = *found;
  } else {
    std::map<std::string, int64_t> durations;
    if (auto d = db.LastDurations(); d.ok()) durations = std::move(*d);
    runner::PlanSplit split = runner::SplitPlan(plan, durations, f.shard_count);
    model::RunRecord run;
    run.started_at = clock.UtcNow();
    run.host = f.host;
    run.command = f.command_line;
    run.tests_dir = Absolute(tests_dir);
    run.plan = plan;
    run.environment_id = env_id;
    run.build_id = f.build_id;
    run.run_group = f.run_group;
    run.shards = f.shard_count;
    auto id = db.CreateGroupRun(run, split.Tests(plan));
    if (!id.ok()) return id.status();
    run_id = *id;
    if (auto shards = db.LoadRunShards(run_id); shards.ok() && shards->size() == split.load_ms.size()) {
      // Another shard may have come first: its split is the one.
      bool mine = true;
      auto parts = split.Tests(plan);
      for (size_t k = 0; k < parts.size(); ++k) mine &= (*shards)[k].tests == parts[k];
      if (mine) {
        int64_t longest = 0;
        for (int64_t l : split.load_ms) longest = std::max(longest, l);
        observer.OnNote(fmt::format(
            "run group {}: {} tests split into {} shards by their last durations (the longest shard {:.0f}s, "
            "{:.2f}x the mean; {} tests without history counted {:.1f}s each)",
            group, plan.size(), f.shard_count, static_cast<double>(longest) / 1000.0, split.Imbalance(),
            split.unknown, static_cast<double>(split.unknown_ms) / 1000.0));
      }
    }
  }
  auto shards = GroupShards(db, run_id, plan, f);
  if (!shards.ok()) return shards.status();
  const model::RunShardRecord& mine = (*shards)[static_cast<size_t>(f.shard - 1)];
  if (!mine.finished_at.empty()) {
    // A CI that retries the job (a Kubernetes Job's index, a re-run): done.
    observer.OnNote(fmt::format("shard {}/{} of run group {} (run {}) has finished already ({}): nothing to run",
                                f.shard, f.shard_count, group, run_id, SanitizeForTerminal(mine.status)));
    *finished_already = true;
    return run_id;
  }
  if (!mine.owner.empty()) {
    switch (sys::CheckOwner(mine.owner)) {
      case sys::OwnerState::kAlive:
        return Status::InvalidArgument(fmt::format("shard {}/{} of run group {} is running (vigil pid {})", f.shard,
                                                   f.shard_count, group, sys::OwnerPid(mine.owner)));
      case sys::OwnerState::kElsewhere:
        return Status::InvalidArgument(fmt::format(
            "shard {}/{} of run group {} belongs to vigil pid {} on host {}, whose state cannot be seen from here",
            f.shard, f.shard_count, group, sys::OwnerPid(mine.owner), SanitizeForTerminal(sys::OwnerHost(mine.owner))));
      case sys::OwnerState::kGone:
        break;  // its vigil died: taken over
    }
  }
  model::RunShardRecord start = mine;
  start.host = f.host;
  start.command = f.command_line;
  start.tests_dir = Absolute(tests_dir);
  start.environment_id = env_id;
  start.started_at = clock.UtcNow();
  start.owner = f.owner;
  start.console_log = console_log;
  auto claimed = db.StartShard(start, mine.owner);
  if (!claimed.ok()) return claimed.status();
  if (!*claimed) {
    return Status::InvalidArgument(
        fmt::format("shard {}/{} of run group {} was just taken by another vigil", f.shard, f.shard_count, group));
  }
  if (!mine.started_at.empty()) {
    // Run before by a vigil that died or was stopped: its interrupted
    // attempts go (the tests run again), the rest stands.
    if (Status st = db.DiscardInterrupted(run_id); !st.ok()) return st;
  }
  auto done = db.LoadAttempts(run_id, true);
  if (!done.ok()) return done.status();
  std::set<std::string> own(mine.tests.begin(), mine.tests.end());
  for (auto& a : *done) {
    if (own.count(a.test_path)) recorded->push_back(std::move(a));
  }
  return run_id;
}

}  // namespace

Result<PlanListing> ListPlan(const RunRequest& req, store::Store* db) {
  if (!req.resume.empty()) {
    return Status::InvalidArgument("--list shows what a new run would run; it does not combine with --resume");
  }
  if (req.tests_dir.empty()) return Status::InvalidArgument("--tests DIR is required");
  auto planned = PlanTests(req.tests_dir, req.filter, false, req);
  if (!planned.ok()) return planned.status();
  PlanListing out;
  out.tests_dir = Absolute(req.tests_dir);
  out.config = planned->config.source;
  out.warnings = std::move(planned->warnings);
  for (size_t i = 0; i < planned->tests.size(); ++i) {
    const runner::TestSpec& t = planned->tests[i];
    ListedTest p;
    p.path = t.path();
    p.timeout = t.timeout;
    p.stretched = runner::StretchTimeoutSeconds(t.timeout, req.slowdown);
    p.retries = planned->retries[i];
    for (const auto& c : planned->config.classes) {
      if (!runner::GlobMatch(c.match, p.path)) continue;
      p.classes.push_back(c);
      p.serial |= c.serial;
    }
    p.shard_args = t.extra_args;
    p.missing = runner::IsMissing(t);
    out.tests.push_back(std::move(p));
  }
  out.plan_size = out.tests.size();
  if (req.shard_count > 0) {
    std::vector<std::string> plan;
    for (const auto& t : out.tests) plan.push_back(t.path);
    std::vector<std::string> mine;
    Result<int64_t> found = Status::NotFound("no run group");
    if (db && !req.run_group.empty()) found = db->FindGroupRun(req.run_group);
    if (found.ok()) {
      auto shards = GroupShards(*db, *found, plan, req);
      if (!shards.ok()) return shards.status();
      mine = (*shards)[static_cast<size_t>(req.shard - 1)].tests;
      out.split_stored = true;
    } else if (found.status().code() != Status::Code::kNotFound) {
      return found.status();
    } else {
      std::map<std::string, int64_t> durations;
      if (db) {
        if (auto d = db->LastDurations(); d.ok()) durations = std::move(*d);
      }
      mine = runner::SplitPlan(plan, durations, req.shard_count).Tests(plan)[static_cast<size_t>(req.shard - 1)];
    }
    std::set<std::string> keep(mine.begin(), mine.end());
    std::erase_if(out.tests, [&](const ListedTest& t) { return !keep.count(t.path); });
  }
  return out;
}

std::vector<std::string> RerunArgv(const RunRequest& req) {
  std::vector<std::string> argv = {"vigil", "run", "--tests", Absolute(req.tests_dir)};
  if (!req.db_path.empty()) argv.insert(argv.end(), {"--db", ShownDb(req.db_path)});
  if (!req.config_path.empty()) argv.insert(argv.end(), {"--config", Absolute(req.config_path)});
  if (!req.known_issues.empty()) argv.insert(argv.end(), {"--known-issues", Absolute(req.known_issues)});
  if (req.netns) argv.push_back("--netns");
  if (!req.use_cgroups) argv.push_back("--no-cgroup");
  if (req.slowdown_set) argv.insert(argv.end(), {"--slowdown", fmt::format("{}", req.slowdown)});
  if (!req.env_keep.empty()) {
    std::string keep;
    for (const auto& k : req.env_keep) keep += (keep.empty() ? "" : ",") + k;
    argv.insert(argv.end(), {"--env-keep", keep});
  } else if (req.env_clear) {
    argv.push_back("--env-clear");
  }
  if (req.vm) {
    const model::VmSpec& vm = *req.vm;
    const model::VmSpec defaults;
    argv.insert(argv.end(), {"--kernel", Absolute(vm.kernel)});
    if (!vm.modules.empty()) argv.insert(argv.end(), {"--modules", Absolute(vm.modules)});
    if (vm.accel != defaults.accel) argv.insert(argv.end(), {"--accel", vm.accel});
    if (vm.rootfs != defaults.rootfs) argv.insert(argv.end(), {"--rootfs", vm.rootfs});
    if (vm.cpus != defaults.cpus) argv.insert(argv.end(), {"--cpus", std::to_string(vm.cpus)});
    if (vm.memory != defaults.memory) argv.insert(argv.end(), {"--memory", vm.memory});
    if (!vm.append.empty()) argv.insert(argv.end(), {"--append", vm.append});
    if (!vm.panic_on.empty()) argv.insert(argv.end(), {"--panic-on", vm.panic_on});
    if (vm.hang_timeout != defaults.hang_timeout) {
      argv.insert(argv.end(), {"--hang-timeout", std::to_string(vm.hang_timeout)});
    }
  }
  return argv;
}

RunSession::RunSession(store::Store& db, Clock& clock, RunObserver& observer, MachineLauncher launcher)
    : db_(db), clock_(clock), observer_(observer), launcher_(std::move(launcher)) {}

Result<SessionEnd> RunSession::Execute(RunRequest f) {
  // A new run, or the rest of an interrupted one.
  int64_t run_id = 0;
  std::string tests_dir = f.tests_dir;
  runner::PlanFilter filter = f.filter;
  std::vector<model::AttemptRecord> recorded;
  size_t resumed_plan = 0;  // resuming: the size of the run's plan
  if (!f.resume.empty() && f.repeat > 1) {
    return Status::InvalidArgument("--resume finishes one run; it does not combine with --repeat");
  }
  if (f.shard_count > 0) {
    if (!f.resume.empty()) {
      return Status::InvalidArgument(
          "--shard does not combine with --resume: the shard's own command, run again, resumes it");
    }
    if (f.repeat > 1 || f.until_fail) {
      return Status::InvalidArgument("--shard runs a shard of one run; it does not combine with --repeat or --until-fail");
    }
    if (f.run_group.empty()) {
      return Status::InvalidArgument(
          "--shard needs --run-group ID: the one name every shard of the run is given (a CI pipeline's id)");
    }
    if (f.shard < 1 || f.shard > f.shard_count) {
      return Status::InvalidArgument(fmt::format("--shard {}/{}: no such shard", f.shard, f.shard_count));
    }
  } else if (!f.run_group.empty()) {
    return Status::InvalidArgument("--run-group names a run split across machines: it needs --shard I/N");
  }
  if (!f.resume.empty()) {
    Result<int64_t> id = f.resume == "last" ? db_.LatestRun() : Result<int64_t>(Status::NotFound(""));
    if (f.resume != "last") {
      try {
        id = std::stoll(f.resume);
      } catch (...) {
        return Status::InvalidArgument(fmt::format("--resume takes a run id or 'last', not '{}'", f.resume));
      }
    }
    if (!id.ok()) return id.status();
    auto run = db_.LoadRun(*id);
    if (!run.ok()) return run.status();
    if (run->shards > 0) {
      return Status::InvalidArgument(fmt::format(
          "run {} is split into {} shards (run group {}): a shard resumes when its own command (vigil run ... "
          "--shard I/{} --run-group {}) runs again",
          *id, run->shards, SanitizeForTerminal(run->run_group), run->shards, SanitizeForTerminal(run->run_group)));
    }
    // A VM run resumes in a VM booting what it booted (unless --kernel says
    // otherwise); a host run stays on the host.
    if (!run->vm_json.empty() && !f.vm) {
      auto spec = model::VmSpec::FromJson(run->vm_json);
      if (!spec.ok()) return spec.status();
      f.vm = std::move(*spec);
      if (!f.slowdown_set && f.vm->slowdown) {
        f.slowdown = *f.vm->slowdown;
        f.slowdown_set = true;
      }
      observer_.OnNote(fmt::format("run {} ran in a VM: resuming with --kernel {}", *id, f.vm->kernel));
    } else if (run->vm_json.empty() && f.vm) {
      return Status::InvalidArgument(
          fmt::format("run {} ran on the host; resuming it in a VM would mix environments", *id));
    }
    // One vigil per run: a run whose vigil still runs is not resumed beside it.
    if (!run->owner.empty()) {
      switch (sys::CheckOwner(run->owner)) {
        case sys::OwnerState::kAlive:
          return Status::InvalidArgument(fmt::format(
              "run {} is still running (vigil pid {}): wait for it to end, or stop it (kill -TERM {}) and then "
              "resume it",
              *id, sys::OwnerPid(run->owner), sys::OwnerPid(run->owner)));
        case sys::OwnerState::kElsewhere:
          return Status::InvalidArgument(fmt::format(
              "run {} belongs to vigil pid {} on host {}, whose state cannot be seen from here: resume it there",
              *id, sys::OwnerPid(run->owner), SanitizeForTerminal(sys::OwnerHost(run->owner))));
        case sys::OwnerState::kGone:
          break;  // its vigil died without finishing it: taken over
      }
    }
    // The options it was started with, unless given again.
    if (!run->options_json.empty()) {
      auto opts = nlohmann::json::parse(run->options_json, nullptr, false);
      std::string carried;
      if (opts.is_object() && !f.retries_set && opts.contains("retries") && opts["retries"].is_number_integer()) {
        f.retries = std::clamp(opts["retries"].get<int>(), 0, 100);
        if (f.retries > 0) carried += fmt::format(" --retries {}", f.retries);
      }
      if (opts.is_object() && f.config_path.empty() && opts.contains("config") && opts["config"].is_string()) {
        f.config_path = opts["config"].get<std::string>();
        carried += " --config " + ShellQuote(f.config_path);
      }
      if (!carried.empty()) observer_.OnNote(fmt::format("run {} was started with{}: resuming with them", *id, carried));
    }
    auto claimed = db_.ClaimRun(*id, run->owner, f.owner);
    if (!claimed.ok()) return claimed.status();
    if (!*claimed) return Status::InvalidArgument(fmt::format("run {} was just taken over by another vigil", *id));
    // Tests a cancelled invocation interrupted run again, as if never started.
    if (Status st = db_.DiscardInterrupted(*id); !st.ok()) return st;
    auto done = db_.LoadAttempts(*id, true);
    if (!done.ok()) return done.status();
    run_id = *id;
    // The run's own tree and plan decide what runs: say which options lose.
    std::vector<std::string> ignored;
    if (!f.tests_dir.empty()) ignored.push_back("--tests");
    if (!f.filter.tests.empty()) ignored.push_back("-t/--test");
    if (!f.filter.collections.empty()) ignored.push_back("-c/--collection");
    if (!f.filter.skip.empty()) ignored.push_back("--skip");
    if (!ignored.empty()) {
      std::string names;
      for (size_t k = 0; k < ignored.size(); ++k) names += (k ? ", " : "") + ignored[k];
      observer_.OnWarning(fmt::format("--resume {}: ignoring {}: a resumed run runs the rest of its own plan from {}",
                                      f.resume, names, run->tests_dir));
    }
    tests_dir = run->tests_dir;
    recorded = std::move(*done);
    resumed_plan = run->plan.size();
    // What may be left: tests never run, and failures whose retries may not
    // all have run (their retries are known once the plan is).
    std::map<std::string, Prior> prior = PriorAttempts(recorded);
    filter = runner::PlanFilter{};
    for (const auto& p : run->plan) {
      if (!Finished(prior, p, INT_MAX - 1)) filter.tests.push_back(p);
    }
  } else if (tests_dir.empty()) {
    return Status::InvalidArgument("--tests DIR is required (or --resume RUN_ID)");
  }
  // What the run boots is recorded with absolute paths (a resumed spec has them already).
  if (f.vm) {
    f.vm->kernel = Absolute(f.vm->kernel);
    if (!f.vm->modules.empty()) f.vm->modules = Absolute(f.vm->modules);
  }

  // Known issues: --known-issues, else known-issues.toml beside the tests.
  // With either (or --baseline) the run's verdict decides the exit status.
  bool judged = !f.baseline.empty() || !f.known_issues.empty();
  if (!f.known_issues.empty()) {
    auto known = FindKnownIssues(f.known_issues, tests_dir);
    if (!known.ok()) return known.status();
  }
  Result<Planned> planned = Status::Internal("not planned");
  {
    sys::FsIdentity as_reader;
    if (f.tests_read_uid >= 0) {
      if (Status s = as_reader.Enter(static_cast<uid_t>(f.tests_read_uid), static_cast<gid_t>(f.tests_read_gid));
          !s.ok()) {
        return Status::InvalidArgument(fmt::format("reading the tests as uid {}: {}", f.tests_read_uid, s.message()));
      }
    }
    planned = PlanTests(tests_dir, filter, !f.resume.empty(), f);
    if (!planned.ok()) return planned.status();
    if (f.known_issues.empty() && f.files_beside_tests) {
      auto known = FindKnownIssues(f.known_issues, tests_dir);
      if (!known.ok()) return known.status();
      judged |= known.value().has_value();
    }
  }
  for (const auto& w : planned->warnings) observer_.OnWarning(w);
  std::vector<runner::TestSpec>& tests = planned->tests;
  std::vector<int>& retries = planned->retries;
  std::map<std::string, Prior> prior = PriorAttempts(recorded);
  // Drops the tests an earlier invocation finished (with the retries each
  // has now).
  auto keep_unfinished = [&](const std::set<std::string>* only) {
    std::vector<runner::TestSpec> kept;
    std::vector<int> kept_retries;
    for (size_t i = 0; i < tests.size(); ++i) {
      if ((only && !only->count(tests[i].path())) || Finished(prior, tests[i].path(), retries[i])) continue;
      kept.push_back(std::move(tests[i]));
      kept_retries.push_back(retries[i]);
    }
    tests = std::move(kept);
    retries = std::move(kept_retries);
  };
  if (!f.resume.empty()) {
    keep_unfinished(nullptr);
    size_t retrying = 0;
    for (const auto& t : tests) retrying += prior.count(t.path());
    observer_.OnNote(fmt::format("resuming run {}: {} of {} tests done{}", run_id,
                                 resumed_plan - std::min(resumed_plan, tests.size()), resumed_plan,
                                 retrying ? fmt::format(", {} failed with a retry still to run", retrying) : ""));
  }
  const runner::RunConfig& config = planned->config;
  std::map<std::string, std::chrono::seconds> timeouts;
  for (const auto& t : tests) timeouts[t.path()] = t.timeout;

  runner::RunOptions options;
  options.slowdown = f.slowdown;
  options.use_cgroups = f.use_cgroups;
  options.netns = f.netns;
  options.wrapper = f.test_wrapper;
  options.base_env = f.env_clear || !f.env_keep.empty() ? runner::ClearEnvironment(f.base_env, f.env_keep) : f.base_env;
  options.cancel = f.cancel;
  const sys::Cancellation* cancel = f.cancel;
  auto cancelled = [cancel] { return cancel && cancel->stopping(); };
  std::string path_var = "/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& e : options.base_env) {
    if (e.rfind("PATH=", 0) == 0) path_var = e.substr(5);
  }

  // The machine: this host, or (--kernel) a VM booting the kernel under test.
  MachineRequest mreq;
  if (f.vm) mreq.vm = &*f.vm;
  mreq.tests_dir = std::filesystem::path(Absolute(tests_dir)).lexically_normal().string();
  while (mreq.tests_dir.size() > 1 && mreq.tests_dir.back() == '/') mreq.tests_dir.pop_back();
  if (f.vm) {
    // Beside a store file; in the working directory for a store on a server.
    std::string db_dir = store::IsPostgresUri(f.db_path) ? Absolute(".")
                                                          : std::filesystem::path(Absolute(f.db_path)).parent_path().string();
    mreq.work_dir = f.vm_work_dir.empty() ? fmt::format("{}/vigil-vm/{}-{}", db_dir, clock_.UtcNow(), getpid())
                                          : f.vm_work_dir;
    // Its sockets' paths must fit a Unix socket's (107 bytes): beside a
    // store deep in a CI workspace they do not; /tmp then.
    if (f.vm_work_dir.empty() && mreq.work_dir.size() > 80) {
      // A directory of its own (mkdtemp: nobody else's, made now), not a
      // name another user could have taken first.
      std::string tmpl = "/tmp/vigil-vm-XXXXXX";
      if (mkdtemp(tmpl.data()) == nullptr) {
        return Status::IOError(fmt::format("mkdtemp {}: {}", tmpl, std::strerror(errno)));
      }
      mreq.work_dir = tmpl;
    }
  }
  mreq.guest_path = path_var;
  mreq.use_cgroups = options.use_cgroups;
  mreq.hidden = f.vm_hidden;
  mreq.run_uid = f.vm_run_uid;
  mreq.run_gid = f.vm_run_gid;
  mreq.cancel = cancel;
  auto launched = launcher_(mreq, [&](const std::string& line) { observer_.OnNote(line); });
  if (!launched.ok()) return launched.status();
  std::unique_ptr<Machine> machine = std::move(*launched);
  std::string console_log = machine->console_log();
  options.process_runner = machine->runner();
  // Under TCG everything is slower: timeouts stretch unless --slowdown says otherwise.
  if (machine->accel() == "tcg" && !f.slowdown_set) options.slowdown = 3.0;

  std::optional<int64_t> env_id;
  if (f.shard_count > 0) {
    auto id = db_.EnsureEnvironment(machine->DetectEnvironment());
    if (!id.ok()) observer_.OnWarning(fmt::format("cannot record the environment: {}", id.status().message()));
    env_id = id.ok() ? *id : 0;
    bool finished_already = false;
    auto joined = JoinGroup(db_, clock_, observer_, tests, *env_id, console_log, f, tests_dir, &recorded,
                            &finished_already);
    if (!joined.ok()) return joined.status();
    run_id = *joined;
    if (finished_already) {
      SessionEnd done;
      done.run_id = run_id;
      return done;
    }
    // This shard's tests that are still to run.
    std::set<std::string> mine;
    auto shards = db_.LoadRunShards(run_id);
    if (!shards.ok()) return shards.status();
    for (const auto& t : (*shards)[static_cast<size_t>(f.shard - 1)].tests) mine.insert(t);
    size_t planned_tests = tests.size();
    prior = PriorAttempts(recorded);
    keep_unfinished(&mine);
    size_t done = mine.size() - std::min(mine.size(), tests.size());
    observer_.OnNote(fmt::format("run {} (run group {}): shard {}/{}: {} of the run's {} tests{}", run_id,
                                 SanitizeForTerminal(f.run_group), f.shard, f.shard_count, mine.size(), planned_tests,
                                 done == 0 ? "" : fmt::format(", {} done before", done)));
    if (f.vm) {
      model::VmSpec spec = *f.vm;
      spec.slowdown = f.slowdown_set ? std::optional<double>(f.slowdown) : std::nullopt;
      if (Status st = db_.SetRunVm(run_id, spec.ToJson()); !st.ok())
        observer_.OnWarning(fmt::format("cannot record what run {} booted: {}", run_id, st.message()));
    }
  }
  // Longest first (durations from earlier runs; unknown tests first): the
  // run ends sooner with -j. Reports keep the plan's order.
  std::vector<size_t> order(tests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (auto durations = db_.LastDurations(); durations.ok() && f.jobs > 1) {
    auto known = [&](size_t i) {
      auto it = durations->find(tests[i].path());
      return it == durations->end() ? INT64_MAX : it->second;
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return known(a) > known(b); });
  }

  SessionEnd end;
  for (int repetition = 1; repetition <= f.repeat; ++repetition) {
    if (run_id == 0) {
      if (!env_id) {
        auto id = db_.EnsureEnvironment(machine->DetectEnvironment());
        if (!id.ok()) observer_.OnWarning(fmt::format("cannot record the environment: {}", id.status().message()));
        env_id = id.ok() ? *id : 0;
      }
      model::RunRecord run;
      run.started_at = clock_.UtcNow();
      run.host = f.host;
      run.command = f.command_line;
      run.tests_dir = Absolute(tests_dir);
      for (const auto& t : tests) run.plan.push_back(t.path());
      run.environment_id = *env_id;
      run.owner = f.owner;
      run.build_id = f.build_id;
      // What --resume carries over.
      nlohmann::json options = {{"retries", f.retries}};
      if (!f.config_path.empty()) options["config"] = Absolute(f.config_path);
      run.options_json = DumpJson(options);
      auto id = db_.CreateRun(run);
      if (!id.ok()) return id.status();
      run_id = *id;
      if (!console_log.empty()) {
        if (Status st = db_.SetConsoleLog(run_id, console_log); !st.ok())
          observer_.OnWarning(fmt::format("cannot record the console log of run {}: {}", run_id, st.message()));
      }
      if (f.vm) {
        model::VmSpec spec = *f.vm;
        spec.slowdown = f.slowdown_set ? std::optional<double>(f.slowdown) : std::nullopt;
        if (Status st = db_.SetRunVm(run_id, spec.ToJson()); !st.ok())
          observer_.OnWarning(fmt::format("cannot record what run {} booted: {}", run_id, st.message()));
      }
    }
    int jobs = std::max(1, std::min<int>(f.jobs, static_cast<int>(std::max<size_t>(tests.size(), 1))));
    RunStart start{run_id, tests.size(), tests_dir, repetition, f.repeat, {}, jobs};
    // What a front-end needs for its ETA: the latest durations (earlier
    // repetitions included) and each test's timeout as RunTest applies it.
    auto last = db_.LastDurations();
    for (size_t i : order) {
      PlannedTest p{tests[i].path(),
                    static_cast<int64_t>(std::ceil(static_cast<double>(tests[i].timeout.count()) * options.slowdown)),
                    std::nullopt};
      if (last.ok()) {
        if (auto it = last->find(p.path); it != last->end()) p.last_duration_ms = it->second;
      }
      start.plan.push_back(std::move(p));
    }
    observer_.OnRunStarted(start);

    std::vector<std::vector<model::AttemptRecord>> fresh(tests.size());
    runner::Scheduler scheduler(tests, order, config);
    std::mutex mu;  // the store and the observer
    size_t done = 0;
    std::atomic<bool> stop_after_crash{false};
    std::atomic<size_t> not_run{0};
    size_t not_started = 0, interrupted = 0;  // by a cancellation (under mu)
    bool store_failed = false;
    auto worker = [&] {
      while (std::optional<size_t> next = scheduler.Next()) {
        size_t i = *next;
        if (cancelled()) {
          // Cancelled: nothing starts any more (--resume runs it later).
          {
            std::lock_guard<std::mutex> lock(mu);
            ++not_started;
          }
          scheduler.Done(i);
          continue;
        }
        if (stop_after_crash) {
          // --on-crash stop: what is left is not run (--resume runs it later).
          ++not_run;
          scheduler.Done(i);
          continue;
        }
        // A failure whose retry an earlier invocation did not finish goes on
        // from its next attempt.
        auto before = prior.find(tests[i].path());
        const int first = before == prior.end() ? 1 : before->second.last() + 1;
        for (int attempt = first; attempt <= 1 + retries[i]; ++attempt) {
          std::string started = clock_.UtcNow();
          if (attempt == first) {
            std::lock_guard<std::mutex> lock(mu);
            observer_.OnTestStarted(tests[i].path());
          }
          OutputToObserver output(observer_, tests[i].path());
          runner::TestOutcome o = runner::RunTest(tests[i], static_cast<int>(i + 1), options, &output);
          if (o.process.vm_died && f.stop_on_crash) stop_after_crash = true;
          model::AttemptRecord a = ToRecord(o, started);
          a.attempt = attempt;
          bool failed = ktap::IsFailure(o.node.status);
          std::lock_guard<std::mutex> lock(mu);
          if (a.interrupted) ++interrupted;
          // Committed as soon as it finished: a crash of vigil loses nothing.
          Status st = db_.RecordAttempt(run_id, a);
          if (!st.ok() && !store_failed) {
            store_failed = true;
            observer_.OnWarning(fmt::format("cannot record {}: {}", a.test_path, st.message()));
          }
          fresh[i].push_back(std::move(a));
          // A cancelled run retries nothing: an interrupted attempt is no
          // verdict, and a failure that ended as the signal came stays one.
          if (!failed || attempt == 1 + retries[i] || cancelled()) {
            ++done;
            std::vector<std::string> statuses;
            if (before != prior.end()) {
              for (const auto& [n, s] : before->second.statuses) statuses.push_back(s);
            }
            for (const auto& r : fresh[i]) statuses.push_back(r.status);
            observer_.OnTestFinished({tests[i].path(), model::ParseStatus(judge::FinalStatus(statuses)),
                                      fresh[i].back().duration_ms, attempt, done, tests.size()});
            break;
          }
          observer_.OnRetry(tests[i].path(), o.node.status, attempt);
        }
        scheduler.Done(i);
      }
    };
    std::vector<std::thread> threads;
    for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    observer_.OnTestsDone();
    end.run_id = run_id;
    if (cancel && cancel->killing()) {
      // Killed at once: what ended is recorded, the run stays unfinished
      // (resumable); no report.
      end.cancelled = true;
      end.exit_code = cancel->ExitCode();
      return end;
    }
    if (not_run > 0 && f.shard_count > 0) {
      observer_.OnNote(fmt::format(
          "vm: the kernel crashed and --on-crash is stop: {} test(s) of shard {}/{} not run (the same command run "
          "again runs them)",
          not_run.load(), f.shard, f.shard_count));
      end.exit_code = 1;
    } else if (not_run > 0) {
      observer_.OnNote(fmt::format(
          "vm: the kernel crashed and --on-crash is stop: {} test(s) not run (vigil run --db {} --resume {} runs "
          "them in a VM booting the same kernel)",
          not_run.load(), ShellQuote(ShownDb(f.db_path)), run_id));
      end.exit_code = 1;
    }
    for (const auto& note : machine->Notes()) observer_.OnNote(note);

    // The whole run, in plan order: what an earlier invocation recorded
    // (with --resume), then this one's.
    report::FinishedRun finished;
    finished.run_id = run_id;
    finished.tests_dir = tests_dir;
    {
      RunRequest resolved = f;
      resolved.tests_dir = tests_dir;
      finished.rerun = RerunArgv(resolved);
    }
    finished.console_log = console_log;
    finished.timeouts = timeouts;
    std::vector<model::TestResult>& results = finished.results;
    std::map<std::string, size_t> index;
    for (auto& a : recorded) {
      auto [it, inserted] = index.try_emplace(a.test_path, results.size());
      if (inserted) results.push_back({a.test_path, {}});
      results[it->second].attempts.push_back(std::move(a));
    }
    recorded.clear();
    for (size_t i = 0; i < tests.size(); ++i) {
      if (fresh[i].empty()) continue;
      auto [it, inserted] = index.try_emplace(tests[i].path(), results.size());
      if (inserted) results.push_back({tests[i].path(), {}});
      for (auto& a : fresh[i]) results[it->second].attempts.push_back(std::move(a));
    }
    for (const auto& r : results) {
      auto& tally = end.repeat_tally[r.path];
      tally.second += 1;
      tally.first += model::IsFailure(judge::FinalStatusOf(r.attempts)) ? 1 : 0;
    }
    ktap::Status agg = report::CountResults(results).aggregate;
    finished.status = std::string(ktap::StatusName(agg));
    bool was_cancelled = cancelled();
    if (was_cancelled) {
      // Finished as far as it went; `--resume` completes it (judged runs
      // and history leave an INTERRUPTED run out).
      finished.status = report::kInterruptedRunStatus;
      finished.interrupted_tests = interrupted;
      finished.not_started = not_started;
    }
    bool whole_run = true;  // this is the run's end (a shard's: the last shard's)
    if (f.shard_count > 0) {
      // A shard ends; the last of them ends the run, and reports and judges
      // it whole.
      std::string now = clock_.UtcNow();
      // Stopped (a signal, --on-crash stop): not finished; its command run
      // again runs the rest.
      bool stopped = was_cancelled || not_run > 0;
      auto left = db_.EndShard(run_id, f.shard, finished.status, stopped ? "" : now);
      whole_run = false;
      if (!left.ok()) {
        observer_.OnWarning(fmt::format("cannot end shard {} of run {}: {}", f.shard, run_id, left.status().message()));
        store_failed = true;
      } else if (*left == 0 && !stopped) {
        auto group_end = FinishGroupRun(db_, run_id);
        if (!group_end.ok()) {
          observer_.OnWarning(fmt::format("cannot finish run {}: {}", run_id, group_end.status().message()));
          store_failed = true;
        } else if (group_end->finished) {
          whole_run = true;
          std::string shard_status = finished.status;
          finished.results = std::move(group_end->run.results);
          finished.status = group_end->run.status;
          agg = report::CountResults(finished.results).aggregate;
          observer_.OnNote(fmt::format(
              "shard {}/{} ({}) was the last of run group {} to finish: the whole run follows", f.shard,
              f.shard_count, shard_status, SanitizeForTerminal(f.run_group)));
        }
      } else if (!stopped) {
        observer_.OnNote(fmt::format(
            "shard {}/{} of run group {} (run {}) finished; {} shard(s) still to finish: the last reports the whole "
            "run and exits with its result (vigil group wait {} --db {} waits for it)",
            f.shard, f.shard_count, SanitizeForTerminal(f.run_group), run_id, *left,
            ShellQuote(SanitizeForTerminal(f.run_group)), ShellQuote(ShownDb(f.db_path))));
      }
    } else {
      Status fin = db_.FinishRun(run_id, finished.status, clock_.UtcNow());
      if (!fin.ok()) observer_.OnWarning(fmt::format("cannot finish run {}: {}", run_id, fin.message()));
    }

    // The verdict (known issues, quarantine, baseline) when asked for.
    if (judged && !was_cancelled && whole_run) {
      VerdictRequest req;
      req.run_id = run_id;
      req.baseline = f.baseline.empty() ? "none" : f.baseline;
      req.known_issues = f.known_issues;
      req.today = FormatUtc(clock_.Now()).substr(0, 10);
      auto v = ComputeVerdict(db_, req);
      if (v.ok()) {
        finished.verdict = std::move(v.value());
      } else {
        observer_.OnWarning(fmt::format("no verdict: {}", v.status().message()));
        store_failed = true;
      }
    }
    if (Status st = observer_.OnRunFinished(finished); !st.ok()) return st;
    if (was_cancelled && f.shard_count > 0) {
      observer_.OnNote(fmt::format(
          "shard {}/{} of run group {} was stopped (SIG{}): {} test(s) interrupted, {} not started; the same command "
          "run again finishes it",
          f.shard, f.shard_count, SanitizeForTerminal(f.run_group),
          sigabbrev_np(cancel->signal()) ? sigabbrev_np(cancel->signal()) : "?", interrupted, not_started));
      end.cancelled = true;
      end.exit_code = cancel->ExitCode();
      return end;
    }
    if (was_cancelled) {
      observer_.OnNote(fmt::format(
          "run {} was stopped (SIG{}): {} test(s) interrupted, {} not started; to finish it: vigil run --resume "
          "{} --db {}",
          run_id, sigabbrev_np(cancel->signal()) ? sigabbrev_np(cancel->signal()) : "?", interrupted, not_started, run_id, ShellQuote(f.db_path.empty() ? "vigil.db" : store::ShownPath(f.db_path))));
      end.cancelled = true;
      end.exit_code = cancel->ExitCode();
      return end;
    }
    if (store_failed) {
      end.exit_code = 2;
      return end;
    }
    int rep_code = finished.verdict ? judge::ExitCode(finished.verdict->level) : (ktap::IsFailure(agg) ? 1 : 0);
    // A shard that is not the last: its failures are the whole run's, which
    // the last shard (or vigil group wait) reports and exits with; an engine
    // that retries failed jobs must not run it again.
    if (!whole_run) rep_code = 0;
    bool failed = rep_code != 0;
    end.exit_code = std::max(end.exit_code, rep_code);
    run_id = 0;
    if (failed && f.until_fail) {
      if (f.repeat > 1) observer_.OnNote(fmt::format("stopped at repetition {}: --until-fail", repetition));
      break;
    }
  }
  return end;
}

}  // namespace vigil::engine
