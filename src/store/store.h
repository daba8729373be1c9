// The results store: runs, the environments they ran in, every test and
// every attempt with its subtests and (capped) output, bisections, kernel
// builds, and the patch loop's memory (poll cursors, accepted events, queued
// series with their checks and e-mail, baselines). An
// interface with two backends: SQL (sql_store.h, on a SQLite file or a
// PostgreSQL server; a versioned schema with forward-only migrations, every
// attempt committed in its own transaction so a crash or kill -9 loses
// nothing that finished and `vigil run --resume` knows what is missing) and
// memory (memory_store.h; for tests). Both give the same reads for the same
// writes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/records.h"

namespace vigil::store {

// The schema the SQLite backend writes; the memory backend reports it too.
inline constexpr int kSchemaVersion = 17;

// A new run's uid (RunRecord::uid): 128 random bits in hex.
std::string NewRunUid();

// Which runs ListRuns returns; they always come oldest first.
struct RunQuery {
  int64_t up_to = 0;  // only runs with an id <= up_to; 0 = no bound
  int newest = 0;     // only the newest N that pass the other filters; 0 = all
  // Only runs recorded in one of these environments (0 = recorded without
  // one); unset = any environment.
  std::optional<std::vector<int64_t>> environment_ids;
  // Paging, with `newest`: the newest `skip` runs that pass the filters are
  // left out first.
  int skip = 0;
  // Only runs with one of these statuses ("" while running); unset = any.
  std::optional<std::vector<std::string>> statuses;
  std::optional<std::vector<int64_t>> ids;  // only these runs; unset = any
  std::vector<int64_t> exclude;             // never these runs
  int64_t build_id = 0;                     // only the runs that booted this build; 0 = any
  bool plans = true;                        // false: the runs come without their plans (faster)
};

// Which builds ListBuilds returns; they always come newest first.
struct BuildQuery {
  std::string tree;     // only builds of this tree ("" any)
  std::string variant;  // only this variant ("" any)
  std::string status;   // only builds with this status ("" any)
  int64_t before = 0;   // only builds with an id < before; 0 = no bound
  int newest = 0;       // at most N; 0 = all
};

// Which series ListSeries returns; they always come newest first (id desc).
struct SeriesQuery {
  std::string source;               // only series of this source ("" any)
  std::vector<std::string> states;  // only series in one of these states (empty: any)
  int limit = 0;                    // at most N; 0 = all
};

// Where a run came from, when a series of the patch loop (or a branch it
// tests) names it in its result (model::SeriesRuns).
struct RunOrigin {
  std::string kind;  // series, branch (a source "branch:...")
  int64_t series = 0;
  std::string name;  // the series'
  std::string role;  // tested, base
};

// Every method may be called from several threads at once; each is atomic.
// Ids (environments, runs, bisections) start at 1 and grow in creation order.
class Store {
 public:
  virtual ~Store() = default;

  // Opens or creates the store at `path` -- a SQLite file, or a PostgreSQL
  // database when it is a postgresql:// URI -- and brings its schema to
  // kSchemaVersion. A database from a newer vigil is refused.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  // Opens an existing store for reading only (vigil serve): nothing
  // is created, migrated or written, and every write is refused. A store of
  // another schema version is refused, saying which.
  static Result<std::unique_ptr<Store>> OpenReadOnly(const std::string& path);

