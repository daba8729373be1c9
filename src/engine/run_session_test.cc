#include "engine/run_session.h"
#include "runner/split.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "base/text.h"
#include "engine/run_group.h"
#include "judge/outcome.h"
#include "model/verdicts.h"
#include "store/memory_store.h"
#include "sys/cancel.h"
#include "sys/fake_process_runner.h"
#include "sys/process.h"

namespace vigil::engine {
namespace {

namespace fs = std::filesystem;

// A machine whose programs are played by a FakeProcessRunner.
class FakeMachine final : public Machine {
 public:
  FakeMachine(sys::FakeProcessRunner* runner, bool vm, std::string accel)
      : runner_(runner), vm_(vm), accel_(std::move(accel)) {}
  sys::ProcessRunner* runner() override { return runner_; }
  model::Environment DetectEnvironment() override {
    model::Environment e;
    e.kernel_release = "6.12.0-test";
    e.uname = "Linux test";
    e.arch = "x86_64";
    e.cpus = 2;
    e.where = vm_ ? "vm" : "host";
    e.accel = accel_;
    return e;
  }
  bool is_vm() const override { return vm_; }
  std::string console_log() const override { return vm_ ? "/tmp/console.log" : ""; }
  std::string accel() const override { return accel_; }

 private:
  sys::FakeProcessRunner* runner_;
  bool vm_;
  std::string accel_;
};

// Remembers what the session told its front-end.
class Recorder final : public RunObserver {
 public:
  void OnNote(const std::string& line) override { notes.push_back(line); }
  void OnWarning(const std::string& message) override { warnings.push_back(message); }
  void OnRunStarted(const RunStart& s) override { starts.push_back(s); }
  void OnRetry(const std::string& path, ktap::Status, int attempt) override {
    retries.push_back(path + "@" + std::to_string(attempt));
  }
  void OnTestFinished(const TestEnd& e) override { finished.push_back(e); }
  void OnTestOutput(const std::string& path, std::string_view line) override {
    std::lock_guard<std::mutex> lock(*output_mu);
    output.push_back(path + ": " + std::string(line));
  }
  Status OnRunFinished(const report::FinishedRun& run) override {
    runs.push_back(run);
    return Status::OK();
  }
  std::vector<std::string> notes, warnings, retries;
  std::vector<RunStart> starts;
  std::vector<TestEnd> finished;
  std::vector<report::FinishedRun> runs;
  std::shared_ptr<std::mutex> output_mu = std::make_shared<std::mutex>();  // output comes from the workers
  std::vector<std::string> output;
};

// A store that dies after `writes` writes: later writes fail and change
// nothing, as after a kill -9 of vigil at that point. Reads go through.
class DyingStore final : public store::Store {
 public:
  DyingStore(store::Store* inner, int writes) : inner_(inner), left_(writes) {}
  int schema_version() const override { return inner_->schema_version(); }
  Result<int64_t> EnsureEnvironment(const model::Environment& env) override {
    if (!Write()) return Dead();
    return inner_->EnsureEnvironment(env);
  }
  Result<int64_t> CreateRun(const model::RunRecord& run) override {
    if (!Write()) return Dead();
    return inner_->CreateRun(run);
  }
  Status RecordAttempt(int64_t run_id, const model::AttemptRecord& a) override {
    return Write() ? inner_->RecordAttempt(run_id, a) : Dead();
  }
  Status SetConsoleLog(int64_t run_id, const std::string& path) override {
    return Write() ? inner_->SetConsoleLog(run_id, path) : Dead();
  }
  Status SetRunVm(int64_t run_id, const std::string& vm_json) override {
    return Write() ? inner_->SetRunVm(run_id, vm_json) : Dead();
  }
  Status FinishRun(int64_t run_id, const std::string& status, const std::string& at) override {
    return Write() ? inner_->FinishRun(run_id, status, at) : Dead();
  }
  Result<bool> ClaimRun(int64_t run_id, const std::string& expected, const std::string& owner) override {
    if (!Write()) return Dead();
    return inner_->ClaimRun(run_id, expected, owner);
  }
  Status DiscardInterrupted(int64_t run_id) override {
    return Write() ? inner_->DiscardInterrupted(run_id) : Dead();
  }
  Result<int64_t> CreateGroupRun(const model::RunRecord& run,
                                 const std::vector<std::vector<std::string>>& shard_tests) override {
    if (!Write()) return Dead();
    return inner_->CreateGroupRun(run, shard_tests);
  }
  Result<int64_t> FindGroupRun(const std::string& group) override { return inner_->FindGroupRun(group); }
  Result<std::vector<model::RunShardRecord>> LoadRunShards(int64_t id) override { return inner_->LoadRunShards(id); }
  Result<bool> StartShard(const model::RunShardRecord& s, const std::string& expected) override {
    if (!Write()) return Dead();
    return inner_->StartShard(s, expected);
  }
  Result<int> EndShard(int64_t id, int shard, const std::string& status, const std::string& at) override {
    if (!Write()) return Dead();
    return inner_->EndShard(id, shard, status, at);
  }
  Result<model::RunRecord> LoadRun(int64_t id) override { return inner_->LoadRun(id); }
  Result<std::vector<model::RunRecord>> ListRuns(const store::RunQuery& q) override { return inner_->ListRuns(q); }
  Result<int64_t> CountRuns(const store::RunQuery& q) override { return inner_->CountRuns(q); }
  Result<int64_t> DataVersion() override { return inner_->DataVersion(); }
  Result<std::vector<model::AttemptBrief>> LoadAttemptBriefs(const std::vector<int64_t>& ids) override {
    return inner_->LoadAttemptBriefs(ids);
  }
  Result<std::vector<model::TestSummary>> LoadTestSummaries(const std::vector<int64_t>& ids) override {
    return inner_->LoadTestSummaries(ids);
  }
  Result<std::vector<model::RunAttempt>> LoadTestAttempts(const std::string& path, int runs, int64_t up_to,
                                                          const std::optional<std::vector<int64_t>>& only) override {
    return inner_->LoadTestAttempts(path, runs, up_to, only);
  }
  Result<std::vector<model::CrashSighting>> ListCrashSightings() override { return inner_->ListCrashSightings(); }
  Result<std::string> LoadCrashText(int64_t id) override { return inner_->LoadCrashText(id); }
  Result<model::Environment> LoadEnvironment(int64_t id) override { return inner_->LoadEnvironment(id); }
  Result<std::map<int64_t, model::Environment>> ListEnvironments() override { return inner_->ListEnvironments(); }
  Result<std::string> LoadConsoleLog(int64_t id) override { return inner_->LoadConsoleLog(id); }
  Result<int64_t> LatestRun() override { return inner_->LatestRun(); }
  Result<std::string> LoadAttemptOutput(int64_t id, const std::string& test, int attempt) override {
    return inner_->LoadAttemptOutput(id, test, attempt);
  }
  Result<std::vector<model::AttemptRecord>> LoadAttempts(int64_t id, bool with_output, bool crash_texts) override {
    return inner_->LoadAttempts(id, with_output, crash_texts);
  }
  Result<int64_t> CreateBisection(const model::BisectionRecord& b) override { return inner_->CreateBisection(b); }
  Result<model::BisectionRecord> ActiveBisection(const std::string& repo) override {
    return inner_->ActiveBisection(repo);
  }
  Result<model::BisectionRecord> LoadBisection(int64_t id) override { return inner_->LoadBisection(id); }
  Result<model::BisectionRecord> LatestBisection(const std::string& repo) override {
    return inner_->LatestBisection(repo);
  }
  Status RecordBisectRun(int64_t id, const model::BisectRunRecord& r) override { return inner_->RecordBisectRun(id, r); }
  Result<std::vector<model::BisectRunRecord>> LoadBisectRuns(int64_t id) override { return inner_->LoadBisectRuns(id); }
  Status FinishBisection(int64_t id, const std::string& status, const std::string& result,
                         const std::string& at) override {
    return inner_->FinishBisection(id, status, result, at);
  }
  Result<int64_t> RecordBuild(const model::BuildRecord& b,
                              const std::vector<model::BuildDiagnosticRecord>& diagnostics) override {
    if (!Write()) return Dead();
    return inner_->RecordBuild(b, diagnostics);
  }
  Result<model::BuildRecord> LoadBuild(int64_t id) override { return inner_->LoadBuild(id); }
  Result<std::vector<model::BuildRecord>> ListBuilds(const store::BuildQuery& q) override {
    return inner_->ListBuilds(q);
  }
  Result<std::vector<model::BuildDiagnosticRecord>> LoadBuildDiagnostics(int64_t id) override {
    return inner_->LoadBuildDiagnostics(id);
  }
  Result<std::map<std::string, int64_t>> LastDurations() override { return inner_->LastDurations(); }
  Result<std::string> WatchCursor(const std::string& source) override { return inner_->WatchCursor(source); }
  Status StartWatchCursor(const std::string& source, const std::string& date) override {
    if (!Write()) return Dead();
    return inner_->StartWatchCursor(source, date);
  }
  Result<bool> EventAccepted(const std::string& source, int64_t event_id) override {
    return inner_->EventAccepted(source, event_id);
  }
  Result<int64_t> AcceptEvent(const std::string& source, int64_t event_id, const std::string& event_date,
                              const std::optional<model::SeriesRecord>& queue) override {
    if (!Write()) return Dead();
    return inner_->AcceptEvent(source, event_id, event_date, queue);
  }
  Result<int64_t> QueueSeries(const model::SeriesRecord& s) override {
    if (!Write()) return Dead();
    return inner_->QueueSeries(s);
  }
  Status UpdateSeries(const model::SeriesRecord& s) override {
    return Write() ? inner_->UpdateSeries(s) : Dead();
  }
  Result<model::SeriesRecord> LoadSeries(int64_t id) override { return inner_->LoadSeries(id); }
  Result<model::SeriesRecord> FindSeries(const std::string& source, int64_t series_id) override {
    return inner_->FindSeries(source, series_id);
  }
  Result<std::vector<model::SeriesRecord>> ListSeries(const store::SeriesQuery& q) override {
    return inner_->ListSeries(q);
  }
  Result<std::map<int64_t, store::RunOrigin>> LoadRunOrigins(const std::vector<int64_t>& ids) override {
    return inner_->LoadRunOrigins(ids);
  }
  Result<std::vector<int64_t>> ListRunsWithOrigin(const std::string& kind) override {
    return inner_->ListRunsWithOrigin(kind);
  }
  Status SetSeriesCheck(const model::SeriesCheckRecord& c) override {
    return Write() ? inner_->SetSeriesCheck(c) : Dead();
  }
  Result<std::vector<model::SeriesCheckRecord>> LoadSeriesChecks(int64_t series) override {
    return inner_->LoadSeriesChecks(series);
  }
  Status SetSeriesMail(const model::SeriesMailRecord& m) override {
    return Write() ? inner_->SetSeriesMail(m) : Dead();
  }
  Result<model::SeriesMailRecord> LoadSeriesMail(int64_t series) override {
    return inner_->LoadSeriesMail(series);
  }
  Status SetBaseline(const std::string& key, const std::string& commit, int64_t run_id) override {
    return Write() ? inner_->SetBaseline(key, commit, run_id) : Dead();
  }
  Result<int64_t> FindBaseline(const std::string& key, const std::string& commit) override {
    return inner_->FindBaseline(key, commit);
  }

