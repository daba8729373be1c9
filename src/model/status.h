// The status of a test or subtest across vigil: what the KTAP engine reports
// (PASS ... NO_TESTS, the same values in the same order as ktap::Status) and
// what the judgement adds (MISSING: planned, never ran; FLAKY: failed, then
// passed on a retry; KNOWN: a failure matched by a known issue). The names
// are the persisted form (store, JSON).
#pragma once

#include <cstdint>
#include <string_view>

namespace vigil::model {

enum class TestStatus : uint8_t {
  kPass,
  kFail,
  kSkip,
  kXfail,
  kXpass,
  kTimeout,
  kError,
  kCrash,
  kNoTests,
  kMissing,
  kFlaky,
  kKnown,
};

// "PASS", "FLAKY", ...
std::string_view StatusName(TestStatus s);
// The status a name stands for; a name vigil never writes is ERROR (what an
// unreadable status means to every reader).
TestStatus ParseStatus(std::string_view name);
// FAIL, XPASS, TIMEOUT, ERROR, CRASH: the statuses that fail a run. FLAKY
// (passed in the end), MISSING and KNOWN do not.
bool IsFailure(TestStatus s);

}  // namespace vigil::model
