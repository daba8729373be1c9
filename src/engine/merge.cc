#include "engine/merge.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/text.h"
#include "engine/run_group.h"

namespace vigil::engine {
namespace {

// Ids of `in` as they are in `out`, created there when new.
class IdMap {
 public:
  IdMap(store::Store& out, store::Store& in) : out_(out), in_(in) {}

  Result<int64_t> Environment(int64_t id) {
    if (id <= 0) return int64_t{0};
    if (auto it = envs_.find(id); it != envs_.end()) return it->second;
    auto env = in_.LoadEnvironment(id);
    if (!env.ok()) return env.status();
    auto mine = out_.EnsureEnvironment(*env);
    if (!mine.ok()) return mine.status();
    envs_[id] = *mine;
    return *mine;
  }

  // A build is the same build when it started at the same time on the same
  // host into the same directory.
  Result<int64_t> Build(int64_t id) {
    if (id <= 0) return int64_t{0};
    if (auto it = builds_.find(id); it != builds_.end()) return it->second;
    auto b = in_.LoadBuild(id);
    if (!b.ok()) return b.status();
    store::BuildQuery q;
    q.tree = b->tree;
    q.variant = b->variant;
    auto there = out_.ListBuilds(q);
    if (!there.ok()) return there.status();
    for (const auto& o : *there) {
      if (o.started_at == b->started_at && o.host == b->host && o.output_dir == b->output_dir) {
        builds_[id] = o.id;
        return o.id;
      }
    }
    auto diags = in_.LoadBuildDiagnostics(id);
    if (!diags.ok()) return diags.status();
    auto mine = out_.RecordBuild(*b, *diags);
    if (!mine.ok()) return mine.status();
    builds_[id] = *mine;
    return *mine;
  }

