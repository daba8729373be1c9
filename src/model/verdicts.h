// What a test and its subtests did in one run across their attempts: the
// final status vigil reports (failed, then passed on a retry is FLAKY), and
// the summary of it the store keeps beside the attempts, so that reading
// the verdicts of many runs (a flakes page) does not read every subtest row
// of every attempt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/records.h"

namespace vigil::model {

// Whether an attempt's status failed, as KTAP reports statuses: anything but
// PASS, SKIP, XFAIL and NO_TESTS (a name vigil never writes is an ERROR).
bool AttemptFailed(std::string_view status);

// A verdict across statuses in attempt order: the last one, or FLAKY when
// the last did not fail and one before it did; none is MISSING.
std::string FinalStatus(const std::vector<std::string>& statuses);

// Each subtest's verdict across the attempts (FinalStatus of its statuses),
// in order of first appearance, with the duration it first had.
std::vector<SubtestRecord> SubtestVerdicts(const std::vector<AttemptRecord>& attempts);

// The summary of a test's attempts in one run (interrupted ones left out:
// they have no result; with none left, attempts is 0 and status "").
TestSummary SummarizeTest(int64_t run_id, const std::string& test_path, const std::vector<AttemptRecord>& attempts);

// Subtest verdicts as one string (TestSummary::subtests): for each, its path
// and its status (each a varint length, then the bytes), then a byte 0 (no
// duration) or 1 followed by the duration as a zigzag varint.
std::string PackSubtests(const std::vector<SubtestRecord>& subtests);

struct PackedSubtest {
  std::string_view path;
  std::string_view status;
  std::optional<int64_t> duration_ms;
};

// Reads what PackSubtests wrote, one subtest at a time, views into `packed`
// (which must outlive them). Bytes that are no subtest (a damaged store)
// end it: Next is false from there on and damaged() says so.
class PackedSubtests {
 public:
  explicit PackedSubtests(std::string_view packed) : rest_(packed) {}
  bool Next(PackedSubtest* out);
  bool damaged() const { return damaged_; }

 private:
  std::string_view rest_;
  bool damaged_ = false;
};

// Every subtest of a packed string (the damaged tail dropped).
std::vector<SubtestRecord> UnpackSubtests(std::string_view packed);

}  // namespace vigil::model