 private:
  bool Write() { return left_-- > 0; }
  static Status Dead() { return Status::IOError("killed"); }
  store::Store* inner_;
  int left_;
};

std::string StatusOf(const report::FinishedRun& run, const std::string& path) {
  for (const auto& r : run.results) {
    if (r.path == path) return judge::FinalStatus(r.attempts);
  }
  return "ABSENT";
}

class RunSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigil-session-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "tests" / "c");
    db_ = store::NewMemoryStore();
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // A kselftest tree: collection c with these tests, in this order.
  void Tests(std::initializer_list<const char*> names) {
    std::ofstream list(dir_ / "tests" / "kselftest-list.txt");
    for (const char* n : names) {
      list << "c:" << n << "\n";
      fs::path p = dir_ / "tests" / "c" / n;
      std::ofstream(p) << "#!/bin/sh\nexit 0\n";
      chmod(p.c_str(), 0755);
    }
  }
  void WriteFile(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }

  RunRequest Request() {
    RunRequest r;
    r.tests_dir = (dir_ / "tests").string();
    r.db_path = (dir_ / "vigil.db").string();
    r.use_cgroups = false;
    r.command_line = "vigil run";
    r.host = "testhost";
    r.base_env = {"PATH=/usr/bin:/bin"};
    return r;
  }

  Result<SessionEnd> Execute(RunRequest r, bool vm = false, std::string accel = "") {
    RunSession session(*db_, clock_, rec_, [&, vm, accel](const MachineRequest& req, const auto&) {
      machine_requests_.push_back(req.vm ? req.vm->kernel : "host");
      return Result<std::unique_ptr<Machine>>(std::make_unique<FakeMachine>(&runner_, vm, accel));
    });
    return session.Execute(std::move(r));
  }

  static sys::FakeProgram Exits(int code, std::string output = "", int64_t ms = 10) {
    sys::FakeProgram p;
    p.status = sys::WaitStatus::Exited(code);
    p.output = std::move(output);
    p.duration_ms = ms;
    return p;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> db_;
  FakeClock clock_;
  sys::FakeProcessRunner runner_;
  Recorder rec_;
  std::vector<std::string> machine_requests_;
};

TEST_F(RunSessionTest, StatusesAreRecordedAndTheExitStatusFollowsTheWorst) {
  Tests({"pass.sh", "fail.sh", "skip.sh", "xfail.sh"});
  runner_.Script("/fail.sh", {Exits(1, "boom\n")});
  runner_.Script("/skip.sh", {Exits(4)});
  runner_.Script("/xfail.sh", {Exits(2)});
  auto end = Execute(Request());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end->exit_code, 1);
  ASSERT_EQ(rec_.runs.size(), 1u);
  const auto& run = rec_.runs[0];
  EXPECT_EQ(run.status, "FAIL");
  EXPECT_EQ(StatusOf(run, "c:pass.sh"), "PASS");
  EXPECT_EQ(StatusOf(run, "c:fail.sh"), "FAIL");
  EXPECT_EQ(StatusOf(run, "c:skip.sh"), "SKIP");
  EXPECT_EQ(StatusOf(run, "c:xfail.sh"), "FAIL");  // exit 2 fails, as in kselftest's runner.sh
  // The store has the same, and the run is finished with the clock's time.
  auto stored = db_->LoadRun(run.run_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, "FAIL");
  EXPECT_EQ(stored->finished_at, "2026-01-01T00:00:00Z");
  EXPECT_EQ(stored->host, "testhost");
  EXPECT_EQ(stored->plan, (std::vector<std::string>{"c:pass.sh", "c:fail.sh", "c:skip.sh", "c:xfail.sh"}));
  auto attempts = db_->LoadAttempts(run.run_id, true);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 4u);
  EXPECT_EQ((*attempts)[1].output, "boom\n");
  EXPECT_EQ((*attempts)[1].exit_code, 1);
}

TEST_F(RunSessionTest, TheObserverGetsEachOutputLineWithItsTestsPath) {
  Tests({"a.sh", "b.sh"});
  runner_.Script("/a.sh", {Exits(0, "one\ntwo\n")});
  runner_.Script("/b.sh", {Exits(1, "last line without newline")});
  ASSERT_TRUE(Execute(Request()).ok());
  EXPECT_EQ(rec_.output, (std::vector<std::string>{"c:a.sh: one", "c:a.sh: two", "c:b.sh: last line without newline"}));
}

TEST_F(RunSessionTest, TheRunStartCarriesTimeoutsAndStoredDurationsInStartOrder) {
  Tests({"short.sh", "long.sh", "new.sh"});
  WriteFile("tests/c/settings", "timeout=100\n");
  runner_.Script("/short.sh", {Exits(0, "", 1000)});
  runner_.Script("/long.sh", {Exits(0, "", 9000)});
  RunRequest first = Request();
  first.filter.tests = {"c:short.sh", "c:long.sh"};
  ASSERT_TRUE(Execute(first).ok());
  RunRequest r = Request();
  r.jobs = 2;
  r.slowdown = 1.5;
  r.slowdown_set = true;
  ASSERT_TRUE(Execute(r).ok());
  const RunStart& s = rec_.starts.at(1);
  EXPECT_EQ(s.jobs, 2);
  ASSERT_EQ(s.plan.size(), 3u);
  // Longest first, unknown tests before known ones.
  EXPECT_EQ(s.plan[0].path, "c:new.sh");
  EXPECT_FALSE(s.plan[0].last_duration_ms.has_value());
  EXPECT_EQ(s.plan[1].path, "c:long.sh");
  EXPECT_EQ(s.plan[1].last_duration_ms, 9000);
  EXPECT_EQ(s.plan[2].path, "c:short.sh");
  EXPECT_EQ(s.plan[2].last_duration_ms, 1000);
  EXPECT_EQ(s.plan[1].timeout_s, 150);  // settings' 100 s, --slowdown 1.5
}

TEST_F(RunSessionTest, AllPassingExitsZero) {
  Tests({"a.sh", "b.sh"});
  auto end = Execute(Request());
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_EQ(rec_.runs.at(0).status, "PASS");
}

TEST_F(RunSessionTest, AFailureThatPassesOnRetryIsFlakyAndDoesNotFailTheRun) {
  Tests({"flaky.sh", "broken.sh"});
  runner_.Script("/flaky.sh", {Exits(1), Exits(0)});
  runner_.Script("/broken.sh", {Exits(1)});
  RunRequest r = Request();
  r.retries = 2;
  auto end = Execute(r);
  ASSERT_TRUE(end.ok());
  const auto& run = rec_.runs.at(0);
  EXPECT_EQ(StatusOf(run, "c:flaky.sh"), "FLAKY");
  EXPECT_EQ(StatusOf(run, "c:broken.sh"), "FAIL");
  EXPECT_EQ(end->exit_code, 1);  // broken.sh
  EXPECT_EQ(rec_.retries, (std::vector<std::string>{"c:flaky.sh@1", "c:broken.sh@1", "c:broken.sh@2"}));
  auto attempts = db_->LoadAttempts(run.run_id);
  ASSERT_TRUE(attempts.ok());
  EXPECT_EQ(attempts->size(), 5u);  // 2 + 3
  // Only the flaky one: the run passes.
  Tests({"flaky.sh"});
  runner_.Script("/flaky.sh", {Exits(1), Exits(0)});
  auto again = Execute(r);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->exit_code, 0);
  EXPECT_EQ(rec_.runs.at(1).status, "PASS");
}

TEST_F(RunSessionTest, PerTestRetriesFromVigilTomlOverrideTheFlag) {
  Tests({"a.sh", "b.sh"});
  WriteFile("tests/vigil.toml", "[[test]]\nmatch = \"c:b.sh\"\nretries = 1\ntimeout = 7\n");
  runner_.Script("/a.sh", {Exits(1), Exits(0)});
  runner_.Script("/b.sh", {Exits(1), Exits(0)});
  auto end = Execute(Request());
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(StatusOf(rec_.runs.at(0), "c:a.sh"), "FAIL");   // no retries
  EXPECT_EQ(StatusOf(rec_.runs.at(0), "c:b.sh"), "FLAKY");  // one retry
  EXPECT_EQ(rec_.runs.at(0).timeouts.at("c:b.sh"), std::chrono::seconds(7));
  bool b_timeout = false;
  for (const auto& c : runner_.calls()) {
    if (c.argv[0].ends_with("/b.sh")) b_timeout = c.timeout == std::chrono::milliseconds(7000);
  }
  EXPECT_TRUE(b_timeout);
}

