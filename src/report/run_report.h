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
#include "ktap/parser.h"
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
  // The command that runs a test again as this run ran it (vigil run and
  // every option that decides where and how: tests, store, VM, namespaces,
  // timeouts), without the `-t TEST` the rerun hints add.
  std::vector<std::string> rerun;
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
// The run as one KTAP document built from its records, never from the
// tests' (capped) output: a top-level test per test (its last attempt),
// named "selftests: COLL: TEST" as run_kselftest.sh names it, with the
// kselftest runner's directive, the measured duration, its recorded
// subtests below it and the number not kept (TestNode::dropped).
ktap::Document RunDocument(const FinishedRun& run);
// Rebuilds below `test` the tree that `subtests` (flattened "a > b" paths,
// in preorder, as the store keeps them) came from.
void AddSubtestTree(const std::vector<model::SubtestRecord>& subtests, ktap::TestNode* test);
// The run as normalised KTAP (ToKtap of RunDocument): readable by `vigil
// parse`, with the verdicts of the JSON report.
std::string RunnerLog(const FinishedRun& run);
// JUnit of RunDocument; failures the verdict does not count keep their
// status and say why ("KNOWN: reason", "QUARANTINED: ...") in their message.
std::string RunJunit(const FinishedRun& run);
// GitHub's job summary (Markdown, bounded to ~60 KB).
std::string GithubSummary(const FinishedRun& run);
// GitHub's ::error annotations for counted failures (at most 10, then a warning).
std::string GithubAnnotations(const FinishedRun& run);
// A kernel report as the summary shows it: its title, then the frames of
// its call trace (at most `max_frames`; the first lines of its text when it
// has no trace), not the register dump its text ends with.
std::vector<std::string> CrashExcerpt(const model::CrashRecord& crash, size_t max_frames = 12);
// What `vigil run` prints at the end: failures with their failing subtests,
// the end of their output and how to rerun them; environment problems; the tally.
std::string SummaryText(const FinishedRun& run, bool color);

}  // namespace vigil::report
