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
// is an error, as with run_kselftest.sh.
Result<std::vector<TestSpec>> LoadPlan(const std::string& dir, const PlanFilter& filter);

// The variable the kselftest runner reads extra arguments from:
// "cpu-on-off-test.sh" -> "KSELFTEST_CPU_ON_OFF_TEST_SH_ARGS".
std::string ArgsVariable(std::string_view basename);

// Reads `timeout=N` from a kselftest `settings` file; the default when absent.
std::chrono::seconds ReadSettingsTimeout(const std::string& settings_path);

}  // namespace vigil::runner