TEST_F(RunSessionTest, SubtestVerdictsAcrossAttempts) {
  Tests({"k.sh"});
  std::string first = "TAP version 13\n1..2\nok 1 one\nnot ok 2 two\n";
  std::string second = "TAP version 13\n1..2\nok 1 one\nok 2 two\n";
  runner_.Script("/k.sh", {Exits(1, first), Exits(0, second)});
  RunRequest r = Request();
  r.retries = 1;
  ASSERT_TRUE(Execute(r).ok());
  const auto& result = rec_.runs.at(0).results.at(0);
  ASSERT_EQ(result.attempts.size(), 2u);
  EXPECT_EQ(result.attempts[0].subtests.at(1).status, "FAIL");
  auto subs = judge::SubtestVerdicts(result.attempts);
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0].path, "one");
  EXPECT_EQ(subs[0].status, "PASS");
  EXPECT_EQ(subs[1].path, "two");
  EXPECT_EQ(subs[1].status, "FLAKY");
  EXPECT_EQ(judge::FinalStatus(result.attempts), "FLAKY");
}

// A run killed after k of its tests were recorded (k = 0: right after the run
// was created; k = all: before it was finished) is finished by --resume:
// only what is missing runs, and the run reports all of it.
TEST_F(RunSessionTest, ResumeAfterAKillAtEveryStep) {
  Tests({"a.sh", "b.sh", "c.sh"});
  runner_.Script("/b.sh", {Exits(1)});
  const std::vector<std::string> plan = {"c:a.sh", "c:b.sh", "c:c.sh"};
  for (size_t k = 0; k <= plan.size(); ++k) {
    SCOPED_TRACE("killed after " + std::to_string(k) + " tests");
    model::RunRecord run;
    run.started_at = "2026-01-01T00:00:00Z";
    run.tests_dir = (dir_ / "tests").string();
    run.plan = plan;
    auto id = db_->CreateRun(run);
    ASSERT_TRUE(id.ok());
    for (size_t i = 0; i < k; ++i) {
      model::AttemptRecord a;
      a.test_path = plan[i];
      a.status = i == 1 ? "FAIL" : "PASS";
      a.exit_code = i == 1 ? 1 : 0;
      ASSERT_TRUE(db_->RecordAttempt(*id, a).ok());
    }
    size_t before = runner_.started().size();
    RunRequest r = Request();
    r.tests_dir = "";
    r.resume = std::to_string(*id);
    rec_ = Recorder();
    auto end = Execute(r);
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    // Only the tests without a result ran.
    std::vector<std::string> all = runner_.started();
    std::vector<std::string> ran(all.begin() + static_cast<long>(before), all.end());
    ASSERT_EQ(ran.size(), plan.size() - k);
    for (size_t i = 0; i < ran.size(); ++i) EXPECT_TRUE(ran[i].ends_with(plan[k + i].substr(2)));
    // The run reports the whole plan, in plan order, and is finished.
    ASSERT_EQ(rec_.runs.size(), 1u);
    const auto& fin = rec_.runs[0];
    EXPECT_EQ(fin.run_id, *id);
    ASSERT_EQ(fin.results.size(), plan.size());
    for (size_t i = 0; i < plan.size(); ++i) EXPECT_EQ(fin.results[i].path, plan[i]);
    EXPECT_EQ(fin.status, "FAIL");
    EXPECT_EQ(end->exit_code, 1);
    auto stored = db_->LoadRun(*id);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(stored->status, "FAIL");
    EXPECT_EQ(rec_.notes.back(), fmt::format("resuming run {}: {} of 3 tests done", *id, k));
  }
}

// The same, with the session's own writes: a store that dies after its k-th
// write (environment, run, each attempt, the finish) leaves what a kill -9
// at that point leaves; --resume then runs only what has no final result
// (nothing recorded, or a failure whose retry was lost), keeps what was
// recorded and finishes the run.
TEST_F(RunSessionTest, ResumeFinishesARunKilledAfterAnyWrite) {
  Tests({"a.sh", "b.sh", "c.sh"});
  const std::vector<std::string> plan = {"c:a.sh", "c:b.sh", "c:c.sh"};
  for (int k = 1; k <= 6; ++k) {  // 7 writes in all: env, run, 4 attempts, finish
    SCOPED_TRACE("killed after write " + std::to_string(k));
    db_ = store::NewMemoryStore();
    runner_.Script("/b.sh", {Exits(1), Exits(0)});
    runner_.Script("/c.sh", {Exits(1)});
    RunRequest r = Request();
    r.retries = 1;
    {
      DyingStore dying(db_.get(), k);
      RunSession session(dying, clock_, rec_, [&](const MachineRequest&, const auto&) {
        return Result<std::unique_ptr<Machine>>(std::make_unique<FakeMachine>(&runner_, false, ""));
      });
      auto end = session.Execute(r);
      if (k == 1) {
        EXPECT_FALSE(end.ok());  // the run itself was never created: nothing to resume
        EXPECT_FALSE(db_->LatestRun().ok());
        continue;
      }
      ASSERT_TRUE(end.ok());
      EXPECT_EQ(end->exit_code, 2);  // lost writes are a failure of the run
    }
    auto id = db_->LatestRun();
    ASSERT_TRUE(id.ok());
    auto before = db_->LoadAttempts(*id);
    ASSERT_TRUE(before.ok());
    std::set<std::string> recorded;
    std::map<std::string, int> failures;  // recorded failed attempts
    for (const auto& a : before.value()) {
      recorded.insert(a.test_path);
      if (a.status == "FAIL") ++failures[a.test_path];
    }
    EXPECT_EQ(before->size(), static_cast<size_t>(std::max(0, k - 2)));
    auto unfinished = db_->LoadRun(*id);
    ASSERT_TRUE(unfinished.ok());
    EXPECT_EQ(unfinished->status, "");  // still running, as after a kill

    size_t calls = runner_.started().size();
    // b.sh fails once and then passes, across the kill too.
    if (failures.count("c:b.sh")) {
      runner_.Script("/b.sh", {Exits(0)});
    } else {
      runner_.Script("/b.sh", {Exits(1), Exits(0)});
    }
    RunRequest resume = Request();
    resume.tests_dir = "";
    resume.resume = "last";  // without --retries: the run's own carry over
    rec_ = Recorder();
    auto end = Execute(resume);
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    EXPECT_NE(std::find(rec_.notes.begin(), rec_.notes.end(),
                        fmt::format("run {} was started with --retries 1: resuming with them", *id)),
              rec_.notes.end());
    std::vector<std::string> all = runner_.started();
    for (const auto& p : recorded) {
      // Run again only for the retry it had left (retries = 1: 2 attempts).
      size_t again = 0;
      for (size_t i = calls; i < all.size(); ++i) again += all[i].ends_with(p.substr(2));
      bool retry_left = failures[p] == 1 && std::count_if(before->begin(), before->end(), [&](const auto& a) {
                                              return a.test_path == p;
                                            }) == 1;
      EXPECT_EQ(again, retry_left ? 1u : 0u) << p;
    }
    const auto& fin = rec_.runs.at(0);
    std::vector<std::string> paths;
    for (const auto& res : fin.results) paths.push_back(res.path);
    EXPECT_EQ(std::set<std::string>(paths.begin(), paths.end()), std::set<std::string>(plan.begin(), plan.end()));
    EXPECT_EQ(StatusOf(fin, "c:a.sh"), "PASS");
    EXPECT_EQ(StatusOf(fin, "c:c.sh"), "FAIL");
    // b.sh: FLAKY wherever the kill came, between its attempts too (its
    // retry runs then, as attempt 2).
    EXPECT_EQ(StatusOf(fin, "c:b.sh"), "FLAKY");
    auto attempts = db_->LoadAttempts(*id);
    ASSERT_TRUE(attempts.ok());
    std::vector<int> numbers;
    for (const auto& a : *attempts) {
      if (a.test_path == "c:b.sh") numbers.push_back(a.attempt);
    }
    EXPECT_EQ(numbers, (std::vector<int>{1, 2}));
    EXPECT_EQ(end->exit_code, 1);
    auto finished = db_->LoadRun(*id);
    ASSERT_TRUE(finished.ok());
    EXPECT_EQ(finished->status, "FAIL");
  }
}

TEST_F(RunSessionTest, ResumeRefusesBadIdsAndMixedEnvironments) {
  Tests({"a.sh"});
  RunRequest r = Request();
  r.resume = "yesterday";
  auto bad = Execute(r);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--resume takes a run id or 'last', not 'yesterday'");
  r.resume = "last";
  EXPECT_FALSE(Execute(r).ok());  // no run yet
  ASSERT_TRUE(Execute(Request()).ok());
  r.vm = model::VmSpec{};
  r.vm->kernel = "/boot/vmlinuz";
  auto mixed = Execute(r);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("ran on the host"), std::string::npos);
  r.resume = "1";
  r.repeat = 2;
  EXPECT_FALSE(Execute(r).ok());
}