  virtual int schema_version() const = 0;
  // The id of the environment with env's fingerprint, created if new.
  virtual Result<int64_t> EnsureEnvironment(const model::Environment& env) = 0;
  // Keeps started_at, host, command, tests_dir, plan, environment_id
  // (<= 0: none), owner and build_id (<= 0: none); status, finished_at and vm_json start empty. A
  // plan that names a test twice, or an environment or build not recorded, is refused.
  virtual Result<int64_t> CreateRun(const model::RunRecord& run) = 0;
  // The first test `plan` names twice, if any (what CreateRun refuses).
  static std::optional<std::string> DuplicateInPlan(const std::vector<std::string>& plan);
  // Records one finished attempt (test, attempt, subtests, crashes, output)
  // atomically; the same (test, attempt) twice in a run is refused
  // (InvalidArgument "attempt N of TEST is recorded already").
  virtual Status RecordAttempt(int64_t run_id, const model::AttemptRecord& a) = 0;
  // Where the run's kernel console (VM runs) was written.
  virtual Status SetConsoleLog(int64_t run_id, const std::string& path) = 0;
  virtual Status SetRunVm(int64_t run_id, const std::string& vm_json) = 0;
  // Also clears the run's owner.
  virtual Status FinishRun(int64_t run_id, const std::string& status, const std::string& finished_at) = 0;
  // Makes `owner` the run's owner if its owner is still `expected` (compare
  // and set: of two vigils resuming one run, one wins). False when the owner
  // was another; NotFound "no run N".
  virtual Result<bool> ClaimRun(int64_t run_id, const std::string& expected, const std::string& owner) = 0;
  // A run split across machines (vigil run --shard I/N --run-group G): the
  // run of group run.run_group, created with run.shards shards
  // (`shard_tests[k]`: the tests of shard k + 1, a partition of run.plan)
  // when the group has no run yet; else the run it has, whose plan and split
  // stand (of shards starting at once, the first one's). Returns the run's
  // id. A group name that is empty, or shard_tests that are not
  // run.shards lists, is refused.
  virtual Result<int64_t> CreateGroupRun(const model::RunRecord& run,
                                         const std::vector<std::vector<std::string>>& shard_tests) = 0;
  // What both backends refuse in CreateGroupRun (no name, a split that is
  // not one list per shard, a plan naming a test twice), OK when nothing.
  static Status ValidGroupRun(const model::RunRecord& run, const std::vector<std::vector<std::string>>& shard_tests);
  // The run of a group; NotFound "no run group G".
  virtual Result<int64_t> FindGroupRun(const std::string& group) = 0;
  // A run's shards by number (none for a run not split); NotFound "no run N".
  virtual Result<std::vector<model::RunShardRecord>> LoadRunShards(int64_t run_id) = 0;
  // Starts shard s.shard of s.run_id: host, command, tests_dir,
  // environment_id, started_at, owner and console_log as `s` has them,
  // finished_at and status cleared (a shard started again runs the rest of
  // its tests), if its owner is still `expected` and it has not finished
  // (compare and set). False when it is another's or finished; NotFound
  // "no shard I of run N".
  virtual Result<bool> StartShard(const model::RunShardRecord& s, const std::string& expected) = 0;
  // Ends a shard: its status, finished_at ("" for a shard stopped before its
  // end: not finished) and its owner cleared. Returns how many shards of the
  // run are still not finished, counted in the same transaction: of shards
  // ending at once, exactly one sees 0 (the last, which finishes the run).
  virtual Result<int> EndShard(int64_t run_id, int shard, const std::string& status,
                               const std::string& finished_at) = 0;
  // Deletes the run's interrupted attempts (with their subtests, crashes and
  // output), before `--resume` runs those tests again.
  virtual Status DiscardInterrupted(int64_t run_id) = 0;

