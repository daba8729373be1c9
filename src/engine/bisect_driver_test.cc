#include "engine/bisect_driver.h"
#include "sys/file_lock.h"
#include "base/hash.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <set>

#include "engine/fake_vcs.h"

namespace vigil::engine {
namespace {
namespace fs = std::filesystem;
using bisect::Outcome;

// Runs at a commit: what `outcome` says, an error once `abort_after` runs
// were made (-1: never); records which commits ran.
class FakeProbe final : public Probe {
 public:
  explicit FakeProbe(std::function<Outcome(const std::string&)> outcome) : outcome_(std::move(outcome)) {}
  Result<bool> Build(const std::string& worktree, const std::string& commit) override {
    if (!environment.empty()) return Status::NotFound(environment);
    if (make_build_dir) {
      // As a build of the tree leaves it: its output directory in the worktree.
      std::filesystem::create_directories(BisectBuildDir(worktree, "normal"));
      std::ofstream(BisectBuildDir(worktree, "normal") + "/vmlinux") << "x";
    }
    if (clock)
      clock->Advance(builds.empty() && first_build_time.count() >= 0 ? first_build_time : build_time);
    builds.push_back(commit);
    if (keeps && !unbuildable.count(commit)) kept.insert(commit);
    return !unbuildable.count(commit);
  }
  bool Restore(const std::string&, const std::string& commit) override {
    if (!kept.count(commit)) return false;
    restores.push_back(commit);
    return true;
  }
  bool HasKept(const std::string& commit) const override { return kept.count(commit) > 0; }
  std::vector<std::string> TakeWarnings() override { return std::exchange(warnings, {}); }
  Result<ProbeRun> Run(const std::string&, const std::string& commit) override {
    if (abort_after >= 0 && static_cast<int>(runs.size()) >= abort_after)
      return Status::Internal("machine gone");
    if (clock) clock->Advance(run_time);
    runs.push_back(commit);
    ProbeRun p;
    if (cancel && static_cast<int>(runs.size()) == cancel_at) {
      cancel->Request(SIGTERM);
      p.outcome = Outcome::kFail;
      return p;
    }
    if (cannot_start.count(commit)) {
      p.outcome = Outcome::kSkip;
      p.exit_code = 127;
      p.cannot_start = "'test.sh' exited 127 (command not found)";
      return p;
    }
    p.outcome = outcome_(commit);
    p.exit_code = p.outcome == Outcome::kFail ? 1 : p.outcome == Outcome::kSkip ? 125 : 0;
    if (target_absent.count(commit)) {
      p.outcome = Outcome::kPass;
      p.target_absent = "coll:t.sh (PASS) has no subtest 'nope'";
    }
    if (failed_without_target.count(commit)) {
      p.outcome = Outcome::kSkip;
      p.target_absent = "coll:t.sh (FAIL) has no subtest 'nope' (it has: setup)";
    }
    return p;
  }
  // target_absent: the test ran to its end without its subtest (the
  // probe's pass); failed_without_target: it stopped before it (untestable).
  std::set<std::string> unbuildable, cannot_start, target_absent, failed_without_target;
  // Keeps each build it makes, which Restore brings back.
  bool keeps = false;
  std::set<std::string> kept;
  std::vector<std::string> restores;
  bool make_build_dir = false;
  int abort_after = -1;
  // A cancellation point: the run number `cancel_at` (1-based) is stopped
  // by a signal (`cancel` requested while it runs; it then fails, as a
  // terminated test does).
  sys::Cancellation* cancel = nullptr;
  int cancel_at = 0;
  // Not empty: every build is refused with this (a missing tool).
  std::string environment;
  // Each build and run advances `clock` by these (the first build by
  // first_build_time when it is not negative: a cold build).
  FakeClock* clock = nullptr;
  std::chrono::milliseconds build_time{0}, first_build_time{-1}, run_time{0};
  std::vector<std::string> runs, builds;
  std::vector<std::string> warnings;  // what TakeWarnings() gives next
  store::Store* records_builds_in = nullptr;
  void RecordBuildsIn(store::Store& db) override { records_builds_in = &db; }

