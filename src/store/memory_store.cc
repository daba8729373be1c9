#include "store/memory_store.h"

#include <algorithm>
#include <climits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"
#include "model/verdicts.h"

namespace vigil::store {
namespace {

using model::AttemptRecord;
using model::BisectionRecord;
using model::BisectRunRecord;
using model::BuildDiagnosticRecord;
using model::BuildRecord;
using model::Environment;
using model::RunRecord;
using model::SeriesCheckRecord;
using model::SeriesMailRecord;
using model::SeriesRecord;

struct StoredRun {
  RunRecord run;
  std::string console_log;
  std::vector<AttemptRecord> attempts;             // in the order recorded
  std::set<std::pair<std::string, int>> recorded;  // (test path, attempt)
  std::vector<model::RunShardRecord> shards;       // a run split across machines
};

struct StoredBuild {
  BuildRecord build;
  std::vector<BuildDiagnosticRecord> diagnostics;
};

struct StoredBisection {
  BisectionRecord bisection;
  std::vector<BisectRunRecord> runs;
};

class MemoryStore final : public Store {
 public:
  int schema_version() const override { return kSchemaVersion; }

  Result<int64_t> EnsureEnvironment(const Environment& env) override {
    std::string fp = env.Fingerprint();
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (auto it = by_fingerprint_.find(fp); it != by_fingerprint_.end()) return it->second;
    int64_t id = static_cast<int64_t>(environments_.size()) + 1;
    environments_.emplace(id, env);
    by_fingerprint_.emplace(fp, id);
    return id;
  }

  Result<int64_t> CreateRun(const RunRecord& run) override {
    if (auto dup = DuplicateInPlan(run.plan)) {
      return Status::InvalidArgument(fmt::format("the plan names {} twice", *dup));
    }
    std::lock_guard<std::mutex> lock(mu_);
    return CreateRunLocked(run);
  }

  Result<int64_t> CreateRunLocked(const RunRecord& run) {
    ++version_;
    if (run.environment_id > 0 && !environments_.count(run.environment_id)) {
      return Status::InvalidArgument(fmt::format("no environment {}", run.environment_id));
    }
    if (run.build_id > 0 && !FindBuild(run.build_id)) {
      return Status::InvalidArgument(fmt::format("no build {}", run.build_id));
    }
    StoredRun s;
    s.run.id = static_cast<int64_t>(runs_.size()) + 1;
    s.run.started_at = run.started_at;
    s.run.host = run.host;
    s.run.command = run.command;
    s.run.tests_dir = run.tests_dir;
    s.run.plan = run.plan;
    s.run.environment_id = run.environment_id > 0 ? run.environment_id : 0;
    s.run.owner = run.owner;
    s.run.build_id = run.build_id > 0 ? run.build_id : 0;
    s.run.uid = run.uid.empty() ? NewRunUid() : run.uid;
    s.run.options_json = run.options_json;
    runs_.push_back(std::move(s));
    return runs_.back().run.id;
  }

  Status RecordAttempt(int64_t run_id, const AttemptRecord& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    StoredRun* r = Find(run_id);
    if (!r) return Status::InvalidArgument(fmt::format("no run {}", run_id));
    if (!r->recorded.insert({a.test_path, a.attempt}).second) {
      return Status::InvalidArgument(fmt::format("attempt {} of {} is recorded already", a.attempt, a.test_path));
    }
    AttemptRecord kept = a;
    // The issues as the SQLite backend keeps them: through JSON, invalid
    // UTF-8 replaced.
    nlohmann::json issues = nlohmann::json::parse(
        DumpJson(nlohmann::json(a.environment_issues)));
    kept.environment_issues = issues.get<std::vector<std::string>>();
    if (!a.interrupted) last_durations_[a.test_path] = a.duration_ms;
    for (const auto& c : a.crashes) {
      model::CrashSighting cs{static_cast<int64_t>(sightings_.size()) + 1, run_id, a.test_path, a.attempt,
                              a.started_at, c};
      sightings_.push_back({std::move(cs), a.interrupted});
    }
    r->attempts.push_back(std::move(kept));
    return Status::OK();
  }

