// Stores of shards run apart joined into one (vigil merge): what a CI whose
// shards each wrote a SQLite file (GitHub Actions artifacts) does before it
// reports. Each run group's shards become the group's one run, finished
// (and so reported and judged whole) once its last shard is in; runs that
// are not split are copied once (the history every shard started from is
// in every input: a run already in the output is left).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace vigil::engine {

struct MergeSummary {
  int runs_copied = 0;      // runs not split, new to the output
  int runs_present = 0;     // ... already there
  int runs_unfinished = 0;  // ... still running in the input: left out
  int shards_merged = 0;
  int shards_present = 0;   // merged before
  int shards_absent = 0;    // not started in the input (another input has them)
  // Groups whose every shard is in now (their runs finished) and those
  // still waiting for shards, as "GROUP (run N)".
  std::vector<std::string> groups_complete, groups_incomplete;
};

// Merges `in` (shown as `in_name` in errors) into `out`. An input whose
// split of a group differs from the output's (shards run from different
// histories) or a test two shards ran is refused, naming them.
Status MergeStore(store::Store& out, store::Store& in, const std::string& in_name, MergeSummary* summary);

}  // namespace vigil::engine
