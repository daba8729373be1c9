#include "engine/run_progress.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

PlannedTest Known(const std::string& path, int64_t ms, int64_t timeout_s = 45) {
  return {path, timeout_s, ms};
}
PlannedTest Unknown(const std::string& path, int64_t timeout_s = 45) {
  return {path, timeout_s, std::nullopt};
}

int64_t EtaS(RunProgress& p) {
  auto eta = p.Eta();
  EXPECT_TRUE(eta.has_value());
  return eta ? eta->count() / 1000 : -1;
}

// Steps the clock one second at a time for `secs` seconds and checks that
// the estimate never rises in between (no event came in).
void AdvanceWatching(FakeClock& clock, RunProgress& p, int secs) {
  auto before = p.Eta();
  for (int i = 0; i < secs; ++i) {
    clock.Advance(seconds(1));
    auto now = p.Eta();
    ASSERT_EQ(before.has_value(), now.has_value());
    if (now) {
      ASSERT_LE(now->count(), before->count()) << "rose after " << i + 1 << " s without an event";
    }
    before = now;
  }
}

TEST(RunProgressTest, EtaFromStoredDurationsCountsDownWhileATestRuns) {
  // The estimate once counted up (0:10 -> 0:22) while a test ran: elapsed
  // time over tests done. Now it is what the stored durations leave.
  FakeClock clock;
  RunProgress p({Known("c:a", 10000), Known("c:b", 20000), Known("c:c", 30000)}, 1, seconds(60), clock);
  EXPECT_EQ(EtaS(p), 60);
  p.Started("c:a");
  clock.Advance(seconds(4));
  EXPECT_EQ(EtaS(p), 56);
  clock.Advance(seconds(6));
  EXPECT_EQ(EtaS(p), 50);
  p.Finished("c:a", 10000, false);
  p.Started("c:b");
  clock.Advance(seconds(5));
  EXPECT_EQ(EtaS(p), 45);
}

TEST(RunProgressTest, ATestIsExpectedToEndByItsTimeoutAtTheLatest) {
  // Stored at 600 s (before its timeout was lowered), now limited to 100 s;
  // the median of the stored durations stands in for the unknown one, capped at its 3 s.
  FakeClock clock;
  RunProgress p({Known("c:slow", 600000, 100), Known("c:a", 5000), Unknown("c:u", 3)}, 1, seconds(60), clock);
  EXPECT_EQ(EtaS(p), 108);
  p.Started("c:slow");
  clock.Advance(seconds(40));
  EXPECT_EQ(EtaS(p), 68);
}

TEST(RunProgressTest, EtaNeverRisesWithoutNewInformationAndEndsAtZero) {
  // Two workers, stored durations, one test with none (the median stands in
  // for it), one test that runs far past its estimate and one that ends
  // early: between events the estimate only falls or stays.
  FakeClock clock;
  RunProgress p({Known("c:long", 30000), Known("c:mid", 20000), Unknown("c:new"), Known("c:short", 5000)}, 2,
                seconds(60), clock);
  ASSERT_TRUE(p.Eta().has_value());
  p.Started("c:long");
  p.Started("c:mid");
  AdvanceWatching(clock, p, 15);
  p.Finished("c:mid", 15000, false);  // early
  p.Started("c:new");
  AdvanceWatching(clock, p, 40);  // c:long overruns its 30 s by 25 s: the estimate stays, never counts up
  p.Finished("c:new", 20000, false);
  p.Started("c:short");
  AdvanceWatching(clock, p, 3);
  p.Finished("c:short", 3000, false);
  AdvanceWatching(clock, p, 10);
  EXPECT_EQ(p.Running().size(), 1u);
  p.Finished("c:long", 70000, true);
  EXPECT_EQ(p.Eta(), milliseconds(0));
  EXPECT_EQ(p.done(), 4u);
  EXPECT_EQ(p.failures(), 1u);
}

TEST(RunProgressTest, AnOverrunningTestLeavesZeroNotANegativeOrRisingEstimate) {
  FakeClock clock;
  RunProgress p({Known("c:a", 10000)}, 1, seconds(60), clock);
  p.Started("c:a");
  clock.Advance(seconds(25));
  EXPECT_EQ(p.Eta(), milliseconds(0));
  clock.Advance(seconds(100));
  EXPECT_EQ(p.Eta(), milliseconds(0));
}

TEST(RunProgressTest, UnknownDurationsTakeTheMedianOfTheKnownOnesElseNoEstimate) {
  FakeClock clock;
  RunProgress none({Unknown("c:a"), Unknown("c:b"), Unknown("c:c")}, 1, seconds(60), clock);
  EXPECT_FALSE(none.Eta().has_value());
  none.Started("c:a");
  clock.Advance(seconds(4));
  EXPECT_FALSE(none.Eta().has_value());
  none.Finished("c:a", 4000, false);  // now one duration is known: 4 s each for the others
  EXPECT_EQ(EtaS(none), 8);

  RunProgress some({Known("c:a", 10000), Known("c:b", 20000), Known("c:c", 60000, 0), Unknown("c:d")}, 1,
                   seconds(60), clock);
  EXPECT_EQ(EtaS(some), 10 + 20 + 60 + 20);
}

TEST(RunProgressTest, TestsNotStartedAreLaidOutOnTheWorkers) {
  FakeClock clock;
  // Two workers, longest first: 30 | 20 + 10.
  RunProgress p({Known("c:a", 30000), Known("c:b", 20000), Known("c:c", 10000)}, 2, seconds(60), clock);
  EXPECT_EQ(EtaS(p), 30);
  p.Started("c:a");
  p.Started("c:b");
  clock.Advance(seconds(20));
  p.Finished("c:b", 20000, false);
  EXPECT_EQ(EtaS(p), 10);
}

