// Renderings of a finished `vigil run`: the JSON report (format_version 1),
// the log run_kselftest.sh would have printed, JUnit, the Markdown summary
// for GitHub's job summary, GitHub's ::error annotations and the summary
// people read at the end of the run. All are built from the run's records,
// so a run finished with --resume reports exactly like one never interrupted.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "judge/verdict.h"
#include "ktap/result.h"
#include "model/test_result.h"

namespace vigil::report {

// The status of a run stopped by a signal before it finished (store, JSON).
inline constexpr const char* kInterruptedRunStatus = "INTERRUPTED";

struct FinishedRun {
  int64_t run_id = 0;
  std::vector<model::TestResult> results;  // plan order; tests never started are absent
  std::string status;                      // "PASS", "FAIL", ... of the whole run
  std::string tests_dir;
  std::string console_log;                                  // a VM run's kernel console
  std::map<std::string, std::chrono::seconds> timeouts;     // per test path, for the runner log
  std::optional<judge::Verdict> verdict;                    // when the run was judged
  // Stopped by a signal (status kInterruptedRunStatus): tests cut short
  // (their last attempt is `interrupted`) and tests never started.
  size_t interrupted_tests = 0;
  size_t not_started = 0;
};

// The tally the run's status comes from: FLAKY tests counted apart.
struct RunCounts {
  ktap::Counts counts;
  int flaky = 0;
  ktap::Status aggregate = ktap::Status::kNoTests;
};
RunCounts CountResults(const std::vector<model::TestResult>& results);

// One attempt as the JSON report and other tools show it.
nlohmann::json AttemptJson(const model::AttemptRecord& a);
// {"format_version":1,"run_id":..,"status":..,"tests":[..], "verdict":..}, one line.
std::string RunJson(const FinishedRun& run);
// The log run_kselftest.sh would have printed for the run (last attempts).
std::string RunnerLog(const FinishedRun& run);
// JUnit from the runner log; failures the verdict does not count keep their
// status and say why ("KNOWN: reason", "QUARANTINED: ...") in their message.
std::string RunJunit(const FinishedRun& run);
// GitHub's job summary (Markdown, bounded to ~60 KB).
std::string GithubSummary(const FinishedRun& run);
// GitHub's ::error annotations for counted failures (at most 10, then a warning).
std::string GithubAnnotations(const FinishedRun& run);
// What `vigil run` prints at the end: failures with their failing subtests,
// the end of their output and how to rerun them; environment problems; the tally.
std::string SummaryText(const FinishedRun& run, bool color);

}  // namespace vigil::report