TEST_F(RunSessionTest, AVmRunResumesInAVmBootingWhatItBooted) {
  Tests({"a.sh", "b.sh"});
  RunRequest r = Request();
  r.vm = model::VmSpec{};
  r.vm->kernel = "/k/bzImage";
  r.vm->cpus = 4;
  r.filter.tests = {"c:a.sh"};
  ASSERT_TRUE(Execute(r, true, "tcg").ok());
  // Under TCG timeouts stretch by 3 unless --slowdown was given.
  ASSERT_FALSE(runner_.calls().empty());
  EXPECT_EQ(runner_.calls().back().timeout, std::chrono::milliseconds(45000 * 3));
  auto stored = db_->LoadRun(rec_.runs.at(0).run_id);
  ASSERT_TRUE(stored.ok());
  auto spec = model::VmSpec::FromJson(stored->vm_json);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->kernel, "/k/bzImage");
  EXPECT_EQ(spec->cpus, 4);
  EXPECT_FALSE(spec->slowdown.has_value());

  // The stored spec of a schema-5 store has no version: read alike.
  auto old = model::VmSpec::FromJson(R"({"kernel":"/k/old","cpus":1,"slowdown":2.5})");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->kernel, "/k/old");
  EXPECT_EQ(old->slowdown, 2.5);
  EXPECT_FALSE(model::VmSpec::FromJson(R"({"version":99})").ok());
  EXPECT_FALSE(model::VmSpec::FromJson("[]").ok());

  // A run interrupted before b.sh: resumed without --kernel, it boots the same.
  model::RunRecord run = *stored;
  run.plan = {"c:a.sh", "c:b.sh"};
  auto id = db_->CreateRun(run);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(db_->SetRunVm(*id, stored->vm_json).ok());
  RunRequest resume = Request();
  resume.tests_dir = "";
  resume.resume = "last";
  ASSERT_TRUE(Execute(resume, true, "tcg").ok());
  EXPECT_EQ(machine_requests_.back(), "/k/bzImage");
  EXPECT_EQ(rec_.notes.at(rec_.notes.size() - 2),
            fmt::format("run {} ran in a VM: resuming with --kernel /k/bzImage", *id));
}

TEST_F(RunSessionTest, ClassesAndSerialTestsNeverOverlap) {
  Tests({"net1.sh", "net2.sh", "net3.sh", "solo.sh", "x1.sh", "x2.sh", "x3.sh", "x4.sh"});
  WriteFile("tests/vigil.toml",
            "[[class]]\nmatch = \"c:net*\"\nmax_parallel = 1\n\n[[class]]\nmatch = \"c:solo.sh\"\nserial = true\n");
  sys::FakeProgram slow = Exits(0);
  slow.hold = std::chrono::milliseconds(15);
  for (const char* n : {"/net1.sh", "/net2.sh", "/net3.sh", "/solo.sh", "/x1.sh", "/x2.sh", "/x3.sh", "/x4.sh"})
    runner_.Script(n, {slow});
  RunRequest r = Request();
  r.jobs = 4;
  auto end = Execute(r);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_GT(runner_.max_running(), 1);  // -j 4 did run tests side by side
  auto base = [](const std::string& p) { return p.substr(p.rfind('/') + 1); };
  for (const auto& [program, others] : runner_.overlaps()) {
    std::string me = base(program);
    for (const auto& o : others) {
      std::string other = base(o);
      EXPECT_NE(other, "solo.sh") << me << " started while the serial test ran";
      EXPECT_NE(me, "solo.sh") << "the serial test started beside " << other;
      EXPECT_FALSE(me.starts_with("net") && other.starts_with("net")) << me << " beside " << other;
    }
  }
}

TEST_F(RunSessionTest, ShardsRunAsTestsOfTheirOwnAndTestHashNPicksOne) {
  Tests({"long.sh", "short.sh"});
  WriteFile("tests/vigil.toml", "[[test]]\nmatch = \"c:long.sh\"\nshards = [\"-p 1\", \"-p 2\", \"-p 3\"]\n");
  ASSERT_TRUE(Execute(Request()).ok());
  std::vector<std::string> paths;
  for (const auto& r : rec_.runs.at(0).results) paths.push_back(r.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"c:long.sh#1", "c:long.sh#2", "c:long.sh#3", "c:short.sh"}));
  auto calls = runner_.calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(calls[1].argv.begin() + 1, calls[1].argv.end()),
            (std::vector<std::string>{"-p", "2"}));

  RunRequest one = Request();
  one.filter.tests = {"c:long.sh#2"};
  ASSERT_TRUE(Execute(one).ok());
  ASSERT_EQ(rec_.runs.at(1).results.size(), 1u);
  EXPECT_EQ(rec_.runs.at(1).results[0].path, "c:long.sh#2");

  // The whole test named beside a shard keeps every shard.
  RunRequest both = Request();
  both.filter.tests = {"c:long.sh#2", "c:long.sh"};
  ASSERT_TRUE(Execute(both).ok());
  EXPECT_EQ(rec_.runs.at(2).results.size(), 3u);

  RunRequest missing = Request();
  missing.filter.tests = {"c:long.sh#9"};
  auto bad = Execute(missing);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "no such test 'c:long.sh#9' (no such shard in vigil.toml)");
}

TEST_F(RunSessionTest, WithJobsTheLongestKnownTestsStartFirst) {
  Tests({"short.sh", "long.sh", "mid.sh", "new.sh"});
  runner_.Script("/short.sh", {Exits(0, "", 100)});
  runner_.Script("/long.sh", {Exits(0, "", 9000)});
  runner_.Script("/mid.sh", {Exits(0, "", 800)});
  RunRequest r = Request();
  r.filter.tests = {"c:short.sh", "c:long.sh", "c:mid.sh"};
  ASSERT_TRUE(Execute(r).ok());  // serial: plan order, and durations recorded
  auto base = [](const std::string& p) { return p.substr(p.rfind('/') + 1); };
  std::vector<std::string> first;
  for (const auto& s : runner_.started()) first.push_back(base(s));
  EXPECT_EQ(first, (std::vector<std::string>{"short.sh", "long.sh", "mid.sh"}));

  // Two workers, but one class admitting one test at a time: the tests start
  // exactly in the order the session chose.
  WriteFile("tests/vigil.toml", "[[class]]\nmatch = \"c:*\"\nmax_parallel = 1\n");
  RunRequest j = Request();
  j.jobs = 2;
  size_t before = runner_.started().size();
  ASSERT_TRUE(Execute(j).ok());
  std::vector<std::string> order;
  for (size_t i = before; i < runner_.started().size(); ++i) order.push_back(base(runner_.started()[i]));
  // Unknown first (it may be long), then by the last recorded duration.
  EXPECT_EQ(order, (std::vector<std::string>{"new.sh", "long.sh", "mid.sh", "short.sh"}));
  // Reports keep the plan's order.
  std::vector<std::string> reported;
  for (const auto& res : rec_.runs.back().results) reported.push_back(res.path);
  EXPECT_EQ(reported, (std::vector<std::string>{"c:short.sh", "c:long.sh", "c:mid.sh", "c:new.sh"}));
}

model::KernelReport Warning() {
  model::KernelReport k;
  k.type = model::ReportType::kWarning;
  k.title = "WARNING in tcp_sendmsg";
  k.guilty = "tcp_sendmsg";
  k.fingerprint = "0123456789abcdef";
  k.text = "WARNING: CPU: 0 PID: 1 at net/ipv4/tcp.c:1 tcp_sendmsg+0x1/0x2\n";
  k.start_line = 10;
  k.end_line = 11;
  return k;
}

TEST_F(RunSessionTest, KernelReportsFromTheVmAreAttributedToTheirTests) {
  Tests({"warns.sh", "dies.sh", "after.sh"});
  sys::FakeProgram warns = Exits(0);
  warns.kernel_reports = {Warning()};
  sys::FakeProgram dies = Exits(0);
  model::KernelReport panic = Warning();
  panic.type = model::ReportType::kPanic;
  panic.title = "kernel panic: Fatal exception";
  panic.fatal = true;
  dies.kernel_reports = {panic};
  dies.vm_died = true;
  runner_.Script("/warns.sh", {warns});
  runner_.Script("/dies.sh", {dies});
  RunRequest r = Request();
  r.vm = model::VmSpec{};
  r.vm->kernel = "/k/bzImage";
  auto end = Execute(r, true, "kvm");
  ASSERT_TRUE(end.ok());
  const auto& run = rec_.runs.at(0);
  // A report while a test passed fails it; the kernel dying under it is a CRASH.
  EXPECT_EQ(StatusOf(run, "c:warns.sh"), "FAIL");
  EXPECT_EQ(StatusOf(run, "c:dies.sh"), "CRASH");
  EXPECT_EQ(StatusOf(run, "c:after.sh"), "PASS");  // --on-crash continue
  EXPECT_EQ(end->exit_code, 1);
  auto attempts = db_->LoadAttempts(run.run_id, true);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ((*attempts)[0].crashes.size(), 1u);
  EXPECT_EQ((*attempts)[0].crashes[0].type, "warning");
  EXPECT_EQ((*attempts)[0].crashes[0].title, "WARNING in tcp_sendmsg");
  EXPECT_FALSE((*attempts)[0].crashes[0].fatal);
  ASSERT_EQ((*attempts)[1].crashes.size(), 1u);
  EXPECT_TRUE((*attempts)[1].crashes[0].fatal);
  EXPECT_NE((*attempts)[1].output.find("---- fatal: kernel panic: Fatal exception (panic) ----"), std::string::npos);
  EXPECT_TRUE((*attempts)[2].crashes.empty());
  EXPECT_EQ(run.console_log, "/tmp/console.log");
}