 private:
  std::function<Outcome(const std::string&)> outcome_;
};

class RecordingObserver final : public BisectObserver {
 public:
  void Resuming(int64_t, size_t recorded) override { resumed_with = static_cast<int>(recorded); }
  void BuildFailed(const std::string& commit, const std::string&) override {
    build_failures.push_back(commit);
  }
  void EndChecked(bool, const std::string&, Outcome) override { ++ends; }
  void Ran(const BisectRunEvent&) override { ++ran; }
  void Descending(const MergeDescent& m) override { descents.push_back(m); }
  void Warning(const std::string& message) override { warnings.push_back(message); }
  int resumed_with = -1;
  int ran = 0, ends = 0;
  std::vector<std::string> build_failures, warnings;
  std::vector<MergeDescent> descents;
};

class BisectDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::error_code ec;
    dir_ = fs::temp_directory_path(ec) / ("vigil-bisect-" + std::to_string(getpid()) + "-" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_, ec);
    fs::create_directories(dir_, ec);
    ASSERT_FALSE(ec) << ec.message();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // c0 .. c`n`, each on the one before.
  void Linear(int n) {
    vcs_.Add("c0", {});
    for (int i = 1; i <= n; ++i) vcs_.Add("c" + std::to_string(i), {"c" + std::to_string(i - 1)});
  }
  // m1..m10, then a side branch s1..s10 from m10 and m11..m15 on main, "merge"
  // of s10 into m15, m16..m20 on top of it.
  void WithMerge() {
    vcs_.Add("m1", {});
    for (int i = 2; i <= 15; ++i) vcs_.Add("m" + std::to_string(i), {"m" + std::to_string(i - 1)});
    vcs_.Add("s1", {"m10"});
    for (int i = 2; i <= 10; ++i) vcs_.Add("s" + std::to_string(i), {"s" + std::to_string(i - 1)});
    vcs_.Add("merge", {"m15", "s10"});
    vcs_.Add("m16", {"merge"});
    for (int i = 17; i <= 20; ++i) vcs_.Add("m" + std::to_string(i), {"m" + std::to_string(i - 1)});
  }
  // Fails at every commit that holds `bug`.
  std::function<Outcome(const std::string&)> FailsFrom(const std::string& bug) {
    return
        [this, bug](const std::string& c) { return vcs_.Reaches(c, bug) ? Outcome::kFail : Outcome::kPass; };
  }
  BisectRequest Request(const std::string& good, const std::string& bad) {
    BisectRequest r;
    r.good = good;
    r.bad = bad;
    r.probe.command = {"test.sh"};
    r.confidence = 0.99;
    return r;
  }
  std::string DbPath() const { return (dir_ / "bisect.db").string(); }
  Result<BisectOutcome> Bisect(Probe& probe, const BisectRequest& r) {
    BisectDriver driver(vcs_, probe, observer_, clock_);
    if (Status st = driver.Resolve(r); !st.ok()) return st;
    auto db = store::Store::Open(DbPath());
    if (!db.ok()) return db.status();
    return driver.Run(r, **db, DbPath());
  }
  std::vector<model::BisectRunRecord> RecordedRuns(int64_t id) {
    auto db = store::Store::Open(DbPath());
    EXPECT_TRUE(db.ok());
    auto runs = (*db)->LoadBisectRuns(id);
    EXPECT_TRUE(runs.ok());
    return runs.ok() ? runs.value() : std::vector<model::BisectRunRecord>{};
  }

  fs::path dir_;
  FakeVcs vcs_;
  FakeClock clock_;
  RecordingObserver observer_;
};

TEST_F(BisectDriverTest, FindsTheFirstFailingCommitOnALinearHistory) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->confident);
  EXPECT_EQ(out->result["culprit"]["hash"], "c17");
  EXPECT_EQ(out->result["evidence"]["parent"]["hash"], "c16");
  EXPECT_EQ(out->result["runs"], static_cast<int>(probe.runs.size()));
  EXPECT_EQ(observer_.ends, 2) << "the ends ran first";
  EXPECT_EQ(observer_.ran + observer_.ends, static_cast<int>(probe.runs.size()));
  EXPECT_EQ(RecordedRuns(out->id).size(), probe.runs.size());
  EXPECT_TRUE(vcs_.worktrees().empty()) << "the worktree is removed at the end";
  auto db = store::Store::Open(DbPath());
  ASSERT_TRUE(db.ok());
  auto b = (*db)->LoadBisection(out->id);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->status, "done");
  EXPECT_EQ(b->good, "c0");
  EXPECT_EQ(b->bad, "c30");
}

