#include "model/status.h"

#include <array>

namespace vigil::model {
namespace {

constexpr std::array<std::string_view, 12> kNames = {"PASS",  "FAIL",     "SKIP",    "XFAIL",   "XPASS", "TIMEOUT",
                                                     "ERROR", "CRASH",    "NO_TESTS", "MISSING", "FLAKY", "KNOWN"};

}  // namespace

std::string_view StatusName(TestStatus s) { return kNames[static_cast<size_t>(s)]; }

TestStatus ParseStatus(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<TestStatus>(i);
  }
  return TestStatus::kError;
}

bool IsFailure(TestStatus s) {
  return s == TestStatus::kFail || s == TestStatus::kXpass || s == TestStatus::kTimeout || s == TestStatus::kError ||
         s == TestStatus::kCrash;
}

}  // namespace vigil::model