// Following the rerun hint after a VM panic reruns the test in the same VM
// (not on the host), with the same store and options.
TEST_F(RunSessionTest, TheRerunHintCarriesTheVmAndEveryOptionThatDecidesTheRun) {
  Tests({"dies.sh"});
  sys::FakeProgram dies = Exits(0);
  dies.vm_died = true;
  runner_.Script("/dies.sh", {dies});
  WriteFile("vigil.toml", "");
  RunRequest r = Request();
  r.vm = model::VmSpec{};
  r.vm->kernel = "/k/bzImage";
  r.vm->modules = "/k/modules";
  r.vm->accel = "tcg";
  r.vm->cpus = 4;
  r.vm->append = "panic_on_warn=1";
  r.netns = true;
  r.slowdown = 2.5;
  r.slowdown_set = true;
  r.config_path = (dir_ / "vigil.toml").string();
  ASSERT_TRUE(Execute(r, true, "tcg").ok());
  std::vector<std::string> want = {"vigil", "run", "--tests", (dir_ / "tests").string(),
                                   "--db", (dir_ / "vigil.db").string(),
                                   "--config", (dir_ / "vigil.toml").string(),
                                   "--netns", "--no-cgroup", "--slowdown", "2.5",
                                   "--kernel", "/k/bzImage", "--modules", "/k/modules", "--accel", "tcg",
                                   "--cpus", "4", "--append", "panic_on_warn=1"};
  EXPECT_EQ(rec_.runs.at(0).rerun, want);
  std::string summary = report::SummaryText(rec_.runs.at(0), false);
  EXPECT_NE(summary.find("rerun: vigil run --tests " + ShellQuote((dir_ / "tests").string())), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("--kernel /k/bzImage --modules /k/modules --accel tcg --cpus 4 --append "
                         "panic_on_warn=1 -t c:dies.sh\n"),
            std::string::npos)
      << summary;

  // A resumed VM run's hint boots what the run booted.
  model::RunRecord run = db_->LoadRun(rec_.runs.at(0).run_id).value();
  run.plan = {"c:dies.sh"};
  ASSERT_TRUE(db_->SetRunVm(db_->CreateRun(run).value(), run.vm_json).ok());
  RunRequest resume = Request();
  resume.tests_dir = "";
  resume.resume = "last";
  ASSERT_TRUE(Execute(resume, true, "tcg").ok());
  const auto& again = rec_.runs.back().rerun;
  ASSERT_GE(again.size(), 4u);
  EXPECT_EQ(again[3], (dir_ / "tests").string());
  EXPECT_NE(std::find(again.begin(), again.end(), "--kernel"), again.end());
}

// The environment the tests got decides what they do: a rerun clears it too.
TEST_F(RunSessionTest, TheRerunHintKeepsTheEnvironmentRules) {
  Tests({"fails.sh"});
  runner_.Script("/fails.sh", {Exits(1)});
  RunRequest r = Request();
  r.env_keep = {"CI_*", "HOME"};
  ASSERT_TRUE(Execute(r).ok());
  const auto& keep = rec_.runs.back().rerun;
  auto k = std::find(keep.begin(), keep.end(), "--env-keep");
  ASSERT_NE(k, keep.end());
  ASSERT_NE(k + 1, keep.end());
  EXPECT_EQ(*(k + 1), "CI_*,HOME");
  r.env_keep.clear();
  r.env_clear = true;
  ASSERT_TRUE(Execute(r).ok());
  const auto& clear = rec_.runs.back().rerun;
  EXPECT_NE(std::find(clear.begin(), clear.end(), "--env-clear"), clear.end());
  EXPECT_EQ(std::find(clear.begin(), clear.end(), "--env-keep"), clear.end());
  r.env_clear = false;
  ASSERT_TRUE(Execute(r).ok());
  const auto& plain = rec_.runs.back().rerun;
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "--env-clear"), plain.end());
}

// Results that never came are named as every report names them, and two of
// them stay two (not one collapsed entry with an empty name).
TEST_F(RunSessionTest, ResultsThatNeverCameAreNamedAndKeptApart) {
  Tests({"cut.sh"});
  runner_.Script("/cut.sh", {Exits(1, "TAP version 13\n1..3\nok 1 first\n")});
  ASSERT_TRUE(Execute(Request()).ok());
  auto attempts = db_->LoadAttempts(rec_.runs.at(0).run_id, true).value();
  ASSERT_EQ(attempts.size(), 1u);
  std::vector<std::string> paths;
  for (const auto& s : attempts[0].subtests) paths.push_back(s.path + "=" + s.status);
  EXPECT_EQ(paths, (std::vector<std::string>{"first=PASS", "test 2 (no result)=CRASH", "test 3 (no result)=CRASH"}));
  std::string json = report::RunJson(rec_.runs.at(0));
  EXPECT_NE(json.find(R"j({"name":"test 2 (no result)","status":"CRASH"})j"), std::string::npos) << json;
  EXPECT_NE(json.find(R"j({"name":"test 3 (no result)","status":"CRASH"})j"), std::string::npos) << json;
  std::string md = report::GithubSummary(rec_.runs.at(0));
  EXPECT_NE(md.find("  - `[CRASH] test 2 (no result)`\n"), std::string::npos) << md;
  std::string text = report::SummaryText(rec_.runs.at(0), false);
  EXPECT_NE(text.find("    [CRASH] test 3 (no result)\n"), std::string::npos) << text;
}

TEST_F(RunSessionTest, OnCrashStopLeavesTheRestForResume) {
  Tests({"dies.sh", "b.sh", "c.sh"});
  sys::FakeProgram dies = Exits(0);
  dies.vm_died = true;
  runner_.Script("/dies.sh", {dies});
  RunRequest r = Request();
  r.vm = model::VmSpec{};
  r.vm->kernel = "/k/bzImage";
  r.stop_on_crash = true;
  auto end = Execute(r, true, "kvm");
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->exit_code, 1);
  EXPECT_EQ(runner_.started().size(), 1u);
  ASSERT_EQ(rec_.runs.at(0).results.size(), 1u);
  int64_t id = rec_.runs.at(0).run_id;
  bool told = false;
  for (const auto& n : rec_.notes) {
    told |= n == fmt::format(
                     "vm: the kernel crashed and --on-crash is stop: 2 test(s) not run (vigil run --db {} --resume {} "
                     "runs them in a VM booting the same kernel)",
                     ShellQuote((dir_ / "vigil.db").string()), id);
  }
  EXPECT_TRUE(told);
  RunRequest resume = Request();
  resume.tests_dir = "";
  resume.resume = std::to_string(id);
  ASSERT_TRUE(Execute(resume, true, "kvm").ok());
  EXPECT_EQ(runner_.started().size(), 3u);
  EXPECT_EQ(rec_.runs.back().results.size(), 3u);
}

TEST_F(RunSessionTest, AKnownIssueMakesTheVerdictDecideTheExitStatus) {
  Tests({"a.sh", "b.sh"});
  runner_.Script("/b.sh", {Exits(1, "TAP version 13\n1..1\nnot ok 1 link failure\n")});
  WriteFile("tests/known-issues.toml",
            "[[issue]]\nmatch = \"c:b.sh:link failure\"\nreason = \"netem missing on the CI hosts\"\n");
  auto end = Execute(Request());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  const auto& run = rec_.runs.at(0);
  ASSERT_TRUE(run.verdict.has_value());
  EXPECT_EQ(run.verdict->level, judge::Level::kSuccess);
  ASSERT_EQ(run.verdict->known.size(), 1u);
  EXPECT_EQ(run.verdict->known[0].path, "c:b.sh:link failure");
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_EQ(run.status, "FAIL");  // the run's own status stays what ran
}

TEST_F(RunSessionTest, RepeatUntilFailStopsAtTheFirstFailingRun) {
  Tests({"sometimes.sh"});
  runner_.Script("/sometimes.sh", {Exits(0), Exits(0), Exits(1), Exits(0)});
  RunRequest r = Request();
  r.repeat = 10;
  r.until_fail = true;
  auto end = Execute(r);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->exit_code, 1);
  EXPECT_EQ(rec_.runs.size(), 3u);
  EXPECT_EQ(rec_.notes.back(), "stopped at repetition 3: --until-fail");
  EXPECT_EQ(end->repeat_tally.at("c:sometimes.sh"), std::make_pair(1, 3));
  EXPECT_EQ(rec_.starts.at(2).repetition, 3);
  EXPECT_EQ(rec_.starts.at(2).repeat, 10);
}

TEST_F(RunSessionTest, UsageErrorsComeBackAsStatus) {
  Tests({"a.sh"});
  RunRequest none = Request();
  none.tests_dir = "";
  EXPECT_EQ(Execute(none).status().message(), "--tests DIR is required (or --resume RUN_ID)");
  RunRequest unknown = Request();
  unknown.filter.tests = {"c:nope.sh"};
  EXPECT_FALSE(Execute(unknown).ok());
  WriteFile("tests/vigil.toml", "[[class]]\nmax_parallel = 2\n");
  EXPECT_FALSE(Execute(Request()).ok());
  EXPECT_TRUE(runner_.started().empty());
  EXPECT_TRUE(rec_.runs.empty());
}

TEST_F(RunSessionTest, AMachineThatDoesNotBootStartsNoRun) {
  Tests({"a.sh"});
  RunSession session(*db_, clock_, rec_, [](const MachineRequest&, const auto& note) {
    note("booting /k/bzImage in QEMU");
    return Result<std::unique_ptr<Machine>>(Status::InvalidArgument("the VM did not boot: no console"));
  });
  RunRequest r = Request();
  r.vm = model::VmSpec{};
  auto end = session.Execute(r);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().message(), "the VM did not boot: no console");
  EXPECT_EQ(rec_.notes, (std::vector<std::string>{"booting /k/bzImage in QEMU"}));
  EXPECT_TRUE(db_->LatestRun().status().code() == Status::Code::kNotFound);
}