TEST_F(BisectDriverTest, WhatTheProbeSaysOfItsBuildsIsWarned) {
  Linear(8);
  FakeProbe probe(FailsFrom("c5"));
  probe.warnings = {"the build of c0 is not kept"};
  auto out = Bisect(probe, Request("c0", "c8"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(observer_.warnings.size(), 1u);
  EXPECT_EQ(observer_.warnings[0], "the build of c0 is not kept");
}

TEST_F(BisectDriverTest, DescendsIntoAMergeToFindTheCulpritOnTheMergedBranch) {
  WithMerge();
  FakeProbe probe(FailsFrom("s6"));
  auto out = Bisect(probe, Request("m1", "m20"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->result["culprit"]["hash"], "s6");
  ASSERT_EQ(out->result["merges"].size(), 1u);
  EXPECT_EQ(out->result["merges"][0]["hash"], "merge");
  EXPECT_EQ(out->result["merges"][0]["commits"], 10);
  ASSERT_EQ(observer_.descents.size(), 1u);
  EXPECT_EQ(observer_.descents[0].merge, "merge");
  EXPECT_EQ(observer_.descents[0].commits, 10);
}

TEST_F(BisectDriverTest, RunsRunningOutInsideAMergeLeaveTheMergeAsTheAnswer) {
  WithMerge();
  FakeProbe probe(FailsFrom("s6"));
  BisectRequest r = Request("m1", "m20");
  // Enough runs for the first-parent line, not for the merged branch.
  auto full = Bisect(probe, r);
  ASSERT_TRUE(full.ok());
  int first_stage_runs = 0;
  for (const auto& rec : RecordedRuns(1)) first_stage_runs += rec.commit[0] == 'm' ? 1 : 0;
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  FakeProbe again(FailsFrom("s6"));
  r.max_runs = first_stage_runs + 1;
  auto out = Bisect(again, r);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->result["culprit"]["hash"], "merge") << out->result.dump();
  EXPECT_TRUE(out->result["merges"].empty()) << out->result.dump();
}

TEST_F(BisectDriverTest, FirstParentStopsAtTheMerge) {
  WithMerge();
  FakeProbe probe(FailsFrom("s6"));
  BisectRequest r = Request("m1", "m20");
  r.first_parent = true;
  auto out = Bisect(probe, r);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->result["culprit"]["hash"], "merge");
  EXPECT_TRUE(out->result["merges"].empty());
  EXPECT_TRUE(observer_.descents.empty());
  for (const auto& c : probe.runs) EXPECT_NE(c[0], 's') << "ran a merged commit: " << c;
}

TEST_F(BisectDriverTest, TheMergeItselfIsTheCulpritWhenNoMergedCommitFailsAlone) {
  WithMerge();
  // Needs m12 (main) and s4 (side) together.
  FakeProbe probe([this](const std::string& c) {
    return vcs_.Reaches(c, "m12") && vcs_.Reaches(c, "s4") ? Outcome::kFail : Outcome::kPass;
  });
  auto out = Bisect(probe, Request("m1", "m20"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->result["culprit"]["hash"], "merge");
  ASSERT_EQ(out->result["merges"].size(), 1u);
  EXPECT_EQ(out->result["merges"][0]["hash"], "merge");
}

TEST_F(BisectDriverTest, UntestableCommitsAroundTheCulpritLeaveARange) {
  Linear(30);
  auto fails = FailsFrom("c17");
  FakeProbe probe([&](const std::string& c) { return c == "c16" || c == "c17" ? Outcome::kSkip : fails(c); });
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->result["culprit"].is_null());
  ASSERT_EQ(out->result["range"].size(), 3u);
  EXPECT_EQ(out->result["range"][0]["hash"], "c16");
  EXPECT_EQ(out->result["range"][2]["hash"], "c18");
}

TEST_F(BisectDriverTest, CommitsThatDoNotBuildAreSkippedAndRecorded) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  probe.unbuildable = {"c16", "c17"};
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->result["culprit"].is_null());
  EXPECT_EQ(out->result["range"].size(), 3u);
  ASSERT_FALSE(observer_.build_failures.empty());
  for (const auto& c : probe.runs) EXPECT_TRUE(c != "c16" && c != "c17") << "ran an unbuilt commit";
  int skips = 0;
  for (const auto& r : RecordedRuns(out->id)) skips += r.outcome == "skip";
  EXPECT_EQ(skips, static_cast<int>(observer_.build_failures.size()));
}

TEST_F(BisectDriverTest, FixFindsTheFirstCommitWithoutTheFailure) {
  Linear(30);
  FakeProbe probe([this](const std::string& c) {
    return vcs_.Reaches(c, "c5") && !vcs_.Reaches(c, "c21") ? Outcome::kFail : Outcome::kPass;
  });
  BisectRequest r = Request("c30", "c10");  // good: the newer, fixed end
  r.fix = true;
  auto out = Bisect(probe, r);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->result["culprit"]["hash"], "c21");
  EXPECT_EQ(out->result["evidence"]["parent"]["hash"], "c20");  // the fix's parent, which still fails
  EXPECT_TRUE(out->result["fix"].get<bool>());
}

TEST_F(BisectDriverTest, FixWantsTheBadEndOlder) {
  Linear(30);
  FakeProbe probe(FailsFrom("c5"));
  BisectRequest r = Request("c10", "c30");
  r.fix = true;
  auto out = Bisect(probe, r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(), "--bad must be an ancestor of --good with --fix (older = bad)");
}

// A flaky failure: where the bug is, run k of the whole bisection fails when
// the k-th draw of a seeded sequence says so, whichever invocation makes it.
struct FlakySequence {
  std::mt19937 rng{7};
  Outcome Next(bool has_bug) { return has_bug && rng() % 3 == 0 ? Outcome::kFail : Outcome::kPass; }
};