  // NotFound "no run N".
  virtual Result<model::RunRecord> LoadRun(int64_t run_id) = 0;
  // The runs that `query` selects, oldest first.
  virtual Result<std::vector<model::RunRecord>> ListRuns(const RunQuery& query) = 0;
  // A number that changes whenever something is written to the store
  // (by this or another process), for a reader that caches what it read.
  virtual Result<int64_t> DataVersion() = 0;
  // How many runs `query` selects, newest and skip aside.
  virtual Result<int64_t> CountRuns(const RunQuery& query) = 0;
  // Every run, oldest first (plans included).
  Result<std::vector<model::RunRecord>> ListRuns() { return ListRuns(RunQuery{}); }
  // NotFound "no environment N".
  virtual Result<model::Environment> LoadEnvironment(int64_t environment_id) = 0;
  // Every environment by id.
  virtual Result<std::map<int64_t, model::Environment>> ListEnvironments() = 0;
  // The console log path set by SetConsoleLog, "" when none; NotFound "no run N".
  virtual Result<std::string> LoadConsoleLog(int64_t run_id) = 0;
  virtual Result<int64_t> LatestRun() = 0;  // NotFound "no runs in the database" when there is none
  // Every attempt of a run, in the order they were recorded; output and
  // crash texts only `with_output`, crash texts also `with_crash_texts` (a
  // page that shows every crash and reads outputs one at a time with
  // LoadAttemptOutput).
  virtual Result<std::vector<model::AttemptRecord>> LoadAttempts(int64_t run_id, bool with_output = false,
                                                                 bool with_crash_texts = false) = 0;
  // The output of one attempt (test_path, attempt number) of a run: one at a
  // time, where a run's every output at once would not fit. NotFound when
  // the run has no such attempt.
  virtual Result<std::string> LoadAttemptOutput(int64_t run_id, const std::string& test_path, int attempt) = 0;
  // The attempts of these runs in brief, by run (in the order given), then
  // as recorded. Unknown runs have none.
  virtual Result<std::vector<model::AttemptBrief>> LoadAttemptBriefs(const std::vector<int64_t>& run_ids) = 0;
  // What each test of these runs did across its attempts (model::SummarizeTest;
  // tests whose every attempt was interrupted left out), by run (in the
  // order given), then by test path. Unknown runs have none. Reads one row
  // per test: what a page of many runs' verdicts (flakes) reads.
  virtual Result<std::vector<model::TestSummary>> LoadTestSummaries(const std::vector<int64_t>& run_ids) = 0;
  // The attempts of the test `test_path` (COLLECTION:TEST), with subtests
  // and crash titles but no output, in the newest `runs` runs that recorded
  // it (<= 0: all) and whose id is <= up_to (0: any), oldest run first.
  // With `only_runs`, only those runs are looked at.
  virtual Result<std::vector<model::RunAttempt>> LoadTestAttempts(
      const std::string& test_path, int runs, int64_t up_to = 0,
      const std::optional<std::vector<int64_t>>& only_runs = std::nullopt) = 0;
  // Every kernel report recorded, oldest first, without its text.
  virtual Result<std::vector<model::CrashSighting>> ListCrashSightings() = 0;
  // A report's text; NotFound "no kernel report N".
  virtual Result<std::string> LoadCrashText(int64_t crash_id) = 0;

  // Keeps repo, good, bad, options_json, status and started_at; result_json
  // and finished_at start empty.
  virtual Result<int64_t> CreateBisection(const model::BisectionRecord& b) = 0;
  // The newest bisection of `repo` that is still running; NotFound "no bisection in progress".
  virtual Result<model::BisectionRecord> ActiveBisection(const std::string& repo) = 0;
  // NotFound "no bisection N".
  virtual Result<model::BisectionRecord> LoadBisection(int64_t id) = 0;
  // The newest bisection of `repo`, whatever its status; NotFound "no bisection in progress".
  virtual Result<model::BisectionRecord> LatestBisection(const std::string& repo) = 0;
  // Refused when the bisection doesn't exist.
  virtual Status RecordBisectRun(int64_t bisection_id, const model::BisectRunRecord& r) = 0;
  // In the order they were recorded.
  virtual Result<std::vector<model::BisectRunRecord>> LoadBisectRuns(int64_t bisection_id) = 0;
  virtual Status FinishBisection(int64_t id, const std::string& status, const std::string& result_json,
                                 const std::string& finished_at) = 0;
  // Records a finished build and its diagnostics atomically; returns its id.
  // The record's id is ignored.
  virtual Result<int64_t> RecordBuild(const model::BuildRecord& build,
                                      const std::vector<model::BuildDiagnosticRecord>& diagnostics) = 0;
  // NotFound "no build N".
  virtual Result<model::BuildRecord> LoadBuild(int64_t build_id) = 0;
  // The builds `query` selects, newest first.
  virtual Result<std::vector<model::BuildRecord>> ListBuilds(const BuildQuery& query) = 0;
  // A build's diagnostics in the order they were recorded; NotFound "no build N".
  virtual Result<std::vector<model::BuildDiagnosticRecord>> LoadBuildDiagnostics(int64_t build_id) = 0;

  // The patch loop. What it must remember so that a restart at any point
  // (kill -9 included) loses no series and posts no check and sends no
  // e-mail twice: each event is accepted once, together with the series it
  // queues and the cursor it moves, and each check and e-mail is marked
  // before it goes out and after.