// A test listed twice once ran twice, and the second record ended the run
// in a UNIQUE constraint error under a PASS summary.
TEST_F(RunSessionTest, ATestListedTwiceRunsOnceWithAWarning) {
  Tests({"a.sh", "b.sh"});
  WriteFile("tests/kselftest-list.txt", "c:a.sh\n   \nc:b.sh\nc:a.sh\n");
  auto end = Execute(Request());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_EQ(runner_.started().size(), 2u);
  ASSERT_EQ(rec_.warnings.size(), 1u);
  EXPECT_NE(rec_.warnings[0].find("c:a.sh is listed again on line 4; it runs once"), std::string::npos);
  auto run = db_->LoadRun(rec_.runs.at(0).run_id);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->plan, (std::vector<std::string>{"c:a.sh", "c:b.sh"}));
  EXPECT_EQ(db_->LoadAttempts(run->id).value().size(), 2u);
}

// A listed test missing from disk is recorded as not found, not as a
// confusing exec error, and nothing is started for it.
TEST_F(RunSessionTest, AListedTestMissingFromDiskIsRecordedAsNotFound) {
  Tests({"a.sh", "gone.sh"});
  fs::remove(dir_ / "tests" / "c" / "gone.sh");
  auto end = Execute(Request());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end->exit_code, 1);
  EXPECT_EQ(runner_.started().size(), 1u);
  EXPECT_EQ(StatusOf(rec_.runs.at(0), "c:gone.sh"), "ERROR");
  auto attempts = db_->LoadAttempts(rec_.runs.at(0).run_id, true).value();
  ASSERT_EQ(attempts.size(), 2u);
  const auto& gone = attempts[0].test_path == "c:gone.sh" ? attempts[0] : attempts[1];
  EXPECT_NE(gone.output.find("gone.sh: not found"), std::string::npos) << gone.output;
}

TEST_F(RunSessionTest, EnvClearKeepsTheBasicsAndWhatIsKept) {
  Tests({"a.sh"});
  RunRequest r = Request();
  r.base_env = {"PATH=/usr/bin:/bin", "HOME=/root", "LC_ALL=C", "CI_TOKEN=secret", "KEEP_ME=1", "KEEPER=2",
                "KSELFTEST_A_SH_ARGS=-v", "OTHER=x"};
  ASSERT_TRUE(Execute(r).ok());
  EXPECT_EQ(runner_.calls().at(0).env, r.base_env);  // by default: everything
  r.env_clear = true;
  ASSERT_TRUE(Execute(r).ok());
  EXPECT_EQ(runner_.calls().at(1).env,
            (std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=/root", "LC_ALL=C", "KSELFTEST_A_SH_ARGS=-v"}));
  EXPECT_EQ(runner_.calls().at(1).argv.back(), "-v");  // the args variable still works
  r.env_clear = false;
  r.env_keep = {"KEEP_*", "OTHER"};  // implies clearing
  ASSERT_TRUE(Execute(r).ok());
  EXPECT_EQ(runner_.calls().at(2).env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME=/root", "LC_ALL=C",
                                                                  "KEEP_ME=1", "KSELFTEST_A_SH_ARGS=-v", "OTHER=x"}));
}

TEST_F(RunSessionTest, ListPlanShowsWhatWouldRunAndRunsNothing) {
  Tests({"a.sh", "long.sh", "gone.sh"});
  fs::remove(dir_ / "tests" / "c" / "gone.sh");
  WriteFile("tests/c/settings", "timeout=60\n");
  WriteFile("tests/vigil.toml",
            "[[class]]\nmatch = \"c:long*\"\nserial = true\n"
            "[[class]]\nmatch = \"c:*\"\nmax_parallel = 2\n"
            "[[test]]\nmatch = \"c:long.sh\"\ntimeout = 600\nretries = 2\nshards = [\"-p 1\", \"-p 2\"]\n");
  RunRequest r = Request();
  r.filter.tests = {"c:a.sh", "c:long.sh#2", "c:gone.sh"};
  r.slowdown = 3;
  auto l = ListPlan(r);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_EQ(l->tests.size(), 3u);
  EXPECT_EQ(l->tests[0].path, "c:a.sh");
  EXPECT_EQ(l->tests[0].timeout, std::chrono::seconds(60));
  EXPECT_EQ(l->tests[0].stretched, std::chrono::seconds(180));
  EXPECT_FALSE(l->tests[0].serial);
  ASSERT_EQ(l->tests[0].classes.size(), 1u);
  EXPECT_EQ(l->tests[0].classes[0].max_parallel, 2);
  EXPECT_EQ(l->tests[1].path, "c:long.sh#2");  // one shard, as -t picks it for a run
  EXPECT_EQ(l->tests[1].timeout, std::chrono::seconds(600));
  EXPECT_EQ(l->tests[1].retries, 2);
  EXPECT_TRUE(l->tests[1].serial);
  EXPECT_EQ(l->tests[1].shard_args, (std::vector<std::string>{"-p", "2"}));
  EXPECT_EQ(l->tests[2].path, "c:gone.sh");
  EXPECT_TRUE(l->tests[2].missing);
  EXPECT_EQ(l->config, (dir_ / "tests" / "vigil.toml").string());
  EXPECT_TRUE(runner_.started().empty());
  EXPECT_EQ(db_->LatestRun().status().code(), Status::Code::kNotFound);
  r.resume = "last";
  EXPECT_FALSE(ListPlan(r).ok());
}

TEST_F(RunSessionTest, ListPlanOfAShardShowsItsPartOfTheSplit) {
  Tests({"a.sh", "b.sh", "c.sh", "d.sh", "e.sh"});
  RunRequest r = Request();
  r.run_group = "ci-9";
  r.shard_count = 2;
  auto paths = [](const PlanListing& l) {
    std::vector<std::string> p;
    for (const auto& t : l.tests) p.push_back(t.path);
    return p;
  };
  const std::vector<std::string> plan = {"c:a.sh", "c:b.sh", "c:c.sh", "c:d.sh", "c:e.sh"};
  // No run group yet: the split the first shard would make, from the
  // store's durations (none here: every test alike), in plan order.
  std::vector<std::vector<std::string>> expected = runner::SplitPlan(plan, {}, 2).Tests(plan);
  std::vector<std::string> both;
  for (int k = 1; k <= 2; ++k) {
    r.shard = k;
    auto l = ListPlan(r, db_.get());
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    EXPECT_EQ(paths(*l), expected[static_cast<size_t>(k - 1)]);
    EXPECT_EQ(l->plan_size, 5u);
    EXPECT_FALSE(l->split_stored);
    for (const auto& p : paths(*l)) both.push_back(p);
  }
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, plan);
  // The group's split in the store is what its shards run, whatever the
  // durations would make now.
  model::RunRecord run;
  run.started_at = "2026-12-06T00:00:00Z";
  run.host = "h";
  run.command = "vigil run";
  run.tests_dir = r.tests_dir;
  run.plan = plan;
  run.run_group = "ci-9";
  run.shards = 2;
  ASSERT_TRUE(db_->CreateGroupRun(run, {{"c:e.sh"}, {"c:a.sh", "c:b.sh", "c:c.sh", "c:d.sh"}}).ok());
  r.shard = 1;
  auto l = ListPlan(r, db_.get());
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(paths(*l), std::vector<std::string>{"c:e.sh"});
  EXPECT_TRUE(l->split_stored);
  r.shard = 2;
  auto l2 = ListPlan(r, db_.get());
  ASSERT_TRUE(l2.ok()) << l2.status().ToString();
  EXPECT_EQ(paths(*l2), (std::vector<std::string>{"c:a.sh", "c:b.sh", "c:c.sh", "c:d.sh"}));
  // Another shard count or another plan than the group's: said.
  r.shard_count = 3;
  EXPECT_FALSE(ListPlan(r, db_.get()).ok());
  r.shard_count = 2;
  r.filter.skip = {"c:a.sh"};
  EXPECT_FALSE(ListPlan(r, db_.get()).ok());
}

TEST_F(RunSessionTest, SkipNamesOneShardOfAShardedTest) {
  Tests({"a.sh", "long.sh"});
  WriteFile("tests/vigil.toml", "[[test]]\nmatch = \"c:long.sh\"\nshards = [\"-p 1\", \"-p 2\", \"-p 3\"]\n");
  RunRequest r = Request();
  r.filter.skip = {"c:long.sh#2"};
  auto l = ListPlan(r);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  std::vector<std::string> paths;
  for (const auto& t : l->tests) paths.push_back(t.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"c:a.sh", "c:long.sh#1", "c:long.sh#3"}));
  r.filter.skip = {"c:a.sh", "c:long.sh#*"};
  EXPECT_FALSE(ListPlan(r).ok());  // nothing left: said, not an empty run
}

TEST_F(RunSessionTest, ResumeSaysWhichOptionsItIgnores) {
  Tests({"a.sh", "b.sh"});
  {
    DyingStore dying(db_.get(), 3);  // environment, run, one attempt
    RunSession session(dying, clock_, rec_, [&](const MachineRequest&, const auto&) {
      return Result<std::unique_ptr<Machine>>(std::make_unique<FakeMachine>(&runner_, false, ""));
    });
    (void)session.Execute(Request());
  }
  rec_.warnings.clear();
  RunRequest r = Request();
  r.resume = "last";
  r.filter.tests = {"c:a.sh"};
  r.filter.skip = {"x"};
  auto end = Execute(r);
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  ASSERT_EQ(rec_.warnings.size(), 1u);
  EXPECT_EQ(rec_.warnings[0], "--resume last: ignoring --tests, -t/--test, --skip: a resumed run runs the rest of "
                              "its own plan from " + (dir_ / "tests").string());
  EXPECT_EQ(rec_.runs.back().results.size(), 2u);
}