TEST_F(BisectDriverTest, ResumeReplaysTheRecordedRunsInsteadOfRunningThemAgain) {
  Linear(40);
  BisectRequest r = Request("c0", "c40");
  // Uninterrupted, in a store of its own.
  FlakySequence whole;
  FakeProbe once([&](const std::string& c) { return whole.Next(vcs_.Reaches(c, "c23")); });
  auto reference = Bisect(once, r);
  ASSERT_TRUE(reference.ok()) << reference.status().message();
  ASSERT_GT(once.runs.size(), 12u);
  std::error_code ec;
  fs::rename(DbPath(), dir_ / "reference.db", ec);
  ASSERT_FALSE(ec);

  FlakySequence seq;
  FakeProbe first([&](const std::string& c) { return seq.Next(vcs_.Reaches(c, "c23")); });
  first.abort_after = 12;
  auto aborted = Bisect(first, r);
  ASSERT_FALSE(aborted.ok());
  EXPECT_NE(aborted.status().message().find("aborted at"), std::string::npos) << aborted.status().message();
  EXPECT_NE(aborted.status().message().find("machine gone"), std::string::npos);

  FakeProbe second([&](const std::string& c) { return seq.Next(vcs_.Reaches(c, "c23")); });
  auto resumed = Bisect(second, r);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ(observer_.resumed_with, 12);
  EXPECT_EQ(resumed->result["runs"], static_cast<int>(12 + second.runs.size()));
  EXPECT_EQ(std::vector<std::string>(once.runs.begin() + 12, once.runs.end()), second.runs)
      << "the resumed bisection goes on where the first stopped";
  EXPECT_EQ(resumed->result["culprit"], reference->result["culprit"]);
  EXPECT_EQ(resumed->result["runs"], reference->result["runs"]);
  EXPECT_EQ(RecordedRuns(resumed->id).size(), once.runs.size());
}

// A command with bytes that are not UTF-8 is recorded (not an abort) and the
// bisection resumes with the same command.
TEST_F(BisectDriverTest, ACommandWithInvalidUtf8IsRecordedAndResumes) {
  Linear(30);
  BisectRequest r = Request("c0", "c30");
  r.probe.command = {"./t\xff.sh", "--name=\xfe"};
  FakeProbe first(FailsFrom("c17"));
  first.abort_after = 2;
  auto aborted = Bisect(first, r);
  ASSERT_FALSE(aborted.ok());
  EXPECT_NE(aborted.status().message().find("aborted at"), std::string::npos) << aborted.status().message();
  FakeProbe second(FailsFrom("c17"));
  auto resumed = Bisect(second, r);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ(observer_.resumed_with, 2);
  EXPECT_EQ(resumed->result["culprit"]["hash"], "c17");
}

TEST_F(BisectDriverTest, ABisectionInProgressWithOtherOptionsIsNotResumed) {
  Linear(30);
  FakeProbe first(FailsFrom("c17"));
  first.abort_after = 2;
  ASSERT_FALSE(Bisect(first, Request("c0", "c30")).ok());
  FakeProbe second(FailsFrom("c17"));
  BisectRequest other = Request("c0", "c30");
  other.confidence = 0.9;
  auto out = Bisect(second, other);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("is in progress with other ends or options"), std::string::npos);
  EXPECT_TRUE(second.runs.empty());
}

TEST_F(BisectDriverTest, ResetEndsTheBisectionInProgressAndRemovesItsWorktree) {
  Linear(30);
  FakeProbe first(FailsFrom("c17"));
  first.abort_after = 2;
  ASSERT_FALSE(Bisect(first, Request("c0", "c30")).ok());
  auto db = store::Store::Open(DbPath());
  ASSERT_TRUE(db.ok());
  std::string wt = BisectWorktreePath(DbPath(), 1);
  std::error_code ec;
  fs::create_directories(wt, ec);  // as git made it
  ASSERT_FALSE(ec);
  EXPECT_EQ(vcs_.worktrees().count(wt), 1u);
  auto id = ResetBisection(vcs_, **db, DbPath(), observer_, clock_);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id.value(), 1);
  EXPECT_TRUE(vcs_.worktrees().empty());
  EXPECT_FALSE((*db)->ActiveBisection(vcs_.Top()).ok());
  EXPECT_EQ(ResetBisection(vcs_, **db, DbPath(), observer_, clock_).status().code(), Status::Code::kNotFound);
}

TEST_F(BisectDriverTest, ACommandThatCannotStartIsAnErrorAtTheGoodEndNotAVerdict) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  for (int i = 0; i <= 30; ++i) probe.cannot_start.insert("c" + std::to_string(i));
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_FALSE(out.ok()) << "a test that never started gave a verdict: " << out->result.dump();
  EXPECT_EQ(out.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(out.status().message().find("the test cannot start at the good end c0"), std::string::npos)
      << out.status().message();
  EXPECT_NE(out.status().message().find("command not found"), std::string::npos);
  EXPECT_EQ(probe.runs, std::vector<std::string>{"c0"}) << "stops at the first end";
  EXPECT_TRUE(vcs_.worktrees().empty()) << "the worktree is removed";
  auto db = store::Store::Open(DbPath());
  ASSERT_TRUE(db.ok());
  EXPECT_FALSE((*db)->ActiveBisection(vcs_.Top()).ok()) << "nothing to resume";
  auto b = (*db)->LoadBisection(1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->status, "error");
  EXPECT_NE(b->result_json.find("cannot start at the good end"), std::string::npos);
  // A corrected command starts a bisection of its own.
  FakeProbe fixed(FailsFrom("c17"));
  auto again = Bisect(fixed, Request("c0", "c30"));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->result["culprit"]["hash"], "c17");
}

TEST_F(BisectDriverTest, ATestThatCannotStartAtTheBadEndIsAnError) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  probe.cannot_start = {"c30"};
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("cannot start at the bad end c30"), std::string::npos)
      << out.status().message();
  EXPECT_EQ(probe.runs, (std::vector<std::string>{"c0", "c30"}));
}

