// A run split across machines (vigil run --shard I/N --run-group G) seen as
// the one run it is: the group's state, the whole run as reports show it,
// and its end, which the last shard to finish records (or `vigil group
// wait`, `vigil merge`, when that shard died in between).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/records.h"
#include "report/run_report.h"
#include "store/store.h"

namespace vigil::engine {

// The run as the reports show it, from the store: every test's attempts
// (outputs included) in plan order, the status of them all.
Result<report::FinishedRun> LoadFinishedRun(store::Store& db, int64_t run_id);

// What a shard is doing, from its record: finished, not started, or started
// and not finished, with its vigil alive (or on another host: whose state
// cannot be seen from here), gone (killed), or no owner (a signal, --on-crash
// stop).
enum class ShardState { kFinished, kWaiting, kRunning, kDied, kStopped };
ShardState StateOf(const model::RunShardRecord& s);
// "finished", "waiting", "running", "died", "stopped".
std::string_view ShardStateName(ShardState state);
// A shard's state as `vigil group show` and the dashboard show it (the
// names above): a finished shard's status; "stopped (STATUS)" for one that
// was stopped with a status.
std::string ShardShown(std::string_view state, std::string_view status);

struct GroupState {
  model::RunRecord run;
  std::vector<model::RunShardRecord> shards;
  std::vector<ShardState> states;  // one a shard
  int finished = 0;  // shards with finished_at
  int running = 0;   // started, not finished, its vigil alive (or on another host)
  int died = 0;      // started, not finished, its vigil gone (killed) on this host
  int stopped = 0;   // started, not finished, no owner (a signal, --on-crash stop)
  int waiting = 0;   // not started
};

// The state of run group `group` (its run and shards); NotFound "no run
// group G".
Result<GroupState> LoadGroup(store::Store& db, const std::string& group);

// What FinishGroupRun found.
struct GroupEnd {
  bool finished = false;  // every shard has finished (and so has the run now)
  report::FinishedRun run;
};

// The end of a split run whose shards have all finished: the run finished
// in the store with the status of all its results, when its last shard did
// (left as it is when finished already). `finished` false when a shard has
// not finished: the run is left alone.
Result<GroupEnd> FinishGroupRun(store::Store& db, int64_t run_id);

// "vigil run --shard I/N --run-group G": I and N from "I/N" (1 <= I <= N <=
// 1000); InvalidArgument saying what is wrong.
Status ParseShard(const std::string& text, int* shard, int* count);

}  // namespace vigil::engine