 private:
  store::Store& out_;
  store::Store& in_;
  std::map<int64_t, int64_t> envs_, builds_;
};

Status CopyAttempts(store::Store& out, int64_t out_run, const std::vector<model::AttemptRecord>& attempts,
                    const std::set<std::string>* only, const std::string& what) {
  for (const auto& a : attempts) {
    if (only && !only->count(a.test_path)) continue;
    Status st = out.RecordAttempt(out_run, a);
    if (!st.ok()) return Status::InvalidArgument(fmt::format("{}: {}", what, st.message()));
  }
  return Status::OK();
}

}  // namespace

Status MergeStore(store::Store& out, store::Store& in, const std::string& in_name, MergeSummary* summary) {
  IdMap ids(out, in);
  auto runs = in.ListRuns();
  if (!runs.ok()) return runs.status();
  std::string name = SanitizeForTerminal(in_name);
  for (const model::RunRecord& run : *runs) {
    auto env = ids.Environment(run.environment_id);
    if (!env.ok()) return env.status();
    auto build = ids.Build(run.build_id);
    if (!build.ok()) return build.status();
    model::RunRecord copy = run;
    copy.environment_id = *env;
    copy.build_id = *build;
    copy.owner.clear();
    if (run.shards == 0) {
      if (run.status.empty()) {
        ++summary->runs_unfinished;
        continue;
      }
      store::RunQuery q;
      q.plans = false;
      q.statuses = std::vector<std::string>{run.status};
      auto there = out.ListRuns(q);
      if (!there.ok()) return there.status();
      bool present = std::any_of(there->begin(), there->end(), [&](const model::RunRecord& o) {
        return o.shards == 0 && o.started_at == run.started_at && o.host == run.host && o.command == run.command;
      });
      if (present) {
        ++summary->runs_present;
        continue;
      }
      auto id = out.CreateRun(copy);
      if (!id.ok()) return id.status();
      auto attempts = in.LoadAttempts(run.id, true);
      if (!attempts.ok()) return attempts.status();
      if (Status st = CopyAttempts(out, *id, *attempts, nullptr, fmt::format("run {} of {}", run.id, name)); !st.ok())
        return st;
      if (auto log = in.LoadConsoleLog(run.id); log.ok() && !log->empty()) {
        if (Status st = out.SetConsoleLog(*id, *log); !st.ok()) return st;
      }
      if (!run.vm_json.empty()) {
        if (Status st = out.SetRunVm(*id, run.vm_json); !st.ok()) return st;
      }
      if (Status st = out.FinishRun(*id, run.status, run.finished_at); !st.ok()) return st;
      ++summary->runs_copied;
      continue;
    }
    // A shard (or shards) of a run group.
    std::string group = SanitizeForTerminal(run.run_group);
    auto shards = in.LoadRunShards(run.id);
    if (!shards.ok()) return shards.status();
    std::vector<std::vector<std::string>> split;
    for (const auto& s : *shards) split.push_back(s.tests);
    auto out_id = out.CreateGroupRun(copy, split);
    if (!out_id.ok()) return out_id.status();
    auto out_run = out.LoadRun(*out_id);
    if (!out_run.ok()) return out_run.status();
    auto out_shards = out.LoadRunShards(*out_id);
    if (!out_shards.ok()) return out_shards.status();
    if (out_run->shards != run.shards || out_shards->size() != shards->size()) {
      return Status::InvalidArgument(fmt::format("run group {} has {} shards in {} but {} in the output", group,
                                                 run.shards, name, out_run->shards));
    }
    if (!run.vm_json.empty() && out_run->vm_json.empty()) {
      if (Status st = out.SetRunVm(*out_id, run.vm_json); !st.ok()) return st;
    }
    auto attempts = in.LoadAttempts(run.id, true);
    if (!attempts.ok()) return attempts.status();
    // What the output's run has already, so that a test two shards ran is
    // refused before anything of this input's shard goes in.
    std::set<std::string> recorded;
    {
      auto there = out.LoadAttempts(*out_id, false);
      if (!there.ok()) return there.status();
      for (const auto& a : *there) recorded.insert(a.test_path);
    }
    for (const auto& s : *shards) {
      const model::RunShardRecord& o = (*out_shards)[static_cast<size_t>(s.shard - 1)];
      if (s.started_at.empty()) {
        ++summary->shards_absent;
        continue;
      }
      if (o.tests != s.tests) {
        return Status::InvalidArgument(fmt::format(
            "shard {}/{} of run group {} in {} has other tests than the group's (its split differs: were the "
            "shards run from different histories?)",
            s.shard, run.shards, group, name));
      }
      if (!o.started_at.empty()) {
        ++summary->shards_present;
        continue;
      }
      std::set<std::string> own(s.tests.begin(), s.tests.end());
      for (const auto& a : *attempts) {
        if (own.count(a.test_path) && recorded.count(a.test_path)) {
          return Status::InvalidArgument(fmt::format(
              "shard {}/{} of run group {} in {} ran {}, which the output's run has results of already", s.shard,
              run.shards, group, name, SanitizeForTerminal(a.test_path)));
        }
      }
      Status st = CopyAttempts(out, *out_id, *attempts, &own,
                               fmt::format("shard {}/{} of run group {} in {}", s.shard, run.shards, group, name));
      if (!st.ok()) return st;
      model::RunShardRecord start = s;
      start.run_id = *out_id;
      start.owner.clear();
      auto senv = ids.Environment(s.environment_id);
      if (!senv.ok()) return senv.status();
      start.environment_id = *senv;
      auto started = out.StartShard(start, o.owner);
      if (!started.ok()) return started.status();
      if (!*started) {
        return Status::InvalidArgument(
            fmt::format("shard {}/{} of run group {} is being run into the output", s.shard, run.shards, group));
      }
      auto left = out.EndShard(*out_id, s.shard, s.status, s.finished_at);
      if (!left.ok()) return left.status();
      ++summary->shards_merged;
    }
    {
      auto end = FinishGroupRun(out, *out_id);
      if (!end.ok()) return end.status();
      std::string label = fmt::format("{} (run {})", group, *out_id);
      auto& done = summary->groups_complete;
      auto& waiting = summary->groups_incomplete;
      std::erase(done, label);
      std::erase(waiting, label);
      (end->finished ? done : waiting).push_back(label);
    }
  }
  return Status::OK();
}

}  // namespace vigil::engine