TEST_F(BisectDriverTest, ASubtestAbsentAtTheBadEndIsAnErrorNotAPassEverywhere) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  for (int i = 0; i <= 30; ++i) probe.target_absent.insert("c" + std::to_string(i));
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("at the bad end c30: coll:t.sh (PASS) has no subtest 'nope'"),
            std::string::npos)
      << out.status().message();
}

TEST_F(BisectDriverTest, ATestThatFailedWithoutItsSubtestAtTheGoodEndIsUntestableThere) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  probe.failed_without_target = {"c0"};
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("untestable at the good end c0: coll:t.sh (FAIL) has no subtest 'nope' "
                                        "(it has: setup), and it did not get that far; nothing was bisected"),
            std::string::npos)
      << out.status().message();
}

TEST_F(BisectDriverTest, AnUntestableEndIsAnErrorNotACulprit) {
  for (const char* end : {"c30", "c0"}) {
    vcs_ = FakeVcs();
    Linear(30);
    std::string skipped = end;
    FakeProbe probe([&](const std::string& c) {
      return c == skipped ? Outcome::kSkip : vcs_.Reaches(c, "c17") ? Outcome::kFail : Outcome::kPass;
    });
    auto out = Bisect(probe, Request("c0", "c30"));
    ASSERT_FALSE(out.ok()) << end;
    EXPECT_NE(out.status().message().find(fmt::format("untestable at the {} end {}", skipped == "c0" ? "good" : "bad",
                                                      skipped)),
              std::string::npos)
        << out.status().message();
  }
}

TEST_F(BisectDriverTest, ASecondVigilOnTheSameBisectionIsTurnedAway) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  auto held = sys::FileLock::TryAcquire(fmt::format("{}.bisect-{:016x}.lock", DbPath(), Fnv1a(vcs_.Top())));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("is being run by another vigil"), std::string::npos) << out.status().message();
  EXPECT_TRUE(probe.runs.empty());
  held.value().reset();
  auto again = Bisect(probe, Request("c0", "c30"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

TEST_F(BisectDriverTest, ADirectoryInTheWorktreesPlaceThatIsNoWorktreeIsRefused) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  fs::create_directories(BisectWorktreePath(DbPath(), 1));
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("is not one (no .git in it)"), std::string::npos) << out.status().message();
  EXPECT_TRUE(probe.runs.empty());
}

TEST(BisectDbPathTest, ARelativeStoreIsMadeAbsoluteSoItsWorktreesAreBesideIt) {
  FakeVcs vcs;
  std::string db = BisectDbPath(vcs, "x.db");
  EXPECT_EQ(db, (fs::current_path() / "x.db").string());
  EXPECT_EQ(BisectWorktreePath(db, 3), (fs::current_path() / "vigil-bisect-wt-3").string());
}

TEST_F(BisectDriverTest, AnEndThatDoesNotBuildIsAnError) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  probe.unbuildable = {"c0"};
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("the good end c0 does not build"), std::string::npos)
      << out.status().message();
  EXPECT_TRUE(probe.runs.empty());
}

TEST_F(BisectDriverTest, TheEndsRunFirstAndAreEvidence) {
  Linear(1);  // one commit between the ends: confident before any run
  FakeProbe probe(FailsFrom("c1"));
  auto out = Bisect(probe, Request("c0", "c1"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(probe.runs, (std::vector<std::string>{"c0", "c1"}));
  EXPECT_EQ(out->result["runs"], 2);
  EXPECT_EQ(out->result["evidence"]["culprit"]["runs"], 1);
  EXPECT_EQ(out->result["evidence"]["parent"]["runs"], 1);
  auto runs = RecordedRuns(out->id);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].position, 0);
  EXPECT_EQ(runs[1].position, 1);
}

TEST_F(BisectDriverTest, AnAbortAtAnEndResumesWithoutRunningTheCheckedEndAgain) {
  Linear(30);
  FakeProbe first(FailsFrom("c17"));
  first.abort_after = 1;
  auto aborted = Bisect(first, Request("c0", "c30"));
  ASSERT_FALSE(aborted.ok());
  EXPECT_NE(aborted.status().message().find("aborted at the bad end c30"), std::string::npos)
      << aborted.status().message();
  FakeProbe second(FailsFrom("c17"));
  auto resumed = Bisect(second, Request("c0", "c30"));
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ(observer_.resumed_with, 1);
  ASSERT_FALSE(second.runs.empty());
  EXPECT_EQ(second.runs[0], "c30");
  EXPECT_EQ(std::count(second.runs.begin(), second.runs.end(), "c0"), 0);
  EXPECT_EQ(resumed->result["culprit"]["hash"], "c17");
}

TEST_F(BisectDriverTest, ACommitWhereTheTestCannotStartInsideTheLineIsUntestable) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  probe.cannot_start = {"c16", "c17"};
  auto out = Bisect(probe, Request("c0", "c30"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->result["culprit"].is_null());
  ASSERT_EQ(out->result["range"].size(), 3u);
  EXPECT_EQ(out->result["range"][0]["hash"], "c16");
  ASSERT_FALSE(observer_.warnings.empty());
  EXPECT_NE(observer_.warnings[0].find("cannot start here"), std::string::npos) << observer_.warnings[0];
}

