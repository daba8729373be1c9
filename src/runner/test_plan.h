// What to run: the tests of an installed kselftest tree (kselftest-list.txt
// with COLLECTION:TEST lines and a `settings` file per collection) or of a
// plain directory of executables, filtered as run_kselftest.sh filters them.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vigil::runner {

inline constexpr std::chrono::seconds kDefaultKselftestTimeout{45};

struct TestSpec {
  std::string collection;  // "net/mptcp"
  std::string name;        // "mptcp_join.sh"
  std::string dir;         // absolute directory of the collection (the test's cwd)
  std::string program;     // absolute path of the test
  std::chrono::seconds timeout{kDefaultKselftestTimeout};  // 0: none
  std::string args_variable;  // KSELFTEST_MPTCP_JOIN_SH_ARGS
  std::vector<std::string> extra_args;  // a shard's arguments (vigil.toml)

  std::string path() const { return collection + ":" + name; }
};

struct PlanFilter {
  std::vector<std::string> tests;        // -t COLLECTION:TEST
  std::vector<std::string> collections;  // -c COLLECTION
  std::vector<std::string> skip;         // --skip PATTERN (glob on COLLECTION:TEST)
};

// Reads the tests under `dir`, in list order, filtered. An unknown -t or -c
// is an error, as with run_kselftest.sh; so is a `settings` timeout out of
// range or not a number (file:line). Blank lines of kselftest-list.txt are
// skipped; a test listed twice is kept once; these and unknown `settings`
// keys may fill in |warnings| (file:line each).
Result<std::vector<TestSpec>> LoadPlan(const std::string& dir, const PlanFilter& filter,
                                       std::vector<std::string>* warnings = nullptr);

// The variable the kselftest runner reads extra arguments from:
// "cpu-on-off-test.sh" -> "KSELFTEST_CPU_ON_OFF_TEST_SH_ARGS".
std::string ArgsVariable(std::string_view basename);

// A kselftest `settings` file (KEY=VALUE lines; `#` comments): `timeout=N`
// (runner/timeout.h's range), the default when absent.
struct Settings {
  std::chrono::seconds timeout{kDefaultKselftestTimeout};
  std::vector<std::string> warnings;  // "FILE:LINE: unknown setting 'x'", lines without '='
};
// A missing file gives the defaults; a bad timeout is an error naming FILE:LINE.
Result<Settings> ParseSettings(std::string_view text, const std::string& source);
Result<Settings> ReadSettings(const std::string& settings_path);

// The test's file is not there (listed in kselftest-list.txt, missing from
// the tree).
bool IsMissing(const TestSpec& spec);

}  // namespace vigil::runner