  // The poll cursor of a source: the newest event date accepted ("" when none).
  virtual Result<std::string> WatchCursor(const std::string& source) = 0;
  // A first poll's start, kept so that a restart before any event starts
  // there too: the cursor of a source that has none is set to `date`; one
  // it has stays.
  virtual Status StartWatchCursor(const std::string& source, const std::string& date) = 0;
  virtual Result<bool> EventAccepted(const std::string& source, int64_t event_id) = 0;
  // In one transaction: the event marked accepted (one accepted before is
  // refused: InvalidArgument "event N of SOURCE was accepted already", and
  // nothing changes), the cursor moved to max(cursor, event_date) (ISO 8601
  // compared as text), and when `queue` is given the series queued as
  // QueueSeries does. Returns the new series' id, 0 when none was queued.
  virtual Result<int64_t> AcceptEvent(const std::string& source, int64_t event_id,
                                      const std::string& event_date,
                                      const std::optional<model::SeriesRecord>& queue) = 0;
  // Queues a series without an event (test-series, test-branch). The
  // record's id and round are ignored: round = 1 + the highest round of
  // (source, series_id) so far. A state that is not queued, testing, done,
  // failed or error is refused.
  virtual Result<int64_t> QueueSeries(const model::SeriesRecord& s) = 0;
  // Sets state, tree, base and head commits, conclusion, result_json,
  // series_json and updated_at of the series s.id; NotFound "no series N".
  virtual Status UpdateSeries(const model::SeriesRecord& s) = 0;
  // NotFound "no series N".
  virtual Result<model::SeriesRecord> LoadSeries(int64_t id) = 0;
  // The newest round of (source, series_id); NotFound "no series N of SOURCE".
  virtual Result<model::SeriesRecord> FindSeries(const std::string& source, int64_t series_id) = 0;
  // The series `query` selects, newest first.
  virtual Result<std::vector<model::SeriesRecord>> ListSeries(const SeriesQuery& query) = 0;
  // The origins of those of `run_ids` that a series' result names
  // (model::SeriesRuns, kept as each series is written): a run tested for a
  // series wins over the same run as a base, and among equals the oldest
  // series (the one that made the run) wins. Reads only the rows of those
  // runs, however many series the store holds.
  virtual Result<std::map<int64_t, RunOrigin>> LoadRunOrigins(const std::vector<int64_t>& run_ids) = 0;
  // Every run whose origin (as LoadRunOrigins gives it) is a series (kind
  // "series") or a branch ("branch"), or either (""), in id order.
  virtual Result<std::vector<int64_t>> ListRunsWithOrigin(const std::string& kind) = 0;
  // Inserts or replaces the check (series, patch_id, phase, context). An
  // unknown series, phase (pending, final) or status (planned, posting,
  // posted, gone: the patch was deleted from Patchwork) is refused.
  virtual Status SetSeriesCheck(const model::SeriesCheckRecord& c) = 0;
  // A series' checks by patch_id, phase (pending first) and context.
  virtual Result<std::vector<model::SeriesCheckRecord>> LoadSeriesChecks(int64_t series) = 0;
  // Inserts or replaces the e-mail of m.series. An unknown series or status
  // (sending, sent, written) is refused.
  virtual Status SetSeriesMail(const model::SeriesMailRecord& m) = 0;
  // NotFound "no e-mail of series N".
  virtual Result<model::SeriesMailRecord> LoadSeriesMail(int64_t series) = 0;
  // Baselines: the run that tested a tree's base commit under a pipeline
  // (key: tree name + pipeline hash). SetBaseline replaces; a run that is
  // not recorded is refused.
  virtual Status SetBaseline(const std::string& key, const std::string& commit, int64_t run_id) = 0;
  // NotFound "no baseline of KEY at COMMIT".
  virtual Result<int64_t> FindBaseline(const std::string& key, const std::string& commit) = 0;
  // What both backends refuse in a series, a check or an e-mail (an
  // unknown state, phase or status), OK when nothing.
  static Status ValidSeries(const model::SeriesRecord& s);
  static Status ValidSeriesCheck(const model::SeriesCheckRecord& c);
  static Status ValidSeriesMail(const model::SeriesMailRecord& m);

  // Latest duration of each test path (interrupted attempts left out), for
  // longest-first ordering.
  virtual Result<std::map<std::string, int64_t>> LastDurations() = 0;
};

}  // namespace vigil::store