TEST_F(BisectDriverTest, TheReproduceLineOfAVigilTestRunsThatTestQuoted) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  BisectRequest r = Request("c0", "c30");
  r.probe.command.clear();
  r.probe.vigil_test = "net/mptcp:mptcp_join.sh:add addr > signal";
  r.probe.tests_dir = "my tree";
  r.probe.build = "make -j2";
  auto out = Bisect(probe, r);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->result["reproduce"],
            "git checkout c17 && make -j2 && vigil run --tests 'my tree' -t net/mptcp:mptcp_join.sh");
}

TEST(ParseBadHistoryTest, TakesFailuresOverRuns) {
  int f = 0, n = 0;
  EXPECT_TRUE(ParseBadHistory("9/30", &f, &n));
  EXPECT_EQ(f, 9);
  EXPECT_EQ(n, 30);
  EXPECT_FALSE(ParseBadHistory("5/3", &f, &n));
  EXPECT_FALSE(ParseBadHistory("x/3", &f, &n));
  EXPECT_FALSE(ParseBadHistory("3", &f, &n));
}

TEST_F(BisectDriverTest, ACancelledProbeIsNotRecordedAndTheBisectionResumes) {
  Linear(30);
  sys::Cancellation cancel;
  FakeProbe probe(FailsFrom("c17"));
  probe.cancel = &cancel;
  probe.cancel_at = 3;
  BisectRequest r = Request("c0", "c30");
  r.cancel = &cancel;
  auto out = Bisect(probe, r);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("stopped at"), std::string::npos) << out.status().message();
  EXPECT_EQ(probe.runs.size(), 3u);  // nothing after the signal
  auto db = store::Store::Open(DbPath());
  ASSERT_TRUE(db.ok());
  auto b = (*db)->ActiveBisection(vcs_.Top());
  ASSERT_TRUE(b.ok()) << "still in progress";
  EXPECT_EQ(RecordedRuns(b->id).size(), 2u);  // the stopped run's outcome is not evidence

  // Run again without a signal: it resumes and finds the culprit.
  FakeProbe again(FailsFrom("c17"));
  BisectRequest r2 = Request("c0", "c30");
  auto done = Bisect(again, r2);
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(done->id, b->id);
  EXPECT_EQ(done->result["culprit"]["hash"], "c17");
  EXPECT_EQ(observer_.resumed_with, 2);
}

// The ends are checked first: a signal while the good end's run is going
// leaves nothing recorded (a killed test is no evidence), and nothing more runs.
TEST_F(BisectDriverTest, ASignalWhileAnEndIsCheckedRecordsNothingAndResumes) {
  Linear(30);
  for (int at : {1, 2}) {
    sys::Cancellation cancel;
    FakeProbe probe(FailsFrom("c17"));
    probe.cancel = &cancel;
    probe.cancel_at = at;
    BisectRequest r = Request("c0", "c30");
    r.cancel = &cancel;
    auto out = Bisect(probe, r);
    ASSERT_FALSE(out.ok());
    EXPECT_NE(out.status().message().find(at == 1 ? "stopped at the good end" : "stopped at the bad end"),
              std::string::npos)
        << out.status().message();
    EXPECT_EQ(probe.runs.size(), static_cast<size_t>(at));
    auto db = store::Store::Open(DbPath());
    ASSERT_TRUE(db.ok());
    auto b = (*db)->ActiveBisection(vcs_.Top());
    ASSERT_TRUE(b.ok()) << "still in progress";
    // First nothing; then the good end, run fully the second time.
    EXPECT_EQ(RecordedRuns(b->id).size(), static_cast<size_t>(at - 1)) << at;
  }
  FakeProbe again(FailsFrom("c17"));
  auto done = Bisect(again, Request("c0", "c30"));
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(done->result["culprit"]["hash"], "c17");
}

}  // namespace
}  // namespace vigil::engine

