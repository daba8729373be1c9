// What one test (or subtest) did in one run, across its attempts: the final
// status vigil reports (failed then passed is FLAKY) and the kind the
// judgement layer reasons with (pass, fail, skip).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ktap/result.h"
#include "model/records.h"
#include "model/status.h"
#include "model/verdicts.h"

namespace vigil::judge {

// "PASS" -> kPass ...; an unknown name is kError.
ktap::Status StatusOf(std::string_view name);

// A test's verdict across its attempts: failed then passed is FLAKY; no
// attempt is MISSING (model::FinalStatus of their statuses).
using model::FinalStatus;
std::string FinalStatus(const std::vector<model::AttemptRecord>& attempts);
// FinalStatus as a status value.
model::TestStatus FinalStatusOf(const std::vector<model::AttemptRecord>& attempts);

// FAIL, TIMEOUT, ERROR, CRASH, ... but not FLAKY (it passed in the end).
bool IsFailureName(const std::string& status);

// Each subtest's verdict across the attempts, in order of first appearance.
using model::SubtestVerdicts;

// Indexes of the failing subtests that have no failing subtest below them
// ("a > b" is below "a"; subtests are in document order).
std::vector<size_t> FailingLeafIndexes(const std::vector<model::SubtestRecord>& subtests);
// The same as "[STATUS] path" lines, for an attempt.
std::vector<std::string> FailingLeaves(const model::AttemptRecord& a);

// "COLLECTION:TEST:SUB > INNER" -> {"COLLECTION:TEST", "SUB > INNER"}; the
// subtest starts after the second colon ("" when there is none).
std::pair<std::string, std::string> SplitTestPath(const std::string& path);

enum class Kind { kPass, kFail, kSkip };
// PASS, XFAIL, FLAKY -> pass; failures -> fail; SKIP, MISSING, NO_TESTS -> skip.
Kind KindOf(std::string_view status);
Kind KindOf(model::TestStatus status);

}  // namespace vigil::judge
