// What a front-end shows of a run while it runs: the time left (estimated
// from the durations in the store and what the running tests already ran),
// the tests running and for how long, and the lines that say so in a CI log
// ("[start] ...", "[still running] ..."), a test's output line or the live
// status line of a terminal. No I/O and no threads (callers serialise);
// time comes from a Clock, so a FakeClock replays a run in a test.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"

namespace vigil::engine {

// One test of a run, as the run starts.
struct PlannedTest {
  std::string path;
  int64_t timeout_s = 0;                    // after --slowdown; 0: none
  std::optional<int64_t> last_duration_ms;  // its latest duration in the store
};

struct RunningTest {
  std::string path;
  std::chrono::seconds elapsed{0};  // of the current attempt
  int64_t timeout_s = 0;
};

class RunProgress {
 public:
  // `plan` in the order the tests start (longest first with -j), run by
  // `jobs` workers. A test that runs `report_every` longer is due for a
  // report each time (0: never). `clock` must outlive this.
  RunProgress(std::vector<PlannedTest> plan, int jobs, std::chrono::seconds report_every, Clock& clock);

  // Events, at the clock's current time. Paths not in the plan are added.
  void Started(const std::string& path);
  void Retrying(const std::string& path);  // an attempt failed; the next starts now
  void Finished(const std::string& path, int64_t duration_ms, bool failed);

  // The time until every test has ended: each test is expected to take its
  // last known duration (measured in this run, else the store's), else the
  // median of the known ones; a running test what is left of that (never
  // below 0); the tests not yet started are laid out on the workers in start
  // order. nullopt while no duration at all is known. Between two events it
  // never rises; it is 0 once every test ended.
  std::optional<std::chrono::milliseconds> Eta();

  // The tests running now, in the order they started.
  std::vector<RunningTest> Running() const;
  // Running tests that ran another `report_every` since they started or were
  // last reported (one report however long since the last call).
  std::vector<RunningTest> DueReports();

  // 0 when the test is unknown or has no timeout.
  int64_t TimeoutOf(const std::string& path) const;
  size_t done() const { return done_; }
  size_t total() const { return tests_.size(); }
  size_t failures() const { return failures_; }

 private:
  enum class State { kPending, kRunning, kDone };
  struct Entry {
    PlannedTest plan;
    State state = State::kPending;
    std::optional<int64_t> measured_ms;  // this run's duration
    std::chrono::steady_clock::time_point started;
    std::chrono::seconds next_report{0};
  };
  Entry* Find(const std::string& path, State state);
  std::chrono::milliseconds Elapsed(const Entry& e) const;
  void Changed();  // an event: the estimate may move either way

  std::vector<Entry> tests_;
  size_t jobs_;
  std::chrono::seconds report_every_;
  Clock& clock_;
  size_t done_ = 0;
  size_t failures_ = 0;
  std::optional<int64_t> median_ms_;                   // of the known durations, at the last event
  std::optional<std::chrono::milliseconds> last_eta_;  // since the last event
};

// "0:07", "12:03", "1:02:03"; "--:--" when unknown.
std::string FormatEta(std::optional<std::chrono::milliseconds> eta);

// "[start] net/mptcp:mptcp_join.sh#3 (timeout 1800s)" ("no timeout" for 0).
std::string StartLine(const std::string& path, int64_t timeout_s);
// "[still running] net/mptcp:mptcp_join.sh#3 (120s, timeout 1800s)".
std::string StillRunningLine(const RunningTest& t);
// "net/mptcp:diag.sh: LINE" (vigil run -v): the line made safe for a
// terminal (controls and invalid UTF-8 replaced; a final '\r' dropped).
std::string OutputLine(const std::string& path, std::string_view line);
// The live line: "[3/10] 1 failed · ETA 1:23 · running: a (12s), b (3s)",
// cut to `width` columns.
std::string StatusText(RunProgress& progress, size_t width);

}  // namespace vigil::engine
