// The judgement use cases over a store: `vigil flakes`, `vigil history` and
// `vigil compare` as functions any front-end calls (the CLI prints what they
// return through report/judgement_report.h; a dashboard serves the same).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "judge/tables.h"
#include "store/store.h"

namespace vigil::engine {

struct FlakesQuery {
  int window = 30;          // runs of each environment class, the latest
  std::string env;          // environment classes containing (or matching the glob) this
  std::string test;         // tests or subtests matching this glob
  judge::FlakeOptions options;
};

Result<judge::FlakesTable> Flakes(store::Store& db, const FlakesQuery& q);

struct HistoryQuery {
  std::string path;  // COLLECTION:TEST[:SUBTEST]
  std::string env;   // only environment classes containing this
  int limit = 50;    // the last N results
  // The runs that tested a series (a patch applied to the tree) too, each
  // marked with its series; by default they are counted, not listed: the
  // tree's history is its own runs, as for flakes and verdicts.
  bool series = false;
};

// InvalidArgument for a path without COLLECTION:; no rows when nothing ran it.
Result<judge::TestHistory> History(store::Store& db, const HistoryQuery& q);

// Runs are ids, "last" or "last~N"; `a` may be "auto": the baseline
// `vigil verdict --baseline auto` takes for `b` (judge::AutoBaseline).
// o.include_missing also compares the tests only one of them ran.
Result<judge::RunComparison> CompareRuns(store::Store& db, const std::string& a, const std::string& b,
                                  const judge::CompareOptions& o);

}  // namespace vigil::engine