// Cancellation (SIGINT/SIGTERM/SIGHUP to vigil run): the FakeProcessRunner's
// cancellation point requests it while a test runs.

std::vector<std::string> Started(const sys::FakeProcessRunner& runner) {
  std::vector<std::string> names;
  for (const auto& s : runner.started()) names.push_back(fs::path(s).filename().string());
  return names;
}

TEST_F(RunSessionTest, ACancelledRunStartsNothingMoreRecordsTheRunningTestInterruptedAndResumes) {
  Tests({"a.sh", "b.sh", "c.sh", "d.sh"});
  sys::Cancellation cancel;
  sys::FakeProgram cut = Exits(0, "half of b\n");
  cut.cancels = &cancel;
  runner_.Script("/b.sh", {cut, Exits(0, "all of b\n")});
  RunRequest r = Request();
  r.cancel = &cancel;
  r.retries = 2;  // an interrupted attempt is not retried
  r.owner = sys::SelfOwner();
  auto end = Execute(r);
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_TRUE(end->cancelled);
  EXPECT_EQ(end->exit_code, 143);  // 128 + SIGTERM
  EXPECT_EQ(Started(runner_), (std::vector<std::string>{"a.sh", "b.sh"}));
  EXPECT_TRUE(rec_.retries.empty());

  // The run is finished as far as it went, reported, and resumable.
  auto run = db_->LoadRun(1).value();
  EXPECT_EQ(run.status, "INTERRUPTED");
  EXPECT_FALSE(run.finished_at.empty());
  EXPECT_EQ(run.owner, "");
  auto attempts = db_->LoadAttempts(1, true).value();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_FALSE(attempts[0].interrupted);
  EXPECT_EQ(attempts[1].test_path, "c:b.sh");
  EXPECT_TRUE(attempts[1].interrupted);
  EXPECT_EQ(attempts[1].status, "ERROR");
  EXPECT_NE(attempts[1].output.find("half of b"), std::string::npos);
  ASSERT_EQ(rec_.runs.size(), 1u);
  EXPECT_EQ(rec_.runs[0].status, "INTERRUPTED");
  EXPECT_EQ(rec_.runs[0].interrupted_tests, 1u);
  EXPECT_EQ(rec_.runs[0].not_started, 2u);
  EXPECT_NE(report::RunJson(rec_.runs[0]).find(R"("interrupted":{"not_started":2,"tests":1})"), std::string::npos);
  EXPECT_NE(report::RunnerLog(rec_.runs[0]).find("not ok 2 selftests: c: b.sh # ERROR interrupted"),
            std::string::npos);
  bool hint = std::any_of(rec_.notes.begin(), rec_.notes.end(), [&](const std::string& n) {
    return n.find("vigil run --resume 1 --db " + r.db_path) != std::string::npos;
  });
  EXPECT_TRUE(hint);

  // --resume runs the interrupted test and those never started, and the run
  // reads as if it had never been interrupted.
  RunRequest again = Request();
  again.tests_dir.clear();
  again.resume = "last";
  auto resumed = Execute(again);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->exit_code, 0);
  EXPECT_EQ(Started(runner_), (std::vector<std::string>{"a.sh", "b.sh", "b.sh", "c.sh", "d.sh"}));
  attempts = db_->LoadAttempts(1, true).value();
  ASSERT_EQ(attempts.size(), 4u);
  for (const auto& a : attempts) {
    EXPECT_FALSE(a.interrupted) << a.test_path;
    EXPECT_EQ(a.attempt, 1) << a.test_path;
    EXPECT_EQ(a.status, "PASS") << a.test_path;
  }
  EXPECT_EQ(db_->LoadRun(1).value().status, "PASS");
  ASSERT_EQ(rec_.runs.size(), 2u);
  EXPECT_EQ(StatusOf(rec_.runs[1], "c:b.sh"), "PASS");
  EXPECT_EQ(rec_.runs[1].results.size(), 4u);
}

TEST_F(RunSessionTest, ASecondSignalReturnsAtOnceLeavingTheRunUnfinishedAndResumable) {
  Tests({"a.sh", "b.sh", "c.sh"});
  sys::Cancellation cancel;
  sys::FakeProgram cut = Exits(0);
  cut.cancels = &cancel;
  cut.requests = 2;
  runner_.Script("/a.sh", {cut, Exits(0)});
  RunRequest r = Request();
  r.cancel = &cancel;
  auto end = Execute(r);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->cancelled);
  EXPECT_EQ(end->exit_code, 143);
  EXPECT_TRUE(rec_.runs.empty());  // no report
  EXPECT_EQ(db_->LoadRun(1).value().status, "");
  auto attempts = db_->LoadAttempts(1).value();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_TRUE(attempts[0].interrupted);

  RunRequest again = Request();
  again.resume = "1";
  auto resumed = Execute(again);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->exit_code, 0);
  EXPECT_EQ(db_->LoadAttempts(1).value().size(), 3u);
}

TEST_F(RunSessionTest, ResumingARunWhoseVigilIsAliveIsRefusedAndADeadOnesIsTakenOver) {
  Tests({"a.sh", "b.sh"});
  // A run left unfinished, owned by a live process (this one).
  sys::Cancellation cancel;
  sys::FakeProgram cut = Exits(0);
  cut.cancels = &cancel;
  cut.requests = 2;
  runner_.Script("/a.sh", {cut, Exits(0)});
  RunRequest r = Request();
  r.cancel = &cancel;
  r.owner = sys::SelfOwner();
  ASSERT_TRUE(Execute(r).ok());
  ASSERT_EQ(db_->LoadRun(1).value().owner, r.owner);

  RunRequest again = Request();
  again.resume = "last";
  again.owner = "someone-else 1 1";
  auto refused = Execute(again);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("run 1 is still running (vigil pid " + std::to_string(getpid())),
            std::string::npos)
      << refused.status().message();
  EXPECT_EQ(db_->LoadAttempts(1).value().size(), 1u);  // nothing ran, nothing was discarded

  // Another host's vigil: cannot be told from here.
  ASSERT_TRUE(db_->ClaimRun(1, r.owner, "elsewhere.invalid 4242 7").value());
  auto elsewhere = Execute(again);
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_NE(elsewhere.status().message().find("on host elsewhere.invalid"), std::string::npos);

  // This host, this pid, another start time: a pid used again, the owner is gone.
  std::string dead = fmt::format("{} {} 1", sys::HostName(), getpid());
  ASSERT_TRUE(db_->ClaimRun(1, "elsewhere.invalid 4242 7", dead).value());
  auto taken = Execute(again);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(taken->exit_code, 0);
  EXPECT_EQ(db_->LoadRun(1).value().status, "PASS");
  EXPECT_EQ(db_->LoadRun(1).value().owner, "");
}

// Runs split across machines (--shard I/N --run-group G).

RunRequest Shard(RunRequest r, int i, int n, const std::string& group = "ci-7") {
  r.shard = i;
  r.shard_count = n;
  r.run_group = group;
  return r;
}

TEST_F(RunSessionTest, ShardsRunThePlanOnceIntoOneRunThatTheLastReportsWhole) {
  Tests({"a.sh", "b.sh", "c.sh", "d.sh", "e.sh"});
  runner_.Script("/c.sh", {Exits(1, "boom\n")});
  std::vector<int> codes;
  for (int i = 1; i <= 3; ++i) {
    auto end = Execute(Shard(Request(), i, 3));
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    codes.push_back(end->exit_code);
    EXPECT_EQ(end->run_id, 1);
  }
  // Every test ran once, each in one shard.
  EXPECT_EQ(runner_.calls().size(), 5u);
  ASSERT_EQ(db_->ListRuns().value().size(), 1u);
  model::RunRecord run = db_->LoadRun(1).value();
  EXPECT_EQ(run.run_group, "ci-7");
  EXPECT_EQ(run.shards, 3);
  EXPECT_EQ(run.status, "FAIL");
  auto shards = db_->LoadRunShards(1).value();
  size_t planned = 0;
  for (const auto& s : shards) {
    planned += s.tests.size();
    EXPECT_EQ(s.host, "testhost");
    EXPECT_FALSE(s.finished_at.empty());
    EXPECT_EQ(s.owner, "");
  }
  EXPECT_EQ(planned, 5u);
  // The first two reported their own tests; the last, the whole run.
  ASSERT_EQ(rec_.runs.size(), 3u);
  EXPECT_EQ(rec_.runs[0].results.size() + rec_.runs[1].results.size() + shards[2].tests.size(), 5u);
  EXPECT_EQ(rec_.runs[2].results.size(), 5u);
  EXPECT_EQ(rec_.runs[2].status, "FAIL");
  EXPECT_EQ(StatusOf(rec_.runs[2], "c:c.sh"), "FAIL");
  EXPECT_EQ(StatusOf(rec_.runs[2], "c:a.sh"), "PASS");
  // The last exits as the whole run; the others exit 0 whatever their
  // tests did (the whole run's result is the last one's to give).
  EXPECT_EQ(codes[2], 1);
  EXPECT_EQ(codes[0], 0);
  EXPECT_EQ(codes[1], 0);
  // A shard that has finished does not run again: a retried job is done.
  auto again = Execute(Shard(Request(), 2, 3));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->exit_code, 0);
  EXPECT_EQ(runner_.calls().size(), 5u);
  EXPECT_NE(rec_.notes.back().find("has finished already"), std::string::npos) << rec_.notes.back();
}

