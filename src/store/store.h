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
#include "store/sqlite.h"

namespace vigil::store {

inline constexpr int kSchemaVersion = 5;

struct Environment {
  std::string kernel_release;  // uname -r
  std::string uname;           // sysname release version machine
  std::string arch;
  int cpus = 0;
  int64_t memory_kb = 0;
  std::string where = "host";  // host | vm
  std::string accel;           // kvm | tcg | "" on the host
  std::map<std::string, std::string> tools;  // "ip" -> "ip utility, iproute2-6.1.0"
  // Hash of the kernel's configuration (/proc/config.gz or the config file
  // beside the image), "" when none was found.
  std::string kernel_config;

  // Stable across runs on the same machine and tool set.
  std::string Fingerprint() const;
};

struct RunRecord {
  int64_t id = 0;
  std::string started_at;  // ISO 8601 UTC
  std::string finished_at;
  std::string status;      // "" while running
  std::string host;
  std::string command;     // the command line
  std::string tests_dir;
  std::vector<std::string> plan;  // COLLECTION:TEST in order
  int64_t environment_id = 0;
  // A VM run: what it booted (kernel, modules, accel, ...) as JSON, so that
  // --resume boots the same; "" on the host.
  std::string vm_json;
};

struct SubtestRecord {
  std::string path;  // "sub > subsub"
  std::string status;
  std::optional<int64_t> duration_ms;
};

// A kernel report that appeared while an attempt ran (in a VM).
struct CrashRecord {
  std::string type;   // console::TypeName
  std::string title;
  bool fatal = false;
  std::string fingerprint;
  std::string guilty;
  std::string text;
};

struct AttemptRecord {
  std::string test_path;  // COLLECTION:TEST
  int attempt = 1;
  std::string status;     // PASS, FAIL, ...
  std::optional<int> exit_code;
  int signal = 0;
  bool timed_out = false;
  int64_t duration_ms = 0;
  std::string started_at;
  uint64_t output_bytes = 0;
  std::string output;      // already capped
  std::vector<std::string> environment_issues;
  std::vector<SubtestRecord> subtests;
  std::vector<CrashRecord> crashes;
};

// A bisection (vigil bisect): what it searches, and every run it made, so an
// interrupted one resumes where it stopped.
struct BisectionRecord {
  int64_t id = 0;
  std::string repo;         // the repository's top directory
  std::string good, bad;    // full hashes
  std::string options_json; // the command, build, model options
  std::string status;       // running, done, aborted, reset
  std::string result_json;
  std::string started_at, finished_at;
};

struct BisectRunRecord {
  int position = 0;
  std::string commit;
  std::string outcome;  // pass, fail, skip
  std::optional<int> exit_code;
  int64_t duration_ms = 0;
  std::string at;
};

class Store {
 public:
  // Opens or creates the database and brings its schema to kSchemaVersion.
  // A database from a newer vigil is refused.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);

  int schema_version() const { return version_; }
  Result<int64_t> EnsureEnvironment(const Environment& env);
  Result<int64_t> CreateRun(const RunRecord& run);
  // Records one finished attempt (test, attempt, subtests, output) atomically.
  Status RecordAttempt(int64_t run_id, const AttemptRecord& a);
  // Where the run's kernel console (VM runs) was written.
  Status SetConsoleLog(int64_t run_id, const std::string& path);
  Status SetRunVm(int64_t run_id, const std::string& vm_json);
  Status FinishRun(int64_t run_id, const std::string& status, const std::string& finished_at);

  Result<RunRecord> LoadRun(int64_t run_id);
  // Every run, oldest first (plans included).
  Result<std::vector<RunRecord>> ListRuns();
  Result<Environment> LoadEnvironment(int64_t environment_id);
  Result<int64_t> LatestRun();  // NotFound when there is none
  // Every attempt of a run, in the order they were recorded.
  Result<std::vector<AttemptRecord>> LoadAttempts(int64_t run_id, bool with_output = false);
  Result<int64_t> CreateBisection(const BisectionRecord& b);
  // The bisection of `repo` that is still running; NotFound when none.
  Result<BisectionRecord> ActiveBisection(const std::string& repo);
  Result<BisectionRecord> LoadBisection(int64_t id);
  // The newest bisection of `repo`, whatever its status; NotFound when none.
  Result<BisectionRecord> LatestBisection(const std::string& repo);
  Status RecordBisectRun(int64_t bisection_id, const BisectRunRecord& r);
  Result<std::vector<BisectRunRecord>> LoadBisectRuns(int64_t bisection_id);
  Status FinishBisection(int64_t id, const std::string& status, const std::string& result_json,
                         const std::string& finished_at);
  // Latest duration of each test path, for longest-first ordering.
  Result<std::map<std::string, int64_t>> LastDurations();

 private:
  explicit Store(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  Status Migrate();
  Result<BisectionRecord> FindBisection(const std::string& repo, bool running_only);
  std::unique_ptr<Database> db_;
  int version_ = 0;
};

}  // namespace vigil::store