namespace vigil::engine {
namespace {

TEST(CostMeterTest, TheMeanWarmBuildOverTheMeanRun) {
  CostMeter m;
  EXPECT_FALSE(m.Cost().has_value());
  m.Built(600000);  // cold: alone, it is all there is
  EXPECT_FALSE(m.Cost().has_value()) << "no run measured yet";
  m.Ran(2000);
  EXPECT_DOUBLE_EQ(*m.Cost(), 300.0);
  m.Built(100000);  // once there are warm builds, the cold one is left out
  m.Built(60000);
  m.Ran(8000);
  EXPECT_DOUBLE_EQ(m.mean_build_ms(), 80000.0);
  EXPECT_DOUBLE_EQ(m.mean_run_ms(), 5000.0);
  EXPECT_DOUBLE_EQ(*m.Cost(), 16.0);
  EXPECT_EQ(m.builds(), 3);
  EXPECT_EQ(m.runs(), 2);
  CostMeter instant;
  instant.Built(5000);
  instant.Ran(0);  // a run of no measurable time counts as 1 ms
  EXPECT_DOUBLE_EQ(*instant.Cost(), 5000.0);
  instant.Built(1000000000);
  EXPECT_DOUBLE_EQ(*instant.Cost(), 10000.0) << "bounded";
}

// Fails at commits from c37 on, every third run there (an intermittent
// failure, the same sequence for every probe).
std::function<Outcome(const std::string&)> EveryThirdFrom37() {
  auto n = std::make_shared<int>(0);
  return [n](const std::string& c) {
    if (std::stoi(c.substr(1)) < 37) return Outcome::kPass;
    return (*n)++ % 3 == 0 ? Outcome::kFail : Outcome::kPass;
  };
}

// How many times the commit run changed: a checkout and build each.
int CommitChanges(const std::vector<std::string>& runs) {
  int changes = 0;
  for (size_t i = 1; i < runs.size(); ++i) changes += runs[i] != runs[i - 1];
  return changes;
}

TEST_F(BisectDriverTest, SlowBuildsMeasuredAgainstFastRunsKeepTheSearchAtTheBuiltCommit) {
  Linear(60);
  auto bisect = [&](std::chrono::milliseconds build, FakeProbe* probe) {
    probe->clock = &clock_;
    probe->build_time = build;
    probe->run_time = std::chrono::seconds(1);
    BisectRequest r = Request("c0", "c60");
    r.probe.build = "make";  // builds happen; no --build-cost: measured
    return Bisect(*probe, r);
  };
  FakeProbe slow(EveryThirdFrom37()), fast(EveryThirdFrom37());
  auto s = bisect(std::chrono::seconds(100), &slow);
  auto f = bisect(std::chrono::seconds(1), &fast);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(s->result["culprit"]["hash"], "c37");
  EXPECT_EQ(f->result["culprit"]["hash"], "c37");
  // The measured cost reached the search: it is recorded ...
  EXPECT_TRUE(s->result["build_cost_measured"].get<bool>());
  EXPECT_DOUBLE_EQ(s->result["build_cost"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(f->result["build_cost"].get<double>(), 1.0);
  EXPECT_EQ(s->result["measured"]["build_ms"], 100000);
  EXPECT_EQ(s->result["measured"]["run_ms"], 1000);
  EXPECT_EQ(s->result["measured"]["builds"], static_cast<int>(slow.builds.size()));
  EXPECT_EQ(s->result["measured"]["runs"], static_cast<int>(slow.runs.size()));
  // ... and it chose differently: more runs at each built commit, fewer
  // builds, where builds are slow.
  int slow_changes = CommitChanges(slow.runs), fast_changes = CommitChanges(fast.runs);
  EXPECT_LT(slow.builds.size(), fast.builds.size());
  EXPECT_LT(slow_changes, fast_changes);
  EXPECT_GT(static_cast<double>(slow.runs.size()) / (slow_changes + 1),
            static_cast<double>(fast.runs.size()) / (fast_changes + 1));
  EXPECT_EQ(s->result["builds"], static_cast<int>(slow.builds.size()));
}

TEST_F(BisectDriverTest, AKeptBuildRunsAgainWithoutACheckoutOrABuild) {
  Linear(60);
  auto bisect = [&](bool keeps, FakeProbe* probe) {
    probe->keeps = keeps;
    BisectRequest r = Request("c0", "c60");
    r.probe.build_tree = true;  // whose probe keeps its builds: the search counts on it
    r.build_cost = 5;
    return Bisect(*probe, r);
  };
  FakeProbe keeping(EveryThirdFrom37());
  int checkouts = vcs_.checkouts();
  auto k = bisect(true, &keeping);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->result["culprit"]["hash"], "c37");
  // It went back to commits it had built, and built none twice.
  EXPECT_FALSE(keeping.restores.empty());
  EXPECT_EQ(std::set<std::string>(keeping.builds.begin(), keeping.builds.end()).size(), keeping.builds.size());
  EXPECT_EQ(vcs_.checkouts() - checkouts, static_cast<int>(keeping.builds.size()));
  EXPECT_EQ(k->result["builds"], static_cast<int>(keeping.builds.size()));
  EXPECT_EQ(k->result["reused_builds"], static_cast<int>(keeping.restores.size()));
  // A probe that kept nothing builds again where the search went back: the
  // builds recorded are the builds made.
  FakeProbe rebuilding(EveryThirdFrom37());
  auto b = bisect(false, &rebuilding);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->result["culprit"]["hash"], "c37");
  EXPECT_GT(rebuilding.builds.size(), std::set<std::string>(rebuilding.builds.begin(), rebuilding.builds.end()).size());
  EXPECT_EQ(b->result["builds"], static_cast<int>(rebuilding.builds.size()));
  EXPECT_EQ(b->result["reused_builds"], 0);
}

TEST_F(BisectDriverTest, AGivenBuildCostIsKeptWhateverTheBuildsTake) {
  Linear(60);
  auto bisect = [&](std::chrono::milliseconds build, FakeProbe* probe) {
    probe->clock = &clock_;
    probe->build_time = build;
    probe->run_time = std::chrono::seconds(1);
    BisectRequest r = Request("c0", "c60");
    r.probe.build = "make";
    r.build_cost = 4;
    return Bisect(*probe, r);
  };
  FakeProbe slow(EveryThirdFrom37()), fast(EveryThirdFrom37());
  auto s = bisect(std::chrono::seconds(100), &slow);
  auto f = bisect(std::chrono::seconds(1), &fast);
  ASSERT_TRUE(s.ok() && f.ok());
  EXPECT_EQ(slow.runs, fast.runs);
  EXPECT_FALSE(s->result["build_cost_measured"].get<bool>());
  EXPECT_DOUBLE_EQ(s->result["build_cost"].get<double>(), 4.0);
  EXPECT_EQ(s->result["measured"]["build_ms"], 100000) << "measured all the same";
}

TEST_F(BisectDriverTest, TheColdFirstBuildIsLeftOutOfTheMeasuredCost) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  probe.clock = &clock_;
  probe.first_build_time = std::chrono::seconds(1000);
  probe.build_time = std::chrono::seconds(20);
  probe.run_time = std::chrono::seconds(2);
  BisectRequest r = Request("c0", "c30");
  r.probe.build = "make";
  auto out = Bisect(probe, r);
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_GT(probe.builds.size(), 2u);
  EXPECT_DOUBLE_EQ(out->result["build_cost"].get<double>(), 10.0);
  EXPECT_EQ(out->result["measured"]["build_ms"], 20000);
}

TEST_F(BisectDriverTest, WithoutBuildsNothingIsMeasuredAndBuildsCostNothing) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  probe.clock = &clock_;
  probe.build_time = std::chrono::seconds(100);
  probe.run_time = std::chrono::seconds(1);
  auto out = Bisect(probe, Request("c0", "c30"));  // no build command
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FALSE(out->result["build_cost_measured"].get<bool>());
  EXPECT_DOUBLE_EQ(out->result["build_cost"].get<double>(), 0.0);
}

