#include "engine/run_group.h"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "base/text.h"
#include "sys/process.h"

namespace vigil::engine {

Result<report::FinishedRun> LoadFinishedRun(store::Store& db, int64_t run_id) {
  auto run = db.LoadRun(run_id);
  if (!run.ok()) return run.status();
  auto attempts = db.LoadAttempts(run_id, true);
  if (!attempts.ok()) return attempts.status();
  report::FinishedRun out;
  out.run_id = run_id;
  out.tests_dir = run->tests_dir;
  if (auto log = db.LoadConsoleLog(run_id); log.ok()) out.console_log = *log;
  // Plan order; a test the plan does not name (none should) after them.
  std::map<std::string, size_t> index;
  for (const auto& p : run->plan) {
    if (index.try_emplace(p, out.results.size()).second) out.results.push_back({p, {}});
  }
  for (auto& a : *attempts) {
    auto [it, fresh] = index.try_emplace(a.test_path, out.results.size());
    if (fresh) out.results.push_back({a.test_path, {}});
    out.results[it->second].attempts.push_back(std::move(a));
  }
  std::erase_if(out.results, [](const model::TestResult& r) { return r.attempts.empty(); });
  out.status = std::string(ktap::StatusName(report::CountResults(out.results).aggregate));
  return out;
}

Result<GroupState> LoadGroup(store::Store& db, const std::string& group) {
  auto id = db.FindGroupRun(group);
  if (!id.ok()) return id.status();
  GroupState g;
  auto run = db.LoadRun(*id);
  if (!run.ok()) return run.status();
  g.run = std::move(*run);
  auto shards = db.LoadRunShards(*id);
  if (!shards.ok()) return shards.status();
  g.shards = std::move(*shards);
  for (const auto& s : g.shards) {
    ShardState state = StateOf(s);
    g.states.push_back(state);
    switch (state) {
      case ShardState::kFinished:
        ++g.finished;
        break;
      case ShardState::kWaiting:
        ++g.waiting;
        break;
      case ShardState::kRunning:
        ++g.running;
        break;
      case ShardState::kDied:
        ++g.died;
        break;
      case ShardState::kStopped:
        ++g.stopped;
        break;
    }
  }
  return g;
}

ShardState StateOf(const model::RunShardRecord& s) {
  if (!s.finished_at.empty()) return ShardState::kFinished;
  if (s.started_at.empty()) return ShardState::kWaiting;
  if (s.owner.empty()) return ShardState::kStopped;
  return sys::CheckOwner(s.owner) == sys::OwnerState::kGone ? ShardState::kDied : ShardState::kRunning;
}

std::string_view ShardStateName(ShardState state) {
  switch (state) {
    case ShardState::kFinished:
      return "finished";
    case ShardState::kWaiting:
      return "waiting";
    case ShardState::kRunning:
      return "running";
    case ShardState::kDied:
      return "died";
    case ShardState::kStopped:
      return "stopped";
  }
  return "running";
}

std::string ShardShown(std::string_view state, std::string_view status) {
  if (state == "finished") return std::string(status);
  if (state == "stopped" && !status.empty()) return fmt::format("stopped ({})", status);
  return std::string(state);
}

Result<GroupEnd> FinishGroupRun(store::Store& db, int64_t run_id) {
  auto shards = db.LoadRunShards(run_id);
  if (!shards.ok()) return shards.status();
  GroupEnd end;
  std::string finished_at;
  for (const auto& s : *shards) {
    if (s.finished_at.empty()) return end;
    finished_at = std::max(finished_at, s.finished_at);
  }
  auto whole = LoadFinishedRun(db, run_id);
  if (!whole.ok()) return whole.status();
  end.finished = true;
  end.run = std::move(*whole);
  auto run = db.LoadRun(run_id);
  if (!run.ok()) return run.status();
  if (run->status.empty()) {
    Status st = db.FinishRun(run_id, end.run.status, finished_at);
    if (!st.ok()) return st;
  }
  return end;
}

Status ParseShard(const std::string& text, int* shard, int* count) {
  size_t slash = text.find('/');
  auto number = [](const std::string& s, int* out) {
    if (s.empty() || s.size() > 4 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    *out = std::stoi(s);
    return true;
  };
  if (slash == std::string::npos || !number(text.substr(0, slash), shard) || !number(text.substr(slash + 1), count) ||
      *shard < 1 || *count < 1 || *shard > *count || *count > 1000) {
    return Status::InvalidArgument(fmt::format(
        "--shard takes I/N, this machine's shard I of N (1 <= I <= N <= 1000), not '{}'", SanitizeForTerminal(text)));
  }
  return Status::OK();
}

}  // namespace vigil::engine