TEST(RunProgressTest, ARetryExpectsAWholeAttemptAgain) {
  FakeClock clock;
  RunProgress p({Known("c:a", 10000)}, 1, seconds(60), clock);
  p.Started("c:a");
  clock.Advance(seconds(8));
  EXPECT_EQ(EtaS(p), 2);
  p.Retrying("c:a");
  EXPECT_EQ(EtaS(p), 10);
  EXPECT_EQ(p.Running().at(0).elapsed, seconds(0));
}

TEST(RunProgressTest, StillRunningReportsEveryIntervalOnceEach) {
  FakeClock clock;
  RunProgress p({Known("c:a", 1000, 1800), Unknown("c:b", 0)}, 2, seconds(60), clock);
  p.Started("c:a");
  clock.Advance(seconds(30));
  p.Started("c:b");
  clock.Advance(seconds(29));
  EXPECT_TRUE(p.DueReports().empty());
  clock.Advance(seconds(1));
  auto due = p.DueReports();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].path, "c:a");
  EXPECT_EQ(due[0].elapsed, seconds(60));
  EXPECT_EQ(due[0].timeout_s, 1800);
  EXPECT_TRUE(p.DueReports().empty());
  clock.Advance(seconds(125));  // c:a at 185 s: one report, not two; c:b at 155 s
  due = p.DueReports();
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].path, "c:a");
  EXPECT_EQ(due[0].elapsed, seconds(185));
  EXPECT_EQ(due[1].path, "c:b");
  clock.Advance(seconds(20));  // c:a at 205 s (next at 240), c:b at 175 s (next at 180)
  EXPECT_TRUE(p.DueReports().empty());
  p.Finished("c:b", 175000, false);
  clock.Advance(seconds(35));
  due = p.DueReports();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].path, "c:a");
}

TEST(RunProgressTest, NoStillRunningReportsWithIntervalZero) {
  FakeClock clock;
  RunProgress p({Known("c:a", 1000)}, 1, seconds(0), clock);
  p.Started("c:a");
  clock.Advance(seconds(3600));
  EXPECT_TRUE(p.DueReports().empty());
}

TEST(RunProgressTest, LinesForACiLog) {
  EXPECT_EQ(StartLine("net/mptcp:mptcp_join.sh#3", 1800),
            "[start] net/mptcp:mptcp_join.sh#3 (timeout 1800s)");
  EXPECT_EQ(StartLine("c:t", 0), "[start] c:t (no timeout)");
  EXPECT_EQ(StillRunningLine({"net/mptcp:mptcp_join.sh#3", seconds(120), 1800}),
            "[still running] net/mptcp:mptcp_join.sh#3 (120s, timeout 1800s)");
  // A name with an escape sequence cannot recolor the log.
  EXPECT_EQ(StartLine("c:\x1b[31mred", 5), "[start] c:\xEF\xBF\xBD[31mred (timeout 5s)");
}

TEST(RunProgressTest, OutputLinesArePrefixedAndSafeForATerminal) {
  EXPECT_EQ(OutputLine("net/mptcp:diag.sh", "ok 1 - diag"), "net/mptcp:diag.sh: ok 1 - diag");
  EXPECT_EQ(OutputLine("c:t", "dos line\r"), "c:t: dos line");
  EXPECT_EQ(OutputLine("c:t", "\x1b[2J\rx\xff"), "c:t: \xEF\xBF\xBD[2J\xEF\xBF\xBDx\xEF\xBF\xBD");
  EXPECT_EQ(OutputLine("c:t", ""), "c:t: ");
}

TEST(RunProgressTest, EtaFormats) {
  EXPECT_EQ(FormatEta(std::nullopt), "--:--");
  EXPECT_EQ(FormatEta(milliseconds(0)), "0:00");
  EXPECT_EQ(FormatEta(milliseconds(200)), "0:01");
  EXPECT_EQ(FormatEta(milliseconds(83000)), "1:23");
  EXPECT_EQ(FormatEta(milliseconds(3723000)), "1:02:03");
}

TEST(RunProgressTest, StatusTextShowsCountsEtaAndRunningTestsWithinTheWidth) {
  FakeClock clock;
  RunProgress p({Known("c:a", 90000, 0), Known("c:b", 10000), Known("c:é", 10000)}, 2, seconds(60), clock);
  p.Started("c:a");
  p.Started("c:b");
  clock.Advance(seconds(10));
  p.Finished("c:b", 10000, true);
  p.Started("c:é");
  clock.Advance(seconds(2));
  EXPECT_EQ(StatusText(p, 200), "[1/3] 1 failed · ETA 1:18 · running: c:a (12s), c:é (2s)");
  // Cut by columns, not bytes: "·" and "é" are one column each.
  EXPECT_EQ(StatusText(p, 56), "[1/3] 1 failed · ETA 1:18 · running: c:a (12s), c:é (2s)");
  EXPECT_EQ(StatusText(p, 55), "[1/3] 1 failed · ETA 1:18 · running: c:a (12s), c:é (2…");
  EXPECT_EQ(StatusText(p, 51), "[1/3] 1 failed · ETA 1:18 · running: c:a (12s), c:…");
  EXPECT_EQ(StatusText(p, 52), "[1/3] 1 failed · ETA 1:18 · running: c:a (12s), c:é…");
}

}  // namespace
}  // namespace vigil::engine
