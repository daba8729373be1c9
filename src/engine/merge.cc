#include "engine/merge.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "base/text.h"
#include "engine/run_group.h"
#include "sys/process.h"

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
                    const std::string& what) {
  for (const auto& a : attempts) {
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
      // The same run: the same uid (a store from before uids: started at
      // the same time on the same host by the same command, which two runs
      // started in one second share). Finished there: present. Unfinished
      // and run by no one: a copy an earlier merge was cut short in,
      // completed now.
      store::RunQuery q;
      q.plans = false;
      q.statuses = std::vector<std::string>{run.status, ""};
      auto there = out.ListRuns(q);
      if (!there.ok()) return there.status();
      bool present = false;
      std::optional<int64_t> cut_short;
      for (const model::RunRecord& o : *there) {
        if (o.shards != 0) continue;
        if (!run.uid.empty() && !o.uid.empty() ? o.uid != run.uid
                                               : o.started_at != run.started_at || o.host != run.host ||
                                                     o.command != run.command)
          continue;
        if (o.status == run.status) present = true;
        if (o.status.empty() && o.owner.empty()) cut_short = o.id;
      }
      if (present) {
        ++summary->runs_present;
        continue;
      }
      auto attempts = in.LoadAttempts(run.id, true);
      if (!attempts.ok()) return attempts.status();
      Result<int64_t> id = cut_short ? Result<int64_t>(*cut_short) : out.CreateRun(copy);
      if (!id.ok()) return id.status();
      if (cut_short) {
        // Only the attempts it does not have yet.
        auto had = out.LoadAttempts(*id, false);
        if (!had.ok()) return had.status();
        std::set<std::pair<std::string, int>> in_there;
        for (const auto& a : *had) in_there.insert({a.test_path, a.attempt});
        std::erase_if(*attempts, [&](const model::AttemptRecord& a) {
          return in_there.count({a.test_path, a.attempt}) > 0;
        });
      }
      if (Status st = CopyAttempts(out, *id, *attempts, fmt::format("run {} of {}", run.id, name)); !st.ok())
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
    // Its rows must be shards 1..N (the files come from machines that ran
    // strangers' tests).
    for (size_t k = 0; k < shards->size(); ++k) {
      if ((*shards)[k].shard != static_cast<int>(k + 1)) {
        return Status::InvalidArgument(fmt::format("run group {} in {}: shard rows are not 1..{}", group, name,
                                                   shards->size()));
      }
    }
    // The input's finished shards that the output has not finished: the
    // others are absent (not run there, or unfinished: a later file may
    // bring them whole) or present already. A group merged before is
    // skipped without reading its attempts.
    std::vector<const model::RunShardRecord*> todo;
    for (const auto& s : *shards) {
      const model::RunShardRecord& o = (*out_shards)[static_cast<size_t>(s.shard - 1)];
      if (s.finished_at.empty()) {
        ++summary->shards_absent;
      } else if (!o.finished_at.empty()) {
        ++summary->shards_present;
      } else if (o.tests != s.tests) {
        return Status::InvalidArgument(fmt::format(
            "shard {}/{} of run group {} in {} has other tests than the group's (its split differs: were the "
            "shards run from different histories?)",
            s.shard, run.shards, group, name));
      } else {
        todo.push_back(&s);
      }
    }
    if (!run.vm_json.empty() && out_run->vm_json.empty()) {
      if (Status st = out.SetRunVm(*out_id, run.vm_json); !st.ok()) return st;
    }
    if (todo.empty() && !out_run->status.empty()) continue;
    auto attempts = todo.empty() ? Result<std::vector<model::AttemptRecord>>(std::vector<model::AttemptRecord>{})
                                 : in.LoadAttempts(run.id, true);
    if (!attempts.ok()) return attempts.status();
    // What the output's run has already: a shard that never started there
    // with results of its tests (another's) is refused before anything of
    // it goes in; one a merge cut short (started, unfinished, its owner
    // gone) is completed, attempt by attempt.
    std::set<std::pair<std::string, int>> recorded;
    {
      auto there = out.LoadAttempts(*out_id, false);
      if (!there.ok()) return there.status();
      for (const auto& a : *there) recorded.insert({a.test_path, a.attempt});
    }
    for (const model::RunShardRecord* sp : todo) {
      const model::RunShardRecord& s = *sp;
      const model::RunShardRecord& o = (*out_shards)[static_cast<size_t>(s.shard - 1)];
      std::string what = fmt::format("shard {}/{} of run group {} in {}", s.shard, run.shards, group, name);
      std::set<std::string> own(s.tests.begin(), s.tests.end());
      if (o.started_at.empty()) {
        for (const auto& [path, n] : recorded) {
          if (own.count(path)) {
            return Status::InvalidArgument(fmt::format("{} ran {}, which the output's run has results of already",
                                                       what, SanitizeForTerminal(path)));
          }
        }
      } else if (!o.owner.empty() && sys::CheckOwner(o.owner) != sys::OwnerState::kGone) {
        return Status::InvalidArgument(fmt::format("{}: the output's shard is being run (vigil pid {} on {})", what,
                                                   sys::OwnerPid(o.owner), SanitizeForTerminal(sys::OwnerHost(o.owner))));
      }
      // Claimed first (by this merge), then filled, then ended: a merge
      // killed halfway leaves the shard started and resumable.
      model::RunShardRecord start = s;
      start.run_id = *out_id;
      start.owner = sys::SelfOwner();
      auto senv = ids.Environment(s.environment_id);
      if (!senv.ok()) return senv.status();
      start.environment_id = *senv;
      auto started = out.StartShard(start, o.owner);
      if (!started.ok()) return started.status();
      if (!*started) return Status::InvalidArgument(fmt::format("{}: the output's shard was just taken", what));
      for (const auto& a : *attempts) {
        if (!own.count(a.test_path) || recorded.count({a.test_path, a.attempt})) continue;
        Status st = out.RecordAttempt(*out_id, a);
        if (!st.ok()) return Status::InvalidArgument(fmt::format("{}: {}", what, st.message()));
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
