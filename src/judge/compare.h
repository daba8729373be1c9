// Two runs side by side: what failed anew, what got fixed, what stopped or
// started running, what got slower, and how their environments differ; by
// default over the tests both ran.
// Paths are COLLECTION:TEST for tests and COLLECTION:TEST:SUBTEST for
// subtests.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "judge/history.h"

namespace vigil::judge {

struct Change {
  std::string path;
  std::string a, b;  // statuses (counts for subtest_count, durations for slower)
};

struct Comparison {
  std::vector<Change> new_failures;   // failing in B, not in A (or absent from A)
  std::vector<Change> fixes;          // failing in A, passing in B
  std::vector<Change> pass_to_skip;   // "skipped by accident"
  std::vector<Change> skip_to_pass;
  std::vector<Change> fail_to_skip;   // failing in A, skipped (or ran nothing) in B: not a fix
  std::vector<Change> appeared;       // in B only
  std::vector<Change> disappeared;    // in A only
  // Tests only one of the runs ran (a run of a subset against a full one),
  // with their status. Unless CompareOptions::include_missing they and their
  // subtests are not compared (not in the lists above, a failure only in B
  // not a new failure): only counted.
  std::vector<Change> only_in_a, only_in_b;
  bool include_missing = false;
  std::vector<Change> subtest_count;  // tests whose number of subtests changed
  std::vector<Change> slower;         // duration regressions
  std::map<std::string, std::pair<std::string, std::string>> environment;  // key -> [A, B]
};

struct CompareOptions {
  double slower_ratio = 1.5;    // B > ratio * A ...
  int64_t slower_min_ms = 1000;  // ... and by at least this much
  bool include_missing = false;  // also compare the tests only one run ran
};

Comparison Compare(const RunView& a, const RunView& b, const CompareOptions& o = {});

// The environments' differences: kernel release and uname, arch, cpus,
// memory, host/VM, accelerator, each tool's version line.
std::map<std::string, std::pair<std::string, std::string>> EnvironmentDiff(const model::Environment& a,
                                                                            const model::Environment& b);

}  // namespace vigil::judge