  Status SetConsoleLog(int64_t run_id, const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (StoredRun* r = Find(run_id)) r->console_log = path;
    return Status::OK();  // like an UPDATE of no row
  }

  Status SetRunVm(int64_t run_id, const std::string& vm_json) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (StoredRun* r = Find(run_id)) r->run.vm_json = vm_json;
    return Status::OK();
  }

  Status FinishRun(int64_t run_id, const std::string& status, const std::string& finished_at) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (StoredRun* r = Find(run_id)) {
      r->run.status = status;
      r->run.finished_at = finished_at;
      r->run.owner.clear();
    }
    return Status::OK();
  }

  Result<bool> ClaimRun(int64_t run_id, const std::string& expected, const std::string& owner) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    StoredRun* r = Find(run_id);
    if (!r) return Status::NotFound(fmt::format("no run {}", run_id));
    if (r->run.owner != expected) return false;
    r->run.owner = owner;
    return true;
  }

  Result<int64_t> CreateGroupRun(const RunRecord& run, const std::vector<std::vector<std::string>>& shard_tests) override {
    if (Status valid = ValidGroupRun(run, shard_tests); !valid.ok()) return valid;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : runs_) {
      if (r.run.run_group == run.run_group) return r.run.id;
    }
    auto id = CreateRunLocked(run);
    if (!id.ok()) return id;
    StoredRun* r = Find(*id);
    r->run.owner.clear();
    r->run.run_group = run.run_group;
    r->run.shards = run.shards;
    for (size_t k = 0; k < shard_tests.size(); ++k) {
      model::RunShardRecord shard;
      shard.run_id = *id;
      shard.shard = static_cast<int>(k + 1);
      shard.tests = shard_tests[k];
      r->shards.push_back(std::move(shard));
    }
    return id;
  }

  Result<int64_t> FindGroupRun(const std::string& group) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : runs_) {
      if (!group.empty() && r.run.run_group == group) return r.run.id;
    }
    return Status::NotFound(fmt::format("no run group {}", group));
  }

  Result<std::vector<model::RunShardRecord>> LoadRunShards(int64_t run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredRun* r = Find(run_id);
    if (!r) return Status::NotFound(fmt::format("no run {}", run_id));
    return r->shards;
  }

  Result<bool> StartShard(const model::RunShardRecord& s, const std::string& expected) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    model::RunShardRecord* shard = FindShard(s.run_id, s.shard);
    if (!shard) return Status::NotFound(fmt::format("no shard {} of run {}", s.shard, s.run_id));
    if (shard->owner != expected || !shard->finished_at.empty()) return false;
    std::vector<std::string> tests = std::move(shard->tests);
    *shard = s;
    shard->tests = std::move(tests);
    shard->environment_id = std::max<int64_t>(s.environment_id, 0);
    shard->finished_at.clear();
    shard->status.clear();
    return true;
  }

  Result<int> EndShard(int64_t run_id, int shard_no, const std::string& status, const std::string& finished_at) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (!Find(run_id)) return Status::NotFound(fmt::format("no run {}", run_id));
    model::RunShardRecord* shard = FindShard(run_id, shard_no);
    if (!shard) return Status::NotFound(fmt::format("no shard {} of run {}", shard_no, run_id));
    shard->status = status;
    shard->finished_at = finished_at;
    shard->owner.clear();
    int left = 0;
    for (const auto& s : Find(run_id)->shards) left += s.finished_at.empty() ? 1 : 0;
    return left;
  }

  Status DiscardInterrupted(int64_t run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    StoredRun* r = Find(run_id);
    if (!r) return Status::OK();  // like a DELETE of no row
    auto& as = r->attempts;
    for (const auto& a : as) {
      if (a.interrupted) r->recorded.erase({a.test_path, a.attempt});
    }
    as.erase(std::remove_if(as.begin(), as.end(), [](const AttemptRecord& a) { return a.interrupted; }), as.end());
    for (auto& s : sightings_) {
      if (s.sighting.run_id == run_id && s.interrupted) s.discarded = true;
    }
    return Status::OK();
  }

  Result<RunRecord> LoadRun(int64_t run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredRun* r = Find(run_id);
    if (!r) return Status::NotFound(fmt::format("no run {}", run_id));
    return r->run;
  }

  using Store::ListRuns;
  Result<std::vector<RunRecord>> ListRuns(const RunQuery& query) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<RunRecord> out;
    int skip = query.newest > 0 ? std::max(query.skip, 0) : 0;
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) {
      if (query.newest > 0 && static_cast<int>(out.size()) >= query.newest) break;
      if (!Matches(query, it->run)) continue;
      if (skip > 0) {
        --skip;
        continue;
      }
      out.push_back(it->run);
      if (!query.plans) out.back().plan.clear();
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  Result<int64_t> DataVersion() override {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
  }

  Result<int64_t> CountRuns(const RunQuery& query) override {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(
        std::count_if(runs_.begin(), runs_.end(), [&](const StoredRun& r) { return Matches(query, r.run); }));
  }

  Result<std::vector<model::AttemptBrief>> LoadAttemptBriefs(const std::vector<int64_t>& run_ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<model::AttemptBrief> out;
    for (int64_t id : run_ids) {
      const StoredRun* r = Find(id);
      if (!r) continue;
      for (const auto& a : r->attempts) {
        out.push_back({id, a.test_path, a.attempt, a.status, a.duration_ms, static_cast<int>(a.crashes.size()),
                       a.interrupted});
      }
    }
    return out;
  }

  Result<std::vector<model::TestSummary>> LoadTestSummaries(const std::vector<int64_t>& run_ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<model::TestSummary> out;
    for (int64_t id : run_ids) {
      const StoredRun* r = Find(id);
      if (!r) continue;
      // By test path, each with its attempts in attempt order.
      std::map<std::string, std::vector<AttemptRecord>> by_test;
      for (const auto& a : r->attempts) by_test[a.test_path].push_back(a);
      for (auto& [path, as] : by_test) {
        std::stable_sort(as.begin(), as.end(),
                         [](const AttemptRecord& a, const AttemptRecord& b) { return a.attempt < b.attempt; });
        model::TestSummary t = model::SummarizeTest(id, path, as);
        if (t.attempts > 0) out.push_back(std::move(t));
      }
    }
    return out;
  }

  Result<std::vector<model::RunAttempt>> LoadTestAttempts(
      const std::string& test_path, int runs, int64_t up_to,
      const std::optional<std::vector<int64_t>>& only_runs) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<model::RunAttempt> out;
    int taken = 0;
    for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) {
      if (runs > 0 && taken >= runs) break;
      if (up_to > 0 && it->run.id > up_to) continue;
      if (only_runs && std::find(only_runs->begin(), only_runs->end(), it->run.id) == only_runs->end()) continue;
      std::vector<model::RunAttempt> mine;
      for (const auto& a : it->attempts) {
        if (a.test_path != test_path) continue;
        model::RunAttempt ra{it->run.id, a};
        ra.attempt.output.clear();
        for (auto& c : ra.attempt.crashes) c.text.clear();
        mine.push_back(std::move(ra));
      }
      if (mine.empty()) continue;
      ++taken;
      out.insert(out.begin(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
    }
    return out;
  }

  Result<std::vector<model::CrashSighting>> ListCrashSightings() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<model::CrashSighting> out;
    for (const auto& s : sightings_) {
      if (s.discarded) continue;
      out.push_back(s.sighting);
      out.back().crash.text.clear();
    }
    return out;
  }

  Result<std::string> LoadCrashText(int64_t crash_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (crash_id < 1 || crash_id > static_cast<int64_t>(sightings_.size()) ||
        sightings_[static_cast<size_t>(crash_id - 1)].discarded) {
      return Status::NotFound(fmt::format("no kernel report {}", crash_id));
    }
    return sightings_[static_cast<size_t>(crash_id - 1)].sighting.crash.text;
  }

  Result<Environment> LoadEnvironment(int64_t environment_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = environments_.find(environment_id);
    if (it == environments_.end()) return Status::NotFound(fmt::format("no environment {}", environment_id));
    return it->second;
  }

  Result<std::map<int64_t, Environment>> ListEnvironments() override {
    std::lock_guard<std::mutex> lock(mu_);
    return environments_;
  }

  Result<std::string> LoadConsoleLog(int64_t run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredRun* r = Find(run_id);
    if (!r) return Status::NotFound(fmt::format("no run {}", run_id));
    return r->console_log;
  }

  Result<int64_t> LatestRun() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (runs_.empty()) return Status::NotFound("no runs in the database");
    return runs_.back().run.id;
  }

  Result<std::vector<AttemptRecord>> LoadAttempts(int64_t run_id, bool with_output, bool with_crash_texts) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredRun* r = Find(run_id);
    if (!r) return std::vector<AttemptRecord>();
    std::vector<AttemptRecord> out = r->attempts;
    if (!with_output) {
      for (auto& a : out) {
        a.output.clear();
        if (!with_crash_texts) {
          for (auto& c : a.crashes) c.text.clear();
        }
      }
    }
    return out;
  }

  Result<std::string> LoadAttemptOutput(int64_t run_id, const std::string& test_path, int attempt) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (StoredRun* r = Find(run_id)) {
      for (const auto& a : r->attempts)
        if (a.test_path == test_path && a.attempt == attempt) return a.output;
    }
    return Status::NotFound(fmt::format("run {} has no attempt {} of {}", run_id, attempt, test_path));
  }

  Result<int64_t> CreateBisection(const BisectionRecord& b) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    StoredBisection s;
    s.bisection.id = static_cast<int64_t>(bisections_.size()) + 1;
    s.bisection.repo = b.repo;
    s.bisection.good = b.good;
    s.bisection.bad = b.bad;
    s.bisection.options_json = b.options_json;
    s.bisection.status = b.status;
    s.bisection.started_at = b.started_at;
    bisections_.push_back(std::move(s));
    return bisections_.back().bisection.id;
  }

  Result<BisectionRecord> ActiveBisection(const std::string& repo) override {
    std::lock_guard<std::mutex> lock(mu_);
    return FindBisection(repo, true);
  }

  Result<BisectionRecord> LoadBisection(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredBisection* b = FindBisection(id);
    if (!b) return Status::NotFound(fmt::format("no bisection {}", id));
    return b->bisection;
  }

  Result<BisectionRecord> LatestBisection(const std::string& repo) override {
    std::lock_guard<std::mutex> lock(mu_);
    return FindBisection(repo, false);
  }

  Status RecordBisectRun(int64_t bisection_id, const BisectRunRecord& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    StoredBisection* b = FindBisection(bisection_id);
    if (!b) return Status::InvalidArgument(fmt::format("no bisection {}", bisection_id));
    b->runs.push_back(r);
    return Status::OK();
  }

  Result<std::vector<BisectRunRecord>> LoadBisectRuns(int64_t bisection_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredBisection* b = FindBisection(bisection_id);
    if (!b) return std::vector<BisectRunRecord>();
    return b->runs;
  }

  Status FinishBisection(int64_t id, const std::string& status, const std::string& result_json,
                         const std::string& finished_at) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (StoredBisection* b = FindBisection(id)) {
      b->bisection.status = status;
      b->bisection.result_json = result_json;
      b->bisection.finished_at = finished_at;
    }
    return Status::OK();  // like an UPDATE of no row
  }

  Result<std::map<std::string, int64_t>> LastDurations() override {
    std::lock_guard<std::mutex> lock(mu_);
    return last_durations_;
  }

  Result<int64_t> RecordBuild(const BuildRecord& b,
                              const std::vector<BuildDiagnosticRecord>& diagnostics) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    StoredBuild s{b, diagnostics};
    s.build.id = static_cast<int64_t>(builds_.size()) + 1;
    builds_.push_back(std::move(s));
    return builds_.back().build.id;
  }

  Result<BuildRecord> LoadBuild(int64_t build_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredBuild* b = FindBuild(build_id);
    if (!b) return Status::NotFound(fmt::format("no build {}", build_id));
    return b->build;
  }

  Result<std::vector<BuildRecord>> ListBuilds(const BuildQuery& query) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<BuildRecord> out;
    for (auto it = builds_.rbegin(); it != builds_.rend(); ++it) {
      const BuildRecord& b = it->build;
      if (query.newest > 0 && static_cast<int>(out.size()) >= query.newest) break;
      if (query.before > 0 && b.id >= query.before) continue;
      if (!query.tree.empty() && b.tree != query.tree) continue;
      if (!query.variant.empty() && b.variant != query.variant) continue;
      if (!query.status.empty() && b.status != query.status) continue;
      out.push_back(b);
    }
    return out;
  }

  Result<std::vector<BuildDiagnosticRecord>> LoadBuildDiagnostics(int64_t build_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredBuild* b = FindBuild(build_id);
    if (!b) return Status::NotFound(fmt::format("no build {}", build_id));
    return b->diagnostics;
  }

  Result<std::string> WatchCursor(const std::string& source) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cursors_.find(source);
    return it == cursors_.end() ? std::string() : it->second;
  }

  Status StartWatchCursor(const std::string& source, const std::string& date) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    cursors_.emplace(source, date);
    return Status::OK();
  }

  Result<bool> EventAccepted(const std::string& source, int64_t event_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.count({source, event_id}) > 0;
  }

  Result<int64_t> AcceptEvent(const std::string& source, int64_t event_id, const std::string& event_date,
                              const std::optional<SeriesRecord>& queue) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (events_.count({source, event_id})) {
      return Status::InvalidArgument(
          fmt::format("event {} of {} was accepted already", event_id, SanitizeUtf8(source)));
    }
    int64_t id = 0;
    if (queue) {
      auto queued = InsertSeries(*queue);  // the only step that can fail: before any change
      if (!queued.ok()) return queued.status();
      id = *queued;
    }
    events_.insert({source, event_id});
    auto [it, fresh] = cursors_.emplace(source, event_date);
    if (!fresh) it->second = std::max(it->second, event_date);
    return id;
  }

  Result<int64_t> QueueSeries(const SeriesRecord& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    return InsertSeries(s);
  }

  Status UpdateSeries(const SeriesRecord& s) override {
    Status valid = ValidSeries(s);
    if (!valid.ok()) return valid;
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    SeriesRecord* r = FindSeriesById(s.id);
    if (!r) return Status::NotFound(fmt::format("no series {}", s.id));
    r->state = s.state;
    r->tree = s.tree;
    r->base_commit = s.base_commit;
    r->head_commit = s.head_commit;
    r->conclusion = s.conclusion;
    r->result_json = s.result_json;
    r->series_json = s.series_json;
    r->updated_at = s.updated_at;
    return Status::OK();
  }

  Result<SeriesRecord> LoadSeries(int64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    SeriesRecord* r = FindSeriesById(id);
    if (!r) return Status::NotFound(fmt::format("no series {}", id));
    return *r;
  }

  Result<SeriesRecord> FindSeries(const std::string& source, int64_t series_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    // Rounds grow with ids: the newest of the pair is its highest round.
    for (auto it = series_.rbegin(); it != series_.rend(); ++it) {
      if (it->source == source && it->series_id == series_id) return *it;
    }
    return Status::NotFound(fmt::format("no series {} of {}", series_id, SanitizeUtf8(source)));
  }

  Result<std::vector<SeriesRecord>> ListSeries(const SeriesQuery& query) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SeriesRecord> out;
    for (auto it = series_.rbegin(); it != series_.rend(); ++it) {
      if (query.limit > 0 && static_cast<int>(out.size()) >= query.limit) break;
      if (!query.source.empty() && it->source != query.source) continue;
      if (!query.states.empty() &&
          std::find(query.states.begin(), query.states.end(), it->state) == query.states.end()) {
        continue;
      }
      out.push_back(*it);
    }
    return out;
  }

  Result<std::map<int64_t, RunOrigin>> LoadRunOrigins(const std::vector<int64_t>& run_ids) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<int64_t> wanted(run_ids.begin(), run_ids.end());
    std::map<int64_t, RunOrigin> out;
    // Oldest first: a later series of the same role does not replace it.
    for (const auto& s : series_) {
      for (const auto& r : model::SeriesRuns(s.result_json)) {
        if (!wanted.count(r.run)) continue;
        RunOrigin o{std::string(model::OriginKind(s.source)), s.id, s.name, r.role};
        auto [it, fresh] = out.emplace(r.run, o);
        if (!fresh && it->second.role != "tested" && o.role == "tested") it->second = o;
      }
    }
    return out;
  }

  Result<std::vector<int64_t>> ListRunsWithOrigin(const std::string& kind) override {
    std::vector<int64_t> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& s : series_) {
        for (const auto& r : model::SeriesRuns(s.result_json)) all.push_back(r.run);
      }
    }
    auto origins = LoadRunOrigins(all);
    if (!origins.ok()) return origins.status();
    std::vector<int64_t> out;
    for (const auto& [run, o] : *origins) {
      if (kind.empty() || o.kind == kind) out.push_back(run);
    }
    return out;
  }

  Status SetSeriesCheck(const SeriesCheckRecord& c) override {
    Status valid = ValidSeriesCheck(c);
    if (!valid.ok()) return valid;
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (!FindSeriesById(c.series)) return Status::NotFound(fmt::format("no series {}", c.series));
    // Keyed in the order LoadSeriesChecks gives: pending before final.
    checks_[{c.series, c.patch_id, c.phase != "pending", c.phase, c.context}] = c;
    return Status::OK();
  }

  Result<std::vector<SeriesCheckRecord>> LoadSeriesChecks(int64_t series) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SeriesCheckRecord> out;
    for (auto it = checks_.lower_bound({series, INT64_MIN, false, "", ""});
         it != checks_.end() && std::get<0>(it->first) == series; ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  Status SetSeriesMail(const SeriesMailRecord& m) override {
    Status valid = ValidSeriesMail(m);
    if (!valid.ok()) return valid;
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (!FindSeriesById(m.series)) return Status::NotFound(fmt::format("no series {}", m.series));
    mails_[m.series] = m;
    return Status::OK();
  }

  Result<SeriesMailRecord> LoadSeriesMail(int64_t series) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = mails_.find(series);
    if (it == mails_.end()) return Status::NotFound(fmt::format("no e-mail of series {}", series));
    return it->second;
  }

  Status SetBaseline(const std::string& key, const std::string& commit, int64_t run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++version_;
    if (!Find(run_id)) return Status::InvalidArgument(fmt::format("no run {}", run_id));
    baselines_[{key, commit}] = run_id;
    return Status::OK();
  }

  Result<int64_t> FindBaseline(const std::string& key, const std::string& commit) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = baselines_.find({key, commit});
    if (it == baselines_.end()) {
      return Status::NotFound(
          fmt::format("no baseline of {} at {}", SanitizeUtf8(key), SanitizeUtf8(commit)));
    }
    return it->second;
  }

 private:
  // Queues `s` as the next round of its (source, series_id); under the lock.
  Result<int64_t> InsertSeries(const SeriesRecord& s) {
    Status valid = ValidSeries(s);
    if (!valid.ok()) return valid;
    SeriesRecord kept = s;
    kept.id = static_cast<int64_t>(series_.size()) + 1;
    int& round = rounds_[{s.source, s.series_id}];
    kept.round = ++round;
    series_.push_back(std::move(kept));
    return series_.back().id;
  }
  SeriesRecord* FindSeriesById(int64_t id) {
    if (id < 1 || id > static_cast<int64_t>(series_.size())) return nullptr;
    return &series_[static_cast<size_t>(id - 1)];
  }
  static bool Matches(const RunQuery& query, const RunRecord& r) {
    if (query.up_to > 0 && r.id > query.up_to) return false;
    if (query.environment_ids) {
      const auto& ids = *query.environment_ids;
      bool match = std::any_of(ids.begin(), ids.end(), [&](int64_t id) {
        return id <= 0 ? r.environment_id == 0 : r.environment_id == id;
      });
      if (!match) return false;
    }
    if (query.ids && std::find(query.ids->begin(), query.ids->end(), r.id) == query.ids->end()) return false;
    if (std::find(query.exclude.begin(), query.exclude.end(), r.id) != query.exclude.end()) return false;
    if (query.build_id > 0 && r.build_id != query.build_id) return false;
    if (query.statuses &&
        std::find(query.statuses->begin(), query.statuses->end(), r.status) == query.statuses->end()) {
      return false;
    }
    return true;
  }

  StoredRun* Find(int64_t run_id) {
    if (run_id < 1 || run_id > static_cast<int64_t>(runs_.size())) return nullptr;
    return &runs_[static_cast<size_t>(run_id - 1)];
  }
  model::RunShardRecord* FindShard(int64_t run_id, int shard) {
    StoredRun* r = Find(run_id);
    if (!r) return nullptr;
    for (auto& s : r->shards) {
      if (s.shard == shard) return &s;
    }
    return nullptr;
  }
  StoredBuild* FindBuild(int64_t id) {
    if (id < 1 || id > static_cast<int64_t>(builds_.size())) return nullptr;
    return &builds_[static_cast<size_t>(id - 1)];
  }
  StoredBisection* FindBisection(int64_t id) {
    if (id < 1 || id > static_cast<int64_t>(bisections_.size())) return nullptr;
    return &bisections_[static_cast<size_t>(id - 1)];
  }
  Result<BisectionRecord> FindBisection(const std::string& repo, bool running_only) {
    for (auto it = bisections_.rbegin(); it != bisections_.rend(); ++it) {
      const BisectionRecord& b = it->bisection;
      if (b.repo == repo && (!running_only || b.status == "running")) return b;
    }
    return Status::NotFound("no bisection in progress");
  }

  std::mutex mu_;
  std::map<int64_t, Environment> environments_;
  std::map<std::string, int64_t> by_fingerprint_;
  int64_t version_ = 0;  // DataVersion: one more with each write (a refused one too: harmless for a cache)
  std::vector<StoredRun> runs_;  // runs_[i] has id i + 1
  struct StoredSighting {
    model::CrashSighting sighting;  // with its text
    bool interrupted = false;       // of an interrupted attempt
    bool discarded = false;         // by DiscardInterrupted (ids stay)
  };
  std::vector<StoredSighting> sightings_;  // sightings_[i] has id i + 1
  std::vector<StoredBisection> bisections_;
  std::vector<StoredBuild> builds_;  // builds_[i] has id i + 1
  std::map<std::string, int64_t> last_durations_;
  std::map<std::string, std::string> cursors_;             // source -> newest event date
  std::set<std::pair<std::string, int64_t>> events_;       // (source, event id) accepted
  std::vector<SeriesRecord> series_;                       // series_[i] has id i + 1
  std::map<std::pair<std::string, int64_t>, int> rounds_;  // (source, series id) -> highest round
  // (series, patch id, phase is not pending, phase, context) -> check
  std::map<std::tuple<int64_t, int64_t, bool, std::string, std::string>, SeriesCheckRecord> checks_;
  std::map<int64_t, SeriesMailRecord> mails_;                         // series -> its e-mail
  std::map<std::pair<std::string, std::string>, int64_t> baselines_;  // (key, commit) -> run
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace vigil::store
