// Flaky or broken: each test and subtest's results over the runs of one
// environment class, classified.
//
//   stable     no failure in the window
//   flaky      passes and failures mixed, or a same-run retry flake
//   broken     fails in every run of the window
//   regressed  passed, then fails in every run since some run: the failure
//              streak is too long for the earlier failure rate to explain
//              (p^streak < alpha), or nothing failed before it. Never flaky.
//   fixed      failed, then passes in every run since some run (the mirror)
//   new        fewer than min_runs results (not skipped) so far
//   skipped    every result in the window is a skip
//
// Estimated failure rate f = (failures + 1) / (runs + 2); flip rate = the
// share of consecutive results that differ. Quarantine: a test or subtest
// with f above the threshold and at least one same-run retry flake is
// quarantined (its failures are shown, not counted) until it passes
// release_after consecutive runs, or until it fails in a row more often than
// its failure rate when quarantined explains (f^streak < alpha, as for
// regressed): then it is failing, not flaky, and its failures count again.
// A crash is never quarantined.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "judge/history.h"
#include "judge/outcome.h"

namespace vigil::judge {

struct Point {
  int64_t run_id = 0;
  Kind kind = Kind::kSkip;
  bool retry_flake = false;  // failed, then passed on a retry of the same run
  bool crash = false;        // a kernel report came with it
  // A name vigil never writes is ERROR, as everywhere.
  model::TestStatus status = model::TestStatus::kSkip;
  int64_t duration_ms = -1;  // -1: unknown
};

struct Series {
  std::string test;     // COLLECTION:TEST
  std::string subtest;  // "" for the test itself
  std::string env;      // environment class
  std::vector<Point> points;  // oldest first
};

struct FlakeOptions {
  int min_runs = 3;
  double alpha = 0.01;
  double quarantine_rate = 0.05;
  int release_after = 15;
};

enum class FlakeClass { kStable, kFlaky, kBroken, kRegressed, kFixed, kNew, kSkipped };
const char* FlakeClassName(FlakeClass c);

struct FlakeEntry {
  std::string test, subtest, env;
  int runs = 0;  // results that were not skips
  int failures = 0;
  int retry_flakes = 0;
  double flip_rate = 0;
  double fail_rate = 0;
  FlakeClass cls = FlakeClass::kNew;
  int64_t since_run = 0;     // regressed/fixed: the first run of the new behaviour
  bool quarantined = false;  // after the last point
  int64_t quarantined_since = 0;
  std::string quarantine_reason;
  int release_in = 0;  // quarantined: passes in a row still needed to release it
  std::string last_status;
};

FlakeEntry Classify(const Series& s, const FlakeOptions& o);

// Whether the series is quarantined after each of its points (the state a
// following run starts with is the last element).
// `passes_in_row`: the passes in a row at the end that count towards a release.
std::vector<bool> QuarantineStates(const Series& s, const FlakeOptions& o, std::string* reason = nullptr,
                                   int64_t* since = nullptr, int* passes_in_row = nullptr);

// Series made point by point, one per (environment class, test, subtest);
// each series' points are added oldest run first.
class SeriesBuilder {
 public:
  void Add(const std::string& env, int64_t run_id, std::string_view test, std::string_view subtest,
           std::string_view status, bool crash, int64_t duration_ms);
  // Every series, by environment class, then test, then subtest.
  std::vector<Series> Take();

 private:
  static constexpr size_t kNone = ~size_t{0};
  size_t Find(const std::string& env, std::string_view test, std::string_view subtest);
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> index_;
  std::vector<Series> series_;
  // The series added after each one the last time: runs record their tests
  // and subtests in the same order, so the next Add is most often to it.
  std::vector<size_t> next_;
  size_t last_ = kNone;
  std::string key_;  // the key of the last lookup, its memory kept
};

// One series per (test, subtest, environment class) over the runs, oldest
// run first. Tests and subtests that never ran in a class have no series.
std::vector<Series> BuildSeries(const std::vector<RunView>& runs);

// BuildSeries of LoadHistory(db, up_to, window), from the tests' summaries
// (Store::LoadTestSummaries): no subtest row of any attempt is read, and no
// run is loaded whole. `runs`: how many runs they cover.
Result<std::vector<Series>> LoadSeries(store::Store& db, int64_t up_to, int window, size_t* runs = nullptr);

}  // namespace vigil::judge