TEST_F(BisectDriverTest, ABuildThatCannotBeAttemptedStopsTheBisectionWhichResumesOnceFixed) {
  Linear(30);
  FakeProbe probe(FailsFrom("c17"));
  probe.environment = "a kernel build needs what is missing here: flex (apt-get install flex)";
  BisectRequest r = Request("c0", "c30");
  r.probe.build = "make";
  auto out = Bisect(probe, r);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("apt-get install flex"), std::string::npos) << out.status().message();
  EXPECT_NE(out.status().message().find("resume"), std::string::npos) << out.status().message();
  EXPECT_TRUE(probe.runs.empty());
  EXPECT_TRUE(observer_.build_failures.empty()) << "not an untestable commit";
  {
    auto db = store::Store::Open(DbPath());
    ASSERT_TRUE(db.ok());
    auto active = (*db)->ActiveBisection(vcs_.Top());
    ASSERT_TRUE(active.ok()) << "still in progress";
  }
  probe.environment.clear();
  out = Bisect(probe, r);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->result["culprit"]["hash"], "c17");
  EXPECT_EQ(observer_.resumed_with, 0);
}

TEST_F(BisectDriverTest, TheBuildDirectoryInTheWorktreeGoesWithIt) {
  Linear(10);
  FakeProbe probe(FailsFrom("c7"));
  BisectRequest r = Request("c0", "c10");
  r.probe.build = "make";
  BisectDriver driver(vcs_, probe, observer_, clock_);
  ASSERT_TRUE(driver.Resolve(r).ok());
  auto db = store::Store::Open(DbPath());
  ASSERT_TRUE(db.ok());
  probe.make_build_dir = true;
  fs::path build_dir = BisectBuildDir(BisectWorktreePath(DbPath(), 1), "normal");
  auto out = driver.Run(r, **db, DbPath());
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->id, 1);
  EXPECT_FALSE(fs::exists(build_dir));
  EXPECT_EQ(probe.records_builds_in, db->get()) << "builds go to the bisection's store";
}

TEST_F(BisectDriverTest, BuildTreeOptionsAreRecordedSoOtherOnesDoNotResume) {
  BisectRequest r = Request("c0", "c10");
  nlohmann::json plain = BisectOptionsJson(r);
  EXPECT_FALSE(plain.contains("build_tree")) << "bisections without it resume as before";
  r.probe.build_tree = true;
  r.probe.build_options.collections = {"net/mptcp"};
  r.probe.build_options.variant.name = "debug";
  r.probe.build_options.set = {"CONFIG_X=y"};
  r.probe.build_options.jobs = 8;
  nlohmann::json a = BisectOptionsJson(r);
  EXPECT_EQ(a["build_tree"]["collections"], nlohmann::json::array({"net/mptcp"}));
  EXPECT_EQ(a["build_tree"]["variant"]["name"], "debug");
  r.probe.build_options.jobs = 2;  // how fast, not what is built
  EXPECT_EQ(BisectOptionsJson(r), a);
  r.probe.build_options.set = {"CONFIG_X=n"};
  EXPECT_NE(BisectOptionsJson(r), a);
}

}  // namespace
}  // namespace vigil::engine
