// Running one selftest the way the kselftest runner does — its collection
// directory as cwd, KSELFTEST_<NAME>_ARGS appended, its timeout — and reading
// its verdict down to each subtest while it runs. The test's output is read
// exactly as the kernel's run_kselftest.sh would print it (`# `-prefixed,
// then `ok N selftests: COLLECTION: TEST [# SKIP|# TIMEOUT N seconds|# exit=N]`),
// so `vigil run` and `vigil parse` of a runner log judge alike.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "ktap/parser.h"
#include "sys/process.h"
#include "runner/test_plan.h"

namespace vigil::runner {

struct RunOptions {
  double slowdown = 1.0;  // multiplies every timeout
  std::chrono::milliseconds kill_grace{3000};
  size_t max_output_bytes = 16 << 20;
  std::vector<std::string> base_env;  // the environment tests start from
  bool use_cgroups = true;
  bool netns = false;  // each test in a fresh network namespace
  // Each test's argv is run under this prefix (a sandbox: sys::SandboxPrefix);
  // empty: as it is.
  std::vector<std::string> wrapper;
  sys::ProcessRunner* process_runner = nullptr;  // null: on this host
  // Raised: the running test is terminated as on a timeout and comes out
  // ERROR, "interrupted" (process.cancelled).
  const sys::Cancellation* cancel = nullptr;
};

// What --env-clear keeps of vigil's environment for the tests: PATH, HOME,
// USER, LOGNAME, SHELL, TERM, LANG, LANGUAGE, LC_*, TZ, TMPDIR and the
// kselftest runner's KSELFTEST_* variables.
inline constexpr const char* kBasicEnvironment[] = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG",
                                                    "LANGUAGE", "LC_*", "TZ", "TMPDIR", "KSELFTEST_*"};

// `env` ("NAME=value" each) with only the basics above and the variables
// whose names match a glob of `keep` ("CI_*", "MY_VAR"), in their order.
std::vector<std::string> ClearEnvironment(const std::vector<std::string>& env, const std::vector<std::string>& keep);

struct TestOutcome {
  TestSpec spec;
  ktap::TestNode node;  // status, subtests, log; named "selftests: COLL: TEST"
  sys::ProcessResult process;
  std::vector<std::string> environment_issues;  // e.g. `ping: command not found`
  std::string runner_line;  // the `ok N selftests: ...` line the kselftest runner prints
};

// Called as subtests finish (`depth` 1 = a direct subtest of the test).
class TestProgress {
 public:
  virtual ~TestProgress() = default;
  virtual void OnSubtest(const TestSpec& spec, int depth, const ktap::TestNode& subtest) = 0;
  // Each line of the test's output as it comes (without its '\n', cut at
  // 64 KiB), on the thread that reads the output.
  virtual void OnOutputLine(const TestSpec& spec, std::string_view line) { (void)spec, (void)line; }
};

// Runs `spec` (number `index` in the run, 1-based) and waits for it.
TestOutcome RunTest(const TestSpec& spec, int index, const RunOptions& options,
                    TestProgress* progress = nullptr);

// "selftests: COLL: TEST" of the runner's lines, a '#' in either escaped
// ("\\#"): it would start a directive.
std::string RunnerHead(const std::string& collection, const std::string& name);

// The line run_kselftest.sh prints for a finished test:
// `ok N selftests: COLL: TEST [# SKIP]`, `not ok N ... # TIMEOUT T seconds`,
// `not ok N ... # exit=RC` (128 + signal when killed; 2 and 3 included).
std::string RunnerLine(const std::string& collection, const std::string& name, int index,
                       const sys::WaitStatus& status, bool timed_out, std::chrono::seconds timeout);

// The line of a test that vigil stopped (a cancelled run):
// `not ok N selftests: COLL: TEST # ERROR interrupted (vigil was stopped)`.
std::string InterruptedLine(const std::string& collection, const std::string& name, int index);

// Lines of `output` that say a tool or a kernel feature is missing ("command
// not found", `exec of "ping" failed`, "sh: 1: tc: not found", "Specified
// qdisc kind is unknown" for netem, "Unknown device type"); at most `max`.
std::vector<std::string> FindEnvironmentIssues(std::string_view output, size_t max = 20);

}  // namespace vigil::runner
