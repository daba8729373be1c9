// The SQL backend of the store: all of vigil's SQL, written once for the two
// engines of sql.h (a SQLite file, or a PostgreSQL server shared by many
// machines). A versioned schema brought forward one step at a time; every
// attempt, every build with its diagnostics, and every accepted event with
// the series it queues is committed in its own transaction.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/postgres.h"
#include "store/sql.h"
#include "store/store.h"

namespace vigil::store {

// The schema version recorded in `db`; 0 for a new database.
Result<int> SchemaVersion(Database& db);
// Applies the migration steps (step k takes the schema from version k-1 to
// k) from the database's version up to `target`, each in its own
// transaction. InvalidArgument when the database is newer than `target`.
Status MigrateTo(Database& db, int target);

class SqlStore final : public Store {
 public:
  // Opens or creates the database and brings its schema to kSchemaVersion.
  static Result<std::unique_ptr<SqlStore>> Open(const std::string& path);
  // Opens an existing database read-only; its schema must be kSchemaVersion.
  static Result<std::unique_ptr<SqlStore>> OpenReadOnly(const std::string& path);

  int schema_version() const override { return version_; }
  Result<int64_t> EnsureEnvironment(const model::Environment& env) override;
  Result<int64_t> CreateRun(const model::RunRecord& run) override;
  Status RecordAttempt(int64_t run_id, const model::AttemptRecord& a) override;
  Status SetConsoleLog(int64_t run_id, const std::string& path) override;
  Status SetRunVm(int64_t run_id, const std::string& vm_json) override;
  Status FinishRun(int64_t run_id, const std::string& status, const std::string& finished_at) override;
  Result<bool> ClaimRun(int64_t run_id, const std::string& expected, const std::string& owner) override;
  Result<int64_t> CreateGroupRun(const model::RunRecord& run,
                                 const std::vector<std::vector<std::string>>& shard_tests) override;
  Result<int64_t> FindGroupRun(const std::string& group) override;
  Result<std::vector<model::RunShardRecord>> LoadRunShards(int64_t run_id) override;
  Result<bool> StartShard(const model::RunShardRecord& s, const std::string& expected) override;
  Result<int> EndShard(int64_t run_id, int shard, const std::string& status, const std::string& finished_at) override;
  Status DiscardInterrupted(int64_t run_id) override;
  Result<model::RunRecord> LoadRun(int64_t run_id) override;
  using Store::ListRuns;
  Result<std::vector<model::RunRecord>> ListRuns(const RunQuery& query) override;
  Result<int64_t> CountRuns(const RunQuery& query) override;
  Result<int64_t> DataVersion() override;
  Result<std::vector<model::AttemptBrief>> LoadAttemptBriefs(const std::vector<int64_t>& run_ids) override;
  Result<std::vector<model::TestSummary>> LoadTestSummaries(const std::vector<int64_t>& run_ids) override;
  Result<std::vector<model::RunAttempt>> LoadTestAttempts(
      const std::string& test_path, int runs, int64_t up_to = 0,
      const std::optional<std::vector<int64_t>>& only_runs = std::nullopt) override;
  Result<std::vector<model::CrashSighting>> ListCrashSightings() override;
  Result<std::string> LoadCrashText(int64_t crash_id) override;
  Result<model::Environment> LoadEnvironment(int64_t environment_id) override;
  Result<std::map<int64_t, model::Environment>> ListEnvironments() override;
  Result<std::string> LoadConsoleLog(int64_t run_id) override;
  Result<int64_t> LatestRun() override;
  Result<std::vector<model::AttemptRecord>> LoadAttempts(int64_t run_id, bool with_output = false,
                                                         bool with_crash_texts = false) override;
  Result<std::string> LoadAttemptOutput(int64_t run_id, const std::string& test_path, int attempt) override;
  Result<int64_t> CreateBisection(const model::BisectionRecord& b) override;
  Result<model::BisectionRecord> ActiveBisection(const std::string& repo) override;
  Result<model::BisectionRecord> LoadBisection(int64_t id) override;
  Result<model::BisectionRecord> LatestBisection(const std::string& repo) override;
  Status RecordBisectRun(int64_t bisection_id, const model::BisectRunRecord& r) override;
  Result<std::vector<model::BisectRunRecord>> LoadBisectRuns(int64_t bisection_id) override;
  Status FinishBisection(int64_t id, const std::string& status, const std::string& result_json,
                         const std::string& finished_at) override;
  Result<int64_t> RecordBuild(const model::BuildRecord& build,
                              const std::vector<model::BuildDiagnosticRecord>& diagnostics) override;
  Result<model::BuildRecord> LoadBuild(int64_t build_id) override;
  Result<std::vector<model::BuildRecord>> ListBuilds(const BuildQuery& query) override;
  Result<std::vector<model::BuildDiagnosticRecord>> LoadBuildDiagnostics(int64_t build_id) override;
  Result<std::map<std::string, int64_t>> LastDurations() override;
  Result<std::string> WatchCursor(const std::string& source) override;
  Status StartWatchCursor(const std::string& source, const std::string& date) override;
  Result<bool> EventAccepted(const std::string& source, int64_t event_id) override;
  Result<int64_t> AcceptEvent(const std::string& source, int64_t event_id, const std::string& event_date,
                              const std::optional<model::SeriesRecord>& queue) override;
  Result<int64_t> QueueSeries(const model::SeriesRecord& s) override;
  Status UpdateSeries(const model::SeriesRecord& s) override;
  Result<model::SeriesRecord> LoadSeries(int64_t id) override;
  Result<model::SeriesRecord> FindSeries(const std::string& source, int64_t series_id) override;
  Result<std::vector<model::SeriesRecord>> ListSeries(const SeriesQuery& query) override;
  Result<std::map<int64_t, RunOrigin>> LoadRunOrigins(const std::vector<int64_t>& run_ids) override;
  Result<std::vector<int64_t>> ListRunsWithOrigin(const std::string& kind) override;
  Status SetSeriesCheck(const model::SeriesCheckRecord& c) override;
  Result<std::vector<model::SeriesCheckRecord>> LoadSeriesChecks(int64_t series) override;
  Status SetSeriesMail(const model::SeriesMailRecord& m) override;
  Result<model::SeriesMailRecord> LoadSeriesMail(int64_t series) override;
  Status SetBaseline(const std::string& key, const std::string& commit, int64_t run_id) override;
  Result<int64_t> FindBaseline(const std::string& key, const std::string& commit) override;

 private:
  SqlStore(std::unique_ptr<Database> db, int version, const std::string& path)
      : db_(std::move(db)), version_(version), path_(ShownPath(path)) {}
  // Why a write is refused on a read-only store, in the engine's terms.
  std::string ReadOnlyWhy();
  Result<model::BisectionRecord> FindBisection(const std::string& repo, bool running_only);
  // QueueSeries' insert, inside the caller's transaction and lock.
  Result<int64_t> InsertSeries(const model::SeriesRecord& s);
  // NotFound "no series N" unless the series is recorded; under the lock.
  Status SeriesExists(int64_t id);

  std::mutex mu_;  // one connection, used by one thread at a time
  std::unique_ptr<Database> db_;
  int version_ = 0;
  std::string path_;  // as opened (no password), for messages
};

}  // namespace vigil::store
