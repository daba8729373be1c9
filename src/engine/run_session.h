// `vigil run` as a use case: resume an interrupted run or start one, read
// the plan (filters, vigil.toml shards, per-test timeouts and retries), get a
// machine (this host or a VM), run the tests longest-first on workers under
// the scheduling classes, retry failures (failed then passed is FLAKY),
// commit every attempt to the store as it ends, finish the run, judge it when
// asked, and decide the exit status. Front-ends (the CLI, a daemon) see it
// through a RunObserver; the store, the machine and the clock are seams.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "engine/machine.h"
#include "engine/run_progress.h"
#include "ktap/result.h"
#include "model/status.h"
#include "model/vm_spec.h"
#include "report/run_report.h"
#include "runner/config.h"
#include "runner/test_plan.h"
#include "store/store.h"
#include "sys/cancel.h"

namespace vigil::engine {

struct RunRequest {
  std::string tests_dir;      // "" only with resume
  runner::PlanFilter filter;  // -t may name shards: TEST#N
  int jobs = 1;
  double slowdown = 1.0;
  bool slowdown_set = false;  // the user chose it (else 3 under TCG)
  bool use_cgroups = true;
  bool netns = false;
  std::string resume;  // RUN_ID, "last" or "" for a new run
  int retries = 0;
  bool retries_set = false;  // --retries given (else a resumed run keeps the one it was started with)
  std::string config_path;   // vigil.toml; "" for the one beside the tests
  std::string baseline;      // judge against RUN or auto
  std::string known_issues;  // known-issues.toml; "" for the one beside the tests
  int repeat = 1;
  bool until_fail = false;
  std::optional<model::VmSpec> vm;  // --kernel (relative paths are made absolute)
  bool stop_on_crash = false;       // --on-crash stop
  std::string vm_work_dir;          // "" : vigil-vm/<time>-<pid> beside the db
  std::string db_path;              // as given: shown, and where vigil-vm/ goes
  std::string command_line;         // recorded with the run
  std::string host;                 // recorded with the run
  std::vector<std::string> base_env;  // the environment tests start from
  bool env_clear = false;             // tests get only the basics of base_env...
  std::vector<std::string> env_keep;  // ...and these (globs on names); implies env_clear
  // This vigil as the run's owner (sys::SelfOwner()), recorded with the run;
  // a run whose owner is alive is not resumed. "" records none.
  std::string owner;
  // The build the run boots (vigil run --build), recorded with the run; 0 none.
  int64_t build_id = 0;
  // One shard of a run split across machines (--shard I/N --run-group G):
  // shard 1..shard_count of the group's one run, whose plan is split by
  // historical durations (runner::SplitPlan) by the first shard to come;
  // the shard's command again resumes it; the last shard to finish reports
  // and judges the whole run. shard_count 0: a run of its own.
  int shard = 0;
  int shard_count = 0;
  std::string run_group;
  // Every test of a run on this host runs under this argv prefix (a sandbox
  // for tests from strangers: sys::SandboxPrefix); empty: as they are. Not
  // recorded: a resumed run is given it again.
  std::vector<std::string> test_wrapper;
  // In a VM: files its guest must not read through the shared root file
  // system (vm::VmOptions::hidden; rootfs 9p). Not recorded either.
  std::vector<std::string> vm_hidden;
  // In a VM: QEMU runs as this user and group (vm::VmOptions::run_uid), so
  // the guest reads the host's files with that user's rights; -1: as vigil.
  int vm_run_uid = -1;
  int vm_run_gid = -1;
  // The tests directory is written by strangers' code (a sandboxed build):
  // vigil reads it (the list, vigil.toml and known-issues.toml beside the
  // tests) as this user and group (sys::FsIdentity), so a link planted there
  // cannot make it read a host file into test names; -1: as vigil. Needs
  // root.
  int tests_read_uid = -1;
  int tests_read_gid = -1;
  // vigil.toml and known-issues.toml beside the tests are read when no
  // other is named. false: the tests come from strangers (a patch series),
  // who would choose their own retries, timeouts and known issues.
  bool files_beside_tests = true;
  // Raised (a signal): no test starts any more, the running ones are
  // terminated and recorded interrupted, the run is finished and reported,
  // and the session ends with cancel->ExitCode(). At its kill level the
  // session returns as soon as the tests are killed, reporting nothing.
  const sys::Cancellation* cancel = nullptr;
};

struct RunStart {
  int64_t run_id = 0;
  size_t tests = 0;
  std::string tests_dir;
  int repetition = 1;  // of `repeat`
  int repeat = 1;
  std::vector<PlannedTest> plan;  // in the order they start
  int jobs = 1;                   // workers
};

struct TestEnd {
  std::string path;
  model::TestStatus final_status = model::TestStatus::kPass;  // PASS, FAIL, FLAKY, ...
  int64_t last_duration_ms = 0;
  int attempts = 1;
  size_t done = 0;  // tests finished so far in this run, this one included
  size_t total = 0;
};

class RunObserver {
 public:
  virtual ~RunObserver() = default;
  // A line about the run's course: "resuming run 3: ...", "booting ...", "vm: ...".
  virtual void OnNote(const std::string& line) { (void)line; }
  // A problem that does not stop the run ("cannot record X: ...").
  virtual void OnWarning(const std::string& message) { (void)message; }
  virtual void OnRunStarted(const RunStart& start) { (void)start; }
  virtual void OnTestStarted(const std::string& path) { (void)path; }
  // A line a running test printed (without its '\n', at most 64 KiB, raw
  // bytes). Called on the thread that reads that test's output, at the same
  // time as for other tests and outside the session's other calls: an
  // observer that uses it must be thread-safe.
  virtual void OnTestOutput(const std::string& path, std::string_view line) { (void)path, (void)line; }
  // An attempt failed with `status` and the test runs again.
  virtual void OnRetry(const std::string& path, ktap::Status status, int attempt) {
    (void)path, (void)status, (void)attempt;
  }
  virtual void OnTestFinished(const TestEnd& end) { (void)end; }
  // Every test of the run ended (live displays can go).
  virtual void OnTestsDone() {}
  // The run is finished in the store (and judged when asked); an error
  // (reports that could not be written) ends the session with it.
  virtual Status OnRunFinished(const report::FinishedRun& run) {
    (void)run;
    return Status::OK();
  }
};

struct SessionEnd {
  // 0 passed, 1 failed, 3 critical (judged), 2 store failures, 128 + signal
  // when cancelled.
  int exit_code = 0;
  bool cancelled = false;
  int64_t run_id = 0;  // the (last) run, e.g. to resume a cancelled one
  // With repeat > 1: per test path, (runs it failed, runs).
  std::map<std::string, std::pair<int, int>> repeat_tally;
};

// A test's subtests as the store keeps them: "parent > child" paths in tree
// order, each unique within the attempt (a repeated one gets " (2)", " (3)"...).
std::vector<model::SubtestRecord> SubtestRecords(const ktap::TestNode& root);

// One test as `vigil run --list` shows it.
struct ListedTest {
  std::string path;                    // COLLECTION:TEST, a shard TEST#N
  std::chrono::seconds timeout{0};     // settings or vigil.toml; 0: none
  std::chrono::seconds stretched{0};   // times --slowdown (a TCG VM without --slowdown: x3 at boot)
  int retries = 0;
  std::vector<runner::ClassRule> classes;  // the vigil.toml classes it is in
  bool serial = false;                 // one of them is serial: it runs alone
  std::vector<std::string> shard_args; // a shard's arguments
  bool missing = false;                // listed, not in the tree
};

struct PlanListing {
  std::string tests_dir;
  std::string config;  // the vigil.toml read, "" for none
  std::vector<ListedTest> tests;  // in plan order
  std::vector<std::string> warnings;  // duplicate list lines, unknown settings keys
  // With req.shard_count: `tests` are shard req.shard's, of plan_size.
  size_t plan_size = 0;
  bool split_stored = false;  // the run group's split in the store, else one made now
};

// What Execute would run for a new run of `req`, in plan order, with the
// same filters, vigil.toml, shards, timeouts and retries; nothing is run,
// booted or recorded (`vigil run --list`). A resume is refused. With
// --shard I/N, only shard I's tests: the split of the run group in `db` when
// it has one (what the shard will run), else the one the first shard to
// join would make now from the last durations in `db` (may be null: no
// history, every test counted alike).
Result<PlanListing> ListPlan(const RunRequest& req, store::Store* db = nullptr);

// `vigil run` with what decides where and how `req` ran its tests (the tests,
// the store, the VM and its options, --netns, --no-cgroup, --slowdown,
// --config, --known-issues), paths made absolute: a test's rerun hint is this
// and `-t TEST`. `req` as the session resolved it (a resumed run's tests
// directory and VM filled in).
std::vector<std::string> RerunArgv(const RunRequest& req);

class RunSession {
 public:
  // `db`, `clock` and `observer` must outlive the session.
  RunSession(store::Store& db, Clock& clock, RunObserver& observer, MachineLauncher launcher = LaunchMachine);

  // Runs the request; errors are usage errors (bad flags, unknown tests, a
  // machine that would not boot, a run that could not be created).
  Result<SessionEnd> Execute(RunRequest req);

 private:
  store::Store& db_;
  Clock& clock_;
  RunObserver& observer_;
  MachineLauncher launcher_;
};

}  // namespace vigil::engine
