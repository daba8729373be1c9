// What the judgement use cases (engine/judgement.h) hand to their
// renderings (report/judgement_report.h): the flakes table, one test's
// history, a comparison of two runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "judge/compare.h"
#include "judge/flakes.h"
#include "judge/history.h"

namespace vigil::judge {

struct FlakesTable {
  int window = 30;
  size_t runs = 0;  // runs looked at
  // The unhealthy first (regressed, flaky, broken, new, fixed, skipped,
  // stable), then by failure rate.
  std::vector<judge::FlakeEntry> entries;
};

struct HistoryRow {
  int64_t run_id = 0;
  std::string started_at, env_class, kernel, status;
  int64_t duration_ms = -1;  // -1: unknown
  int64_t series = 0;         // the series the run tested (a patch applied); 0: the tree's own run
};

struct TestHistory {
  std::string test, subtest;
  std::vector<HistoryRow> rows;  // oldest first
  // Runs series tested that had a result of it, left out (HistoryQuery::series
  // false) and newer than the first row.
  int64_t series_left_out = 0;
};

struct RunComparison {
  judge::RunView a, b;
  judge::Comparison changes;
};

}  // namespace vigil::judge