TEST_F(RunSessionTest, TheSplitFollowsTheTestsHistoricalDurations) {
  Tests({"long.sh", "s1.sh", "s2.sh", "s3.sh"});
  runner_.Script("/long.sh", {Exits(0, "", 3000)});
  ASSERT_TRUE(Execute(Request()).ok());  // the history: long.sh takes 3 s, the others 10 ms
  for (int i = 1; i <= 2; ++i) ASSERT_TRUE(Execute(Shard(Request(), i, 2)).ok());
  auto shards = db_->LoadRunShards(2).value();
  ASSERT_EQ(shards.size(), 2u);
  // The long test alone on one shard, the three short ones on the other.
  EXPECT_EQ(shards[0].tests, std::vector<std::string>{"c:long.sh"});
  EXPECT_EQ(shards[1].tests, (std::vector<std::string>{"c:s1.sh", "c:s2.sh", "c:s3.sh"}));
}

TEST_F(RunSessionTest, AShardWhoseVigilDiedIsResumedByItsCommandAndAnotherGroupIsAnotherRun) {
  Tests({"a.sh", "b.sh", "c.sh", "d.sh"});
  ASSERT_TRUE(Execute(Shard(Request(), 1, 2)).ok());
  // Shard 2 started by a vigil that died (this host, a pid whose start
  // time is another) after recording one of its tests.
  auto shards = db_->LoadRunShards(1).value();
  model::RunShardRecord dead = shards[1];
  dead.owner = fmt::format("{} {} 1", sys::HostName(), getpid());
  dead.started_at = "2026-01-01T00:00:00Z";
  ASSERT_TRUE(db_->StartShard(dead, "").value());
  std::string first = dead.tests[0];
  model::AttemptRecord a;
  a.test_path = first;
  a.status = "PASS";
  ASSERT_TRUE(db_->RecordAttempt(1, a).ok());
  model::AttemptRecord cut;
  cut.test_path = dead.tests[1];
  cut.status = "FAIL";
  cut.interrupted = true;
  ASSERT_TRUE(db_->RecordAttempt(1, cut).ok());
  size_t before = runner_.calls().size();
  auto end = Execute(Shard(Request(), 2, 2));
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  // What it recorded stands; the interrupted test ran again.
  EXPECT_EQ(runner_.calls().size() - before, dead.tests.size() - 1);
  model::RunRecord run = db_->LoadRun(1).value();
  EXPECT_EQ(run.status, "PASS");
  EXPECT_EQ(rec_.runs.back().results.size(), 4u);
  // A live shard is not run twice.
  auto shards2 = Execute(Shard(Request(), 1, 2, "ci-8"));
  ASSERT_TRUE(shards2.ok());
  model::RunShardRecord live = db_->LoadRunShards(2).value()[1];
  live.owner = sys::SelfOwner();
  live.started_at = "t";
  ASSERT_TRUE(db_->StartShard(live, "").value());
  auto twice = Execute(Shard(Request(), 2, 2, "ci-8"));
  EXPECT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("is running"), std::string::npos) << twice.status().message();
  // Group ci-8 is run 2, apart from ci-7's run 1.
  EXPECT_EQ(db_->FindGroupRun("ci-8").value(), 2);
  EXPECT_EQ(db_->LoadRun(1).value().status, "PASS");
  EXPECT_EQ(db_->LoadRun(2).value().status, "");
}

TEST_F(RunSessionTest, ShardsRefuseWhatDoesNotFit) {
  Tests({"a.sh", "b.sh"});
  auto no_group = Shard(Request(), 1, 2, "");
  EXPECT_NE(Execute(no_group).status().message().find("--run-group"), std::string::npos);
  RunRequest group_only = Request();
  group_only.run_group = "x";
  EXPECT_NE(Execute(group_only).status().message().find("--shard"), std::string::npos);
  RunRequest repeat = Shard(Request(), 1, 2);
  repeat.repeat = 3;
  EXPECT_FALSE(Execute(repeat).ok());
  ASSERT_TRUE(Execute(Shard(Request(), 1, 2)).ok());
  // Another number of shards, or another plan, than the group's.
  EXPECT_NE(Execute(Shard(Request(), 2, 3)).status().message().find("has 2 shards, not 3"), std::string::npos);
  RunRequest fewer = Shard(Request(), 2, 2);
  fewer.filter.tests = {"c:a.sh"};
  EXPECT_NE(Execute(fewer).status().message().find("plans other tests"), std::string::npos);
  // --resume of a split run points at the shard's command.
  RunRequest resume = Request();
  resume.resume = "1";
  EXPECT_NE(Execute(resume).status().message().find("--shard I/2"), std::string::npos);
  int shard = 0, count = 0;
  EXPECT_TRUE(ParseShard("3/4", &shard, &count).ok());
  EXPECT_EQ(shard, 3);
  EXPECT_EQ(count, 4);
  for (const char* bad : {"0/4", "5/4", "4", "a/b", "1/0", "/", "1/1001", "-1/2", "1/2/3"}) {
    EXPECT_FALSE(ParseShard(bad, &shard, &count).ok()) << bad;
  }
}

TEST_F(RunSessionTest, AShardedRunJudgesLikeTheSameRunUnsplit) {
  Tests({"a.sh", "b.sh", "c.sh", "d.sh", "e.sh", "f.sh"});
  runner_.Script("/b.sh", {Exits(1)});
  runner_.Script("/e.sh", {Exits(4)});
  auto whole = Execute(Request());
  ASSERT_TRUE(whole.ok());
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(Execute(Shard(Request(), i, 4)).ok());
  const report::FinishedRun& one = rec_.runs[0];
  const report::FinishedRun& split = rec_.runs.back();
  ASSERT_EQ(one.results.size(), split.results.size());
  for (size_t i = 0; i < one.results.size(); ++i) {
    EXPECT_EQ(one.results[i].path, split.results[i].path);  // plan order
    EXPECT_EQ(StatusOf(one, one.results[i].path), StatusOf(split, one.results[i].path));
  }
  EXPECT_EQ(one.status, split.status);
  EXPECT_EQ(db_->LoadRun(1).value().status, db_->LoadRun(2).value().status);
}

TEST(SubtestRecordsTest, ARepeatedPathIsNumberedFromItsSecondTime) {
  ktap::TestNode root;
  auto leaf = [](std::string name, ktap::Status s) {
    ktap::TestNode n;
    n.name = std::move(name);
    n.status = s;
    n.has_result_line = true;
    return n;
  };
  ktap::TestNode a = leaf("a", ktap::Status::kFail);
  a.subtests.push_back(leaf("b", ktap::Status::kFail));
  root.subtests.push_back(leaf("check", ktap::Status::kFail));
  root.subtests.push_back(leaf("check", ktap::Status::kPass));
  root.subtests.push_back(leaf("check (2)", ktap::Status::kPass));  // taken already: the next number
  root.subtests.push_back(leaf("check", ktap::Status::kPass));
  root.subtests.push_back(a);
  root.subtests.push_back(leaf("a > b", ktap::Status::kPass));  // reads as a's b
  ktap::TestNode again = a;                                      // a parent of the same name
  again.subtests[0].status = ktap::Status::kPass;
  root.subtests.push_back(again);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& s : SubtestRecords(root)) got.push_back({s.path, s.status});
  std::vector<std::pair<std::string, std::string>> want = {
      {"check", "FAIL"},      {"check (2)", "PASS"}, {"check (2) (2)", "PASS"}, {"check (3)", "PASS"},
      {"a", "FAIL"},          {"a > b", "FAIL"},     {"a > b (2)", "PASS"},     {"a (2)", "FAIL"},
      {"a (2) > b", "PASS"},
  };
  EXPECT_EQ(got, want);
}

TEST_F(RunSessionTest, TwoSubtestsOfOneNameAreTwoResultsNotARetry) {
  Tests({"dup.sh"});
  runner_.Script("/dup.sh", {Exits(1, "TAP version 13\n1..2\nnot ok 1 check\nok 2 check\n")});
  auto end = Execute(Request());
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(end->exit_code, 1);
  auto attempts = db_->LoadAttempts(rec_.runs.at(0).run_id, true);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 1u);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& s : model::SubtestVerdicts(*attempts)) got.push_back({s.path, s.status});
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"check", "FAIL"}, {"check (2)", "PASS"}}));
}

TEST_F(RunSessionTest, TestsFromStrangersAreReadAsTheSandboxUserAndTheirOwnSettingsAreNotTaken) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  Tests({"a.sh"});
  runner_.Script("/a.sh", {Exits(1), Exits(1), Exits(1), Exits(0)});
  WriteFile("tests/vigil.toml", "[[test]]\nmatch = \"c:a.sh\"\nretries = 3\n");
  RunRequest r = Request();
  r.tests_read_uid = r.tests_read_gid = 65534;
  r.files_beside_tests = false;
  auto end = Execute(r);
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_EQ(StatusOf(rec_.runs.at(0), "c:a.sh"), "FAIL");  // not retried into FLAKY by its own vigil.toml
  // A list that is a link to a file only root may read is not read.
  std::ofstream(dir_ / "secret") << "c:root-password-hash\n";
  chmod((dir_ / "secret").c_str(), 0600);
  fs::remove(dir_ / "tests" / "kselftest-list.txt");
  fs::create_symlink(dir_ / "secret", dir_ / "tests" / "kselftest-list.txt");
  auto leaked = Execute(r);
  EXPECT_FALSE(leaked.ok());
  if (leaked.ok()) {
    for (const auto& run : rec_.runs) {
      for (const auto& t : run.results) EXPECT_EQ(t.path.find("root-password-hash"), std::string::npos) << t.path;
    }
  }
  // As vigil (root), the same list would have been read.
  RunRequest as_root = Request();
  auto listed = ListPlan(as_root);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->tests.size(), 1u);
  EXPECT_EQ(listed->tests[0].path, "c:root-password-hash");
}

}  // namespace
}  // namespace vigil::engine
