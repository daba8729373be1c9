// The results store: runs, the environments they ran in, every test and
// every attempt with its subtests and (capped) output. SQLite, WAL, a
// versioned schema with forward-only migrations; every attempt is committed
// in its own transaction when it finishes, so a crash or kill -9 loses
// nothing that finished and `vigil run --resume` knows what is missing.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/records.h"
#include "store/sqlite.h"

namespace vigil::store {

inline constexpr int kSchemaVersion = 5;

class Store {
 public:
  // Opens or creates the database and brings its schema to kSchemaVersion.
  // A database from a newer vigil is refused.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);

  int schema_version() const { return version_; }
  Result<int64_t> EnsureEnvironment(const model::Environment& env);
  Result<int64_t> CreateRun(const model::RunRecord& run);
  // Records one finished attempt (test, attempt, subtests, output) atomically.
  Status RecordAttempt(int64_t run_id, const model::AttemptRecord& a);
  // Where the run's kernel console (VM runs) was written.
  Status SetConsoleLog(int64_t run_id, const std::string& path);
  Status SetRunVm(int64_t run_id, const std::string& vm_json);
  Status FinishRun(int64_t run_id, const std::string& status, const std::string& finished_at);

  Result<model::RunRecord> LoadRun(int64_t run_id);
  // Every run, oldest first (plans included).
  Result<std::vector<model::RunRecord>> ListRuns();
  Result<model::Environment> LoadEnvironment(int64_t environment_id);
  Result<int64_t> LatestRun();  // NotFound when there is none
  // Every attempt of a run, in the order they were recorded.
  Result<std::vector<model::AttemptRecord>> LoadAttempts(int64_t run_id, bool with_output = false);
  Result<int64_t> CreateBisection(const model::BisectionRecord& b);
  // The bisection of `repo` that is still running; NotFound when none.
  Result<model::BisectionRecord> ActiveBisection(const std::string& repo);
  Result<model::BisectionRecord> LoadBisection(int64_t id);
  // The newest bisection of `repo`, whatever its status; NotFound when none.
  Result<model::BisectionRecord> LatestBisection(const std::string& repo);
  Status RecordBisectRun(int64_t bisection_id, const model::BisectRunRecord& r);
  Result<std::vector<model::BisectRunRecord>> LoadBisectRuns(int64_t bisection_id);
  Status FinishBisection(int64_t id, const std::string& status, const std::string& result_json,
                         const std::string& finished_at);
  // Latest duration of each test path, for longest-first ordering.
  Result<std::map<std::string, int64_t>> LastDurations();

 private:
  explicit Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  Status Migrate();
  Result<model::BisectionRecord> FindBisection(const std::string& repo, bool running_only);
  std::unique_ptr<Database> db_;
  int version_ = 0;
};

}  // namespace vigil::store
