#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "console/detector.h"
#include "model/verdicts.h"
#include "store/copy.h"
#include "store/memory_store.h"
#include "store/sql.h"
#include "store/sql_store.h"

namespace vigil::store {
using model::AttemptRecord;
using model::BisectionRecord;
using model::BisectRunRecord;
using model::BuildDiagnosticRecord;
using model::BuildRecord;
using model::CrashRecord;
using model::Environment;
using model::RunRecord;
using model::SeriesCheckRecord;
using model::SeriesMailRecord;
using model::SeriesRecord;
using model::SubtestRecord;

namespace {
namespace fs = std::filesystem;

// A database path in the temporary directory, removed before and after.
class TempDb {
 public:
  explicit TempDb(const std::string& tag) {
    std::error_code ec;
    path_ = (fs::temp_directory_path(ec) / fmt::format("vigil-store-{}-{}.db", tag, getpid())).string();
    Remove();
  }
  ~TempDb() { Remove(); }
  const std::string& path() const { return path_; }

 private:
  void Remove() {
    std::error_code ec;  // absent is fine
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_ + suffix, ec);
  }
  std::string path_;
};

// A read's value, by value: a range-for over it keeps it alive (over
// Result<T>::value() of a temporary it would not).
template <typename T>
T Get(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : T{};
}

AttemptRecord Attempt(const std::string& path, const std::string& status, int attempt = 1) {
  AttemptRecord a;
  a.test_path = path;
  a.attempt = attempt;
  a.status = status;
  a.exit_code = status == "PASS" ? 0 : 1;
  a.duration_ms = 1234;
  a.started_at = "2026-11-25T10:00:00Z";
  a.output_bytes = 7;
  a.output = std::string("out\0put", 7);
  a.environment_issues = {"ping: command not found"};
  a.subtests = {{"first", "PASS", 4}, {"group > inner", "FAIL", std::nullopt}};
  return a;
}

Environment Env(const std::string& release, const std::string& where = "host") {
  Environment e;
  e.kernel_release = release;
  e.uname = "Linux " + release + " #1 x86_64";
  e.arch = "x86_64";
  e.cpus = 4;
  e.memory_kb = 8 * 1024 * 1024;
  e.where = where;
  e.accel = where == "vm" ? "tcg" : "";
  e.tools = {{"ip", "iproute2-6.1.0"}};
  e.kernel_config = release == "6.12.1" ? "cfg1234" : "";
  return e;
}

RunRecord ARun(int64_t env_id, const std::string& started = "2026-11-25T10:00:00Z") {
  RunRecord r;
  r.started_at = started;
  r.host = "h";
  r.command = "vigil run --tests x";
  r.tests_dir = "/x";
  r.plan = {"a:one", "a:two"};
  r.environment_id = env_id;
  return r;
}

RunQuery Query(int64_t up_to, int newest, std::optional<std::vector<int64_t>> environment_ids = std::nullopt) {
  RunQuery q;
  q.up_to = up_to;
  q.newest = newest;
  q.environment_ids = std::move(environment_ids);
  return q;
}

std::vector<int64_t> Ids(const Result<std::vector<RunRecord>>& runs) {
  std::vector<int64_t> out;
  if (!runs.ok()) return out;
  for (const auto& r : runs.value()) out.push_back(r.id);
  return out;
}

// A build with every field set, the text ones with bytes that are not UTF-8.
BuildRecord ABuild(const std::string& tree = "/src/linux", const std::string& variant = "normal",
                   const std::string& status = "built") {
  BuildRecord b;
  b.started_at = "2026-12-01T10:00:00Z";
  b.finished_at = "2026-12-01T10:07:00Z";
  b.status = status;
  b.host = "builder\xff";
  b.command = "vigil build --tree '" + tree + "'";
  b.tree = tree;
  b.commit = "0123456789abcdef0123456789abcdef01234567";
  b.describe = "v6.12-rc1-5-g0123456789ab-dirty";
  b.dirty = true;
  b.variant = variant;
  b.output_dir = tree + "/.vigil/out-\xfe";
  b.config_hash = "cbf29ce484222325";
  b.compiler = "gcc (Debian 12.2.0-14) 12.2.0";
  b.collections = {"net", "bpf", "na\xefve\xff"};
  b.duration_ms = 420000;
  b.steps = 1234;
  b.artifacts_json = R"({"kernel":"arch/x86/boot/bzImage","modules":"","tests":"kselftest","config":".config"})";
  b.config_mismatches = {"CONFIG_KASAN=y wanted, not set", "CONFIG_\xff=m wanted, y"};
  b.warnings = 17;
  b.errors = 2;
  b.diagnostics_dropped = 5;
  b.failure = status == "built" ? "" : "net/core/dev.c:12: error \xff";
  return b;
}

BuildDiagnosticRecord ADiagnostic(int i) {
  BuildDiagnosticRecord d;
  d.tool = i % 2 ? "compiler" : "linker";
  d.file = fmt::format("drivers/x{}/f\xff\xfe.c", i);
  d.line = i + 1;
  d.column = i % 80;
  d.severity = i % 3 ? "warning" : "error";
  d.message = fmt::format("unused variable \xe2\x80\x98x{}\xe2\x80\x99 \xff", i);
  d.flag = i % 2 ? "-Wunused-variable" : "";
  d.function = i % 5 ? fmt::format("probe_{}", i) : "";
  d.inlined_from = i % 6 ? "" : fmt::format("caller_{} at drivers/x{}.c:{}:2", i, i, i + 3);
  d.target = i % 7 ? "" : "drivers/x.o";
  if (i % 4 == 0) d.notes = {fmt::format("include/y.h:{}:3: declared here \xff", i), "z.c:1:1: in expansion"};
  return d;
}

void ExpectSameBuild(const BuildRecord& got, const BuildRecord& want) {
  EXPECT_EQ(got.started_at, want.started_at);
  EXPECT_EQ(got.finished_at, want.finished_at);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.host, want.host);
  EXPECT_EQ(got.command, want.command);
  EXPECT_EQ(got.tree, want.tree);
  EXPECT_EQ(got.commit, want.commit);
  EXPECT_EQ(got.describe, want.describe);
  EXPECT_EQ(got.dirty, want.dirty);
  EXPECT_EQ(got.variant, want.variant);
  EXPECT_EQ(got.output_dir, want.output_dir);
  EXPECT_EQ(got.config_hash, want.config_hash);
  EXPECT_EQ(got.compiler, want.compiler);
  EXPECT_EQ(got.collections, want.collections);
  EXPECT_EQ(got.duration_ms, want.duration_ms);
  EXPECT_EQ(got.steps, want.steps);
  EXPECT_EQ(got.artifacts_json, want.artifacts_json);
  EXPECT_EQ(got.config_mismatches, want.config_mismatches);
  EXPECT_EQ(got.warnings, want.warnings);
  EXPECT_EQ(got.errors, want.errors);
  EXPECT_EQ(got.diagnostics_dropped, want.diagnostics_dropped);
  EXPECT_EQ(got.failure, want.failure);
}

void ExpectSameDiagnostic(const BuildDiagnosticRecord& got, const BuildDiagnosticRecord& want) {
  EXPECT_EQ(got.tool, want.tool);
  EXPECT_EQ(got.file, want.file);
  EXPECT_EQ(got.line, want.line);
  EXPECT_EQ(got.column, want.column);
  EXPECT_EQ(got.severity, want.severity);
  EXPECT_EQ(got.message, want.message);
  EXPECT_EQ(got.flag, want.flag);
  EXPECT_EQ(got.function, want.function);
  EXPECT_EQ(got.inlined_from, want.inlined_from);
  EXPECT_EQ(got.target, want.target);
  EXPECT_EQ(got.notes, want.notes);
}

std::vector<int64_t> BuildIds(const Result<std::vector<BuildRecord>>& builds) {
  std::vector<int64_t> out;
  if (!builds.ok()) return out;
  for (const auto& b : builds.value()) out.push_back(b.id);
  return out;
}

BuildQuery Builds(const std::string& tree, const std::string& variant, const std::string& status, int64_t before,
                  int newest) {
  BuildQuery q;
  q.tree = tree;
  q.variant = variant;
  q.status = status;
  q.before = before;
  q.newest = newest;
  return q;
}

constexpr const char* kPw = "https://patchwork.kernel.org/api/1.3#netdevbpf";

// A series as the patch loop queues it.
SeriesRecord ASeries(int64_t series_id, const std::string& source = kPw,
                     const std::string& state = "queued") {
  SeriesRecord s;
  s.source = source;
  s.series_id = series_id;
  s.name = fmt::format("[PATCH net-next v2 0/3] net: series {}", series_id);
  s.version = "2";
  s.submitter = "Jane Doe <jane@example.org>";
  s.series_json = fmt::format(R"({{"id":{},"patches":[{{"id":11}},{{"id":12}}]}})", series_id);
  s.state = state;
  s.queued_at = "2026-12-05T01:00:00Z";
  s.updated_at = s.queued_at;
  return s;
}

SeriesCheckRecord ACheck(int64_t series, int64_t patch, const std::string& phase, const std::string& context,
                         const std::string& status = "planned") {
  SeriesCheckRecord c;
  c.series = series;
  c.patch_id = patch;
  c.phase = phase;
  c.context = context;
  c.state = phase == "pending" ? "pending" : "success";
  c.description = "selftests: " + context;
  c.target_url = "https://ci.example.org/r/" + context;
  c.status = status;
  c.posted_at = status == "posted" ? "2026-12-05T02:00:00Z" : "";
  return c;
}

void ExpectSameSeries(const SeriesRecord& got, const SeriesRecord& want) {
  EXPECT_EQ(got.source, want.source);
  EXPECT_EQ(got.series_id, want.series_id);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.version, want.version);
  EXPECT_EQ(got.submitter, want.submitter);
  EXPECT_EQ(got.series_json, want.series_json);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.tree, want.tree);
  EXPECT_EQ(got.base_commit, want.base_commit);
  EXPECT_EQ(got.head_commit, want.head_commit);
  EXPECT_EQ(got.conclusion, want.conclusion);
  EXPECT_EQ(got.result_json, want.result_json);
  EXPECT_EQ(got.queued_at, want.queued_at);
  EXPECT_EQ(got.updated_at, want.updated_at);
}

void ExpectSameCheck(const SeriesCheckRecord& got, const SeriesCheckRecord& want) {
  EXPECT_EQ(got.series, want.series);
  EXPECT_EQ(got.patch_id, want.patch_id);
  EXPECT_EQ(got.phase, want.phase);
  EXPECT_EQ(got.context, want.context);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.target_url, want.target_url);
  EXPECT_EQ(got.status, want.status);
  EXPECT_EQ(got.posted_at, want.posted_at);
}

// "patch_id/phase/context" of each check, in the order given.
std::vector<std::string> CheckKeys(const Result<std::vector<SeriesCheckRecord>>& checks) {
  std::vector<std::string> out;
  if (!checks.ok()) return out;
  for (const auto& c : checks.value()) out.push_back(fmt::format("{}/{}/{}", c.patch_id, c.phase, c.context));
  return out;
}

std::vector<int64_t> SeriesIds(const Result<std::vector<SeriesRecord>>& series) {
  std::vector<int64_t> out;
  if (!series.ok()) return out;
  for (const auto& s : series.value()) out.push_back(s.id);
  return out;
}

SeriesQuery Series(const std::string& source, std::vector<std::string> states, int limit) {
  SeriesQuery q;
  q.source = source;
  q.states = std::move(states);
  q.limit = limit;
  return q;
}

// Every conformance test runs against both backends.
// A schema of its own on the tests' PostgreSQL server (VIGIL_TEST_POSTGRES,
// set by CTest, which starts the server): a store as new as a new file.
class TempSchema {
 public:
  TempSchema() {
    static int n = 0;
    const char* base = std::getenv("VIGIL_TEST_POSTGRES");
    if (!base || !*base) return;
    name_ = fmt::format("t_{}_{}", getpid(), ++n);
    auto db = Database::Open(base);
    if (!db.ok()) {
      error_ = db.status().ToString();
      return;
    }
    Status s = (*db)->Exec(fmt::format("DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0}", name_));
    if (!s.ok()) error_ = s.ToString();
    base_ = base;
    uri_ = fmt::format("{}&options=-csearch_path%3D{}", base, name_);
  }
  ~TempSchema() {
    if (base_.empty()) return;
    if (auto db = Database::Open(base_); db.ok()) (void)(*db)->Exec(fmt::format("DROP SCHEMA {} CASCADE", name_));
  }
  bool available() const { return !base_.empty() || !error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& uri() const { return uri_; }

 private:
  std::string name_, base_, uri_, error_;
};

// Where a store is made on either backend: a file, or a schema of the
// tests' PostgreSQL server (none when it is not set up: Place() returns "").
class BackendPlace {
 public:
  std::string Place(const std::string& backend, const std::string& name) {
    if (backend == "postgresql") {
      schema_ = std::make_unique<TempSchema>();
      if (!schema_->available()) return "";
      EXPECT_TRUE(schema_->error().empty()) << schema_->error();
      return schema_->uri();
    }
    db_ = std::make_unique<TempDb>(name);
    return db_->path();
  }

 private:
  std::unique_ptr<TempDb> db_;
  std::unique_ptr<TempSchema> schema_;
};

class StoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = NewMemoryStore();
      return;
    }
    place_ = std::make_unique<BackendPlace>();
    std::string path = place_->Place(GetParam(), "conformance");
    if (path.empty()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
    ASSERT_FALSE(HasFailure());  // the server's schema could not be made
    auto s = Store::Open(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s.value());
  }
  void TearDown() override {
    store_.reset();
    place_.reset();
  }
  Store& store() { return *store_; }

 private:
  std::unique_ptr<BackendPlace> place_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformance, ReportsTheCurrentSchemaVersion) { EXPECT_EQ(store().schema_version(), kSchemaVersion); }

TEST_P(StoreConformance, RunOwnerIsKeptClaimedOnlyFromTheExpectedOwnerAndClearedByFinishing) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  RunRecord r = ARun(env);
  r.owner = "h 100 5000";
  int64_t id = store().CreateRun(r).value();
  EXPECT_EQ(store().LoadRun(id).value().owner, "h 100 5000");
  // Another vigil that saw an older owner loses; the one that saw this one wins.
  EXPECT_FALSE(store().ClaimRun(id, "", "h 200 6000").value());
  EXPECT_TRUE(store().ClaimRun(id, "h 100 5000", "h 200 6000").value());
  EXPECT_EQ(store().LoadRun(id).value().owner, "h 200 6000");
  EXPECT_FALSE(store().ClaimRun(id, "h 100 5000", "h 300 7000").value());
  EXPECT_TRUE(store().FinishRun(id, "PASS", "2026-11-25T11:00:00Z").ok());
  EXPECT_EQ(store().LoadRun(id).value().owner, "");
  EXPECT_TRUE(store().ClaimRun(id, "", "h 300 7000").value());
  EXPECT_EQ(store().ClaimRun(99, "", "x").status().code(), Status::Code::kNotFound);
}

TEST_P(StoreConformance, InterruptedAttemptsReadBackAndAreDiscardedWithTheirRows) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  int64_t id = store().CreateRun(ARun(env)).value();
  int64_t other = store().CreateRun(ARun(env)).value();
  AttemptRecord done = Attempt("a:one", "PASS");
  AttemptRecord cut = Attempt("a:two", "ERROR");
  cut.interrupted = true;
  cut.duration_ms = 5;
  ASSERT_TRUE(store().RecordAttempt(id, done).ok());
  ASSERT_TRUE(store().RecordAttempt(id, cut).ok());
  ASSERT_TRUE(store().RecordAttempt(other, cut).ok());
  auto attempts = store().LoadAttempts(id, true).value();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_FALSE(attempts[0].interrupted);
  EXPECT_TRUE(attempts[1].interrupted);
  // An interrupted attempt's duration says nothing about the test's.
  EXPECT_EQ(store().LastDurations().value().count("a:two"), 0u);

  ASSERT_TRUE(store().DiscardInterrupted(id).ok());
  attempts = store().LoadAttempts(id, true).value();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].test_path, "a:one");
  EXPECT_EQ(attempts[0].subtests.size(), 2u);
  // The other run keeps its own; the discarded attempt can be recorded anew.
  EXPECT_EQ(store().LoadAttempts(other).value().size(), 1u);
  AttemptRecord rerun = Attempt("a:two", "PASS");
  EXPECT_TRUE(store().RecordAttempt(id, rerun).ok());
  EXPECT_EQ(store().LoadAttempts(id, true).value().size(), 2u);
}

TEST_P(StoreConformance, IdsStartAtOneInCreationOrder) {
  EXPECT_EQ(store().EnsureEnvironment(Env("6.1.0")).value(), 1);
  EXPECT_EQ(store().EnsureEnvironment(Env("6.12.1")).value(), 2);
  EXPECT_EQ(store().CreateRun(ARun(1)).value(), 1);
  EXPECT_EQ(store().CreateRun(ARun(0)).value(), 2);
  EXPECT_EQ(store().CreateRun(ARun(2)).value(), 3);
  BisectionRecord b;
  b.repo = "/r";
  b.status = "running";
  EXPECT_EQ(store().CreateBisection(b).value(), 1);
  EXPECT_EQ(store().CreateBisection(b).value(), 2);
}

TEST_P(StoreConformance, EachRunGetsAUidOfItsOwnOrKeepsTheOneItCameWith) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  RunRecord r = ARun(env);
  int64_t a = store().CreateRun(r).value();
  int64_t b = store().CreateRun(r).value();  // the same second, host and command
  std::string ua = store().LoadRun(a).value().uid, ub = store().LoadRun(b).value().uid;
  EXPECT_EQ(ua.size(), 32u);
  EXPECT_EQ(ua.find_first_not_of("0123456789abcdef"), std::string::npos) << ua;
  EXPECT_NE(ua, ub);
  r.uid = "0123456789abcdef0123456789abcdef";  // a copy of a run of another store
  r.options_json = R"({"config":"/t/vigil.toml","retries":2})";  // what --resume carries over
  int64_t c = store().CreateRun(r).value();
  EXPECT_EQ(store().LoadRun(c).value().uid, r.uid);
  EXPECT_EQ(store().LoadRun(c).value().options_json, r.options_json);
  EXPECT_EQ(store().LoadRun(a).value().options_json, "");
  RunQuery q;
  q.plans = false;
  auto listed = store().ListRuns(q).value();
  ASSERT_EQ(listed.size(), 3u);
  EXPECT_EQ(listed[2].uid, r.uid);
}

TEST_P(StoreConformance, OneAttemptsOutputIsReadAlone) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  RunRecord r = ARun(env);
  r.plan = {"c:a", "c:b"};
  int64_t run = store().CreateRun(r).value();
  AttemptRecord a;
  a.test_path = "c:a";
  a.status = "FAIL";
  a.output = std::string("first\0bytes\xff", 12);
  ASSERT_TRUE(store().RecordAttempt(run, a).ok());
  a.attempt = 2;
  a.status = "PASS";
  a.output = "second";
  ASSERT_TRUE(store().RecordAttempt(run, a).ok());
  a.test_path = "c:b";
  a.attempt = 1;
  a.output = "";
  ASSERT_TRUE(store().RecordAttempt(run, a).ok());
  EXPECT_EQ(store().LoadAttemptOutput(run, "c:a", 1).value(), std::string("first\0bytes\xff", 12));
  EXPECT_EQ(store().LoadAttemptOutput(run, "c:a", 2).value(), "second");
  EXPECT_EQ(store().LoadAttemptOutput(run, "c:b", 1).value(), "");
  EXPECT_EQ(store().LoadAttemptOutput(run, "c:a", 3).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store().LoadAttemptOutput(run + 1, "c:a", 1).status().code(), Status::Code::kNotFound);
}

TEST_P(StoreConformance, EnvironmentsAreDeduplicatedByFingerprint) {
  Environment e = Env("6.12.1");
  int64_t id = store().EnsureEnvironment(e).value();
  Environment drifted = e;
  drifted.memory_kb += 1000;  // within the fingerprint's tolerance
  EXPECT_EQ(store().EnsureEnvironment(drifted).value(), id);
  Environment other = e;
  other.tools["ss"] = "ss utility";
  EXPECT_NE(store().EnsureEnvironment(other).value(), id);

  auto loaded = store().LoadEnvironment(id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->kernel_release, "6.12.1");
  EXPECT_EQ(loaded->uname, e.uname);
  EXPECT_EQ(loaded->arch, "x86_64");
  EXPECT_EQ(loaded->cpus, 4);
  EXPECT_EQ(loaded->memory_kb, e.memory_kb);  // the first one's
  EXPECT_EQ(loaded->where, "host");
  EXPECT_EQ(loaded->accel, "");
  EXPECT_EQ(loaded->tools, e.tools);
  EXPECT_EQ(loaded->kernel_config, "cfg1234");
  EXPECT_EQ(loaded->Fingerprint(), e.Fingerprint());

  auto all = store().ListEnvironments();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at(2).tools.at("ss"), "ss utility");
}

// Test file names and tool versions are bytes: a name with 0xff is kept
// exactly (a resumed run finds its tests), and nothing throws.
TEST_P(StoreConformance, KeepsInvalidUtf8InPlansToolsAndAttemptsExactly) {
  Environment e = Env("6.1.0");
  e.tools["ip"] = "ip utility, iproute2-\xff\xfe";
  int64_t env = store().EnsureEnvironment(e).value();
  EXPECT_EQ(store().LoadEnvironment(env).value().tools.at("ip"), "ip utility, iproute2-\xff\xfe");
  RunRecord run = ARun(env);
  run.plan = {"t:bad\xff.sh", "t:esc\x1b[31m.sh", "t:nl\nok 2 forged"};
  run.command = "vigil run -t 't:bad\xff.sh'";
  int64_t id = store().CreateRun(run).value();
  EXPECT_EQ(store().LoadRun(id).value().plan, run.plan);
  AttemptRecord a = Attempt("t:bad\xff.sh", "FAIL");
  a.environment_issues = {"\xffip: command not found"};
  ASSERT_TRUE(store().RecordAttempt(id, a).ok());
  auto attempts = store().LoadAttempts(id, true).value();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].test_path, "t:bad\xff.sh");
  // Issues are display text: invalid bytes replaced, in both backends.
  EXPECT_EQ(attempts[0].environment_issues, std::vector<std::string>{"\xEF\xBF\xBDip: command not found"});
}

TEST_P(StoreConformance, RoundTripsARunWithItsAttempts) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0", "vm")).value();
  RunRecord run = ARun(env);
  run.status = "ignored";  // set by FinishRun only
  run.finished_at = "ignored";
  run.vm_json = "ignored";
  int64_t id = store().CreateRun(run).value();
  auto fresh = store().LoadRun(id);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->status, "");
  EXPECT_EQ(fresh->finished_at, "");
  EXPECT_EQ(fresh->vm_json, "");
  EXPECT_EQ(store().LoadConsoleLog(id).value(), "");

  AttemptRecord first = Attempt("a:one", "FAIL");
  first.signal = 9;
  first.timed_out = true;
  first.subtests_dropped = 123456;
  first.crashes = {CrashRecord{"BUG", "BUG: oops", true, "fp1", "f+0x1", "the text"},
                   CrashRecord{"WARNING", "WARNING: w", false, "fp2", "g", "more"}};
  ASSERT_TRUE(store().RecordAttempt(id, first).ok());
  AttemptRecord second = Attempt("a:one", "PASS", 2);
  second.exit_code.reset();
  second.duration_ms = 77;
  ASSERT_TRUE(store().RecordAttempt(id, second).ok());
  ASSERT_TRUE(store().RecordAttempt(id, Attempt("a:two", "SKIP")).ok());
  ASSERT_TRUE(store().SetConsoleLog(id, "/tmp/console.log").ok());
  ASSERT_TRUE(store().SetRunVm(id, R"({"kernel":"bzImage"})").ok());
  ASSERT_TRUE(store().FinishRun(id, "FAIL", "2026-11-25T10:01:00Z").ok());

  auto loaded = store().LoadRun(id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->id, id);
  EXPECT_EQ(loaded->started_at, run.started_at);
  EXPECT_EQ(loaded->finished_at, "2026-11-25T10:01:00Z");
  EXPECT_EQ(loaded->status, "FAIL");
  EXPECT_EQ(loaded->host, "h");
  EXPECT_EQ(loaded->command, run.command);
  EXPECT_EQ(loaded->tests_dir, "/x");
  EXPECT_EQ(loaded->plan, run.plan);
  EXPECT_EQ(loaded->environment_id, env);
  EXPECT_EQ(loaded->vm_json, R"({"kernel":"bzImage"})");
  EXPECT_EQ(store().LoadConsoleLog(id).value(), "/tmp/console.log");

  auto with = store().LoadAttempts(id, true);
  ASSERT_TRUE(with.ok());
  ASSERT_EQ(with->size(), 3u);
  const AttemptRecord& a = (*with)[0];
  EXPECT_EQ(a.test_path, "a:one");
  EXPECT_EQ(a.attempt, 1);
  EXPECT_EQ(a.status, "FAIL");
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_EQ(a.signal, 9);
  EXPECT_TRUE(a.timed_out);
  EXPECT_EQ(a.duration_ms, 1234);
  EXPECT_EQ(a.started_at, "2026-11-25T10:00:00Z");
  EXPECT_EQ(a.output_bytes, 7u);
  EXPECT_EQ(a.output, std::string("out\0put", 7));
  EXPECT_EQ(a.environment_issues, std::vector<std::string>{"ping: command not found"});
  ASSERT_EQ(a.subtests.size(), 2u);
  EXPECT_EQ(a.subtests[0].path, "first");
  EXPECT_EQ(a.subtests[0].duration_ms, 4);
  EXPECT_EQ(a.subtests[1].path, "group > inner");
  EXPECT_EQ(a.subtests[1].status, "FAIL");
  EXPECT_FALSE(a.subtests[1].duration_ms.has_value());
  EXPECT_EQ(a.subtests_dropped, 123456);
  EXPECT_EQ((*with)[2].subtests_dropped, 0);
  ASSERT_EQ(a.crashes.size(), 2u);
  EXPECT_EQ(a.crashes[0].type, "BUG");
  EXPECT_EQ(a.crashes[0].title, "BUG: oops");
  EXPECT_TRUE(a.crashes[0].fatal);
  EXPECT_EQ(a.crashes[0].fingerprint, "fp1");
  EXPECT_EQ(a.crashes[0].guilty, "f+0x1");
  EXPECT_EQ(a.crashes[0].text, "the text");
  EXPECT_FALSE(a.crashes[1].fatal);
  EXPECT_EQ((*with)[1].attempt, 2);
  EXPECT_FALSE((*with)[1].exit_code.has_value());
  EXPECT_EQ((*with)[2].test_path, "a:two");

  auto without = store().LoadAttempts(id, false);
  ASSERT_TRUE(without.ok());
  ASSERT_EQ(without->size(), 3u);
  EXPECT_EQ((*without)[0].output, "");
  EXPECT_EQ((*without)[0].output_bytes, 7u);
  EXPECT_EQ((*without)[0].crashes[0].text, "");
  EXPECT_EQ((*without)[0].crashes[0].title, "BUG: oops");

  // What a page that shows every crash and reads outputs one at a time asks.
  auto crash_texts = store().LoadAttempts(id, false, true);
  ASSERT_TRUE(crash_texts.ok());
  ASSERT_EQ(crash_texts->size(), 3u);
  EXPECT_EQ((*crash_texts)[0].output, "");
  EXPECT_EQ((*crash_texts)[0].output_bytes, 7u);
  EXPECT_EQ((*crash_texts)[0].crashes[0].text, "the text");
  EXPECT_EQ((*crash_texts)[0].subtests.size(), 2u);
}

TEST_P(StoreConformance, ResumeReadsTheLatestRunAndWhatItRecorded) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  int64_t old_run = store().CreateRun(ARun(env)).value();
  ASSERT_TRUE(store().RecordAttempt(old_run, Attempt("a:one", "PASS")).ok());
  int64_t run = store().CreateRun(ARun(env)).value();
  ASSERT_TRUE(store().RecordAttempt(run, Attempt("a:two", "PASS")).ok());
  // Interrupted: not finished. --resume reads the latest run and what it did.
  EXPECT_EQ(store().LatestRun().value(), run);
  auto r = store().LoadRun(run);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, "");
  auto done = store().LoadAttempts(run, true);
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0].test_path, "a:two");
  // The resumed run records the rest in the same run.
  ASSERT_TRUE(store().RecordAttempt(run, Attempt("a:one", "FAIL")).ok());
  EXPECT_EQ(store().LoadAttempts(run).value().size(), 2u);
  EXPECT_EQ(store().LoadAttempts(old_run).value().size(), 1u);
  EXPECT_TRUE(store().LoadAttempts(99).value().empty());
}

TEST_P(StoreConformance, TheSameAttemptTwiceIsRefusedAndLeavesNothing) {
  int64_t run = store().CreateRun(ARun(0)).value();
  ASSERT_TRUE(store().RecordAttempt(run, Attempt("a:one", "PASS")).ok());
  AttemptRecord again = Attempt("a:one", "FAIL");
  again.duration_ms = 5;
  EXPECT_FALSE(store().RecordAttempt(run, again).ok());
  auto attempts = store().LoadAttempts(run);
  ASSERT_EQ(attempts.value().size(), 1u);
  EXPECT_EQ(attempts.value()[0].status, "PASS");
  EXPECT_EQ(store().LastDurations().value().at("a:one"), 1234);
  // The same test and attempt in another run is a different attempt.
  int64_t other = store().CreateRun(ARun(0)).value();
  EXPECT_TRUE(store().RecordAttempt(other, again).ok());
}

// A test listed twice once reached the store and ended the run in a UNIQUE
// constraint error: both backends refuse it up front, saying what.
TEST_P(StoreConformance, APlanNamingATestTwiceIsRefused) {
  RunRecord r = ARun(0);
  r.plan = {"a:one", "a:two", "a:one"};
  auto id = store().CreateRun(r);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(id.status().message().find("the plan names a:one twice"), std::string::npos) << id.status().message();
  EXPECT_EQ(store().LatestRun().status().code(), Status::Code::kNotFound);  // nothing was created
}

TEST_P(StoreConformance, TheSameAttemptTwiceSaysSoInEitherBackend) {
  int64_t run = store().CreateRun(ARun(0)).value();
  ASSERT_TRUE(store().RecordAttempt(run, Attempt("a:one", "PASS")).ok());
  Status again = store().RecordAttempt(run, Attempt("a:one", "PASS"));
  EXPECT_EQ(again.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(again.message(), "attempt 1 of a:one is recorded already");
}

TEST_P(StoreConformance, WritesToWhatDoesNotExistAreRefused) {
  EXPECT_FALSE(store().CreateRun(ARun(5)).ok());
  EXPECT_FALSE(store().RecordAttempt(3, Attempt("a:one", "PASS")).ok());
  EXPECT_FALSE(store().RecordBisectRun(4, BisectRunRecord{}).ok());
  // Updates of nothing change nothing.
  EXPECT_TRUE(store().FinishRun(3, "PASS", "x").ok());
  EXPECT_TRUE(store().SetConsoleLog(3, "x").ok());
  EXPECT_TRUE(store().SetRunVm(3, "x").ok());
  EXPECT_TRUE(store().FinishBisection(4, "done", "{}", "x").ok());
  EXPECT_EQ(store().LatestRun().status().code(), Status::Code::kNotFound);
}

TEST_P(StoreConformance, NotFoundSaysWhat) {
  auto latest = store().LatestRun();
  ASSERT_FALSE(latest.ok());
  EXPECT_EQ(latest.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(latest.status().message(), "no runs in the database");
  EXPECT_EQ(store().LoadRun(42).status().message(), "no run 42");
  EXPECT_EQ(store().LoadRun(42).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store().LoadConsoleLog(42).status().message(), "no run 42");
  EXPECT_EQ(store().LoadEnvironment(7).status().message(), "no environment 7");
  EXPECT_EQ(store().LoadBisection(3).status().message(), "no bisection 3");
  EXPECT_EQ(store().ActiveBisection("/r").status().message(), "no bisection in progress");
  EXPECT_EQ(store().LatestBisection("/r").status().code(), Status::Code::kNotFound);
  EXPECT_TRUE(store().ListRuns().value().empty());
  EXPECT_TRUE(store().ListEnvironments().value().empty());
  EXPECT_TRUE(store().LastDurations().value().empty());
  EXPECT_TRUE(store().LoadBisectRuns(1).value().empty());
}

TEST_P(StoreConformance, LastDurationsTakesTheLatestAttemptOfEachTest) {
  int64_t r1 = store().CreateRun(ARun(0)).value();
  AttemptRecord a = Attempt("a:one", "FAIL");
  a.duration_ms = 10;
  ASSERT_TRUE(store().RecordAttempt(r1, a).ok());
  a.attempt = 2;
  a.duration_ms = 20;
  ASSERT_TRUE(store().RecordAttempt(r1, a).ok());
  AttemptRecord b = Attempt("a:two", "PASS");
  b.duration_ms = 5;
  ASSERT_TRUE(store().RecordAttempt(r1, b).ok());
  int64_t r2 = store().CreateRun(ARun(0)).value();
  a.attempt = 1;
  a.duration_ms = 30;
  ASSERT_TRUE(store().RecordAttempt(r2, a).ok());
  auto d = store().LastDurations();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, (std::map<std::string, int64_t>{{"a:one", 30}, {"a:two", 5}}));
}

TEST_P(StoreConformance, ListRunsWindows) {
  int64_t host = store().EnsureEnvironment(Env("6.1.0")).value();
  int64_t vm = store().EnsureEnvironment(Env("6.12.1", "vm")).value();
  // Runs 1..7 in environments: host, vm, none, host, vm, host, none.
  for (int64_t e : {host, vm, int64_t{0}, host, vm, host, int64_t{0}}) ASSERT_TRUE(store().CreateRun(ARun(e)).ok());
  EXPECT_EQ(Ids(store().ListRuns()), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(Ids(store().ListRuns(Query(4, 0))), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Ids(store().ListRuns(Query(0, 3))), (std::vector<int64_t>{5, 6, 7}));
  EXPECT_EQ(Ids(store().ListRuns(Query(5, 2))), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(Ids(store().ListRuns(Query(0, 100))), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(Ids(store().ListRuns(Query(0, 0, std::vector<int64_t>{host}))),
            (std::vector<int64_t>{1, 4, 6}));
  EXPECT_EQ(Ids(store().ListRuns(Query(0, 0, std::vector<int64_t>{0}))), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(Ids(store().ListRuns(Query(6, 2, std::vector<int64_t>{0, vm}))),
            (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(Ids(store().ListRuns(Query(0, 0, std::vector<int64_t>{}))), std::vector<int64_t>{});
  EXPECT_EQ(Ids(store().ListRuns(Query(0, 0, std::vector<int64_t>{99}))), std::vector<int64_t>{});
  auto runs = store().ListRuns(Query(0, 1));
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->front().plan, ARun(0).plan);
  EXPECT_EQ(runs->front().environment_id, 0);
}

TEST_P(StoreConformance, ListRunsPagesFiltersByStatusAndIdsAndCounts) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  // Runs 1..6: PASS, FAIL, running, PASS, interrupted, FAIL.
  const char* statuses[] = {"PASS", "FAIL", "", "PASS", "interrupted", "FAIL"};
  for (const char* st : statuses) {
    int64_t id = store().CreateRun(ARun(env)).value();
    if (*st) {
      ASSERT_TRUE(store().FinishRun(id, st, "2026-11-25T11:00:00Z").ok());
    }
  }
  RunQuery q;
  q.newest = 2;
  EXPECT_EQ(Ids(store().ListRuns(q)), (std::vector<int64_t>{5, 6}));
  q.skip = 2;
  EXPECT_EQ(Ids(store().ListRuns(q)), (std::vector<int64_t>{3, 4}));
  q.skip = 5;
  EXPECT_EQ(Ids(store().ListRuns(q)), (std::vector<int64_t>{1}));
  q.skip = 6;
  EXPECT_EQ(Ids(store().ListRuns(q)), std::vector<int64_t>{});
  EXPECT_EQ(store().CountRuns(q).value(), 6);
  RunQuery f;
  f.statuses = std::vector<std::string>{"FAIL", ""};
  EXPECT_EQ(Ids(store().ListRuns(f)), (std::vector<int64_t>{2, 3, 6}));
  EXPECT_EQ(store().CountRuns(f).value(), 3);
  f.exclude = {2};
  EXPECT_EQ(Ids(store().ListRuns(f)), (std::vector<int64_t>{3, 6}));
  f.ids = std::vector<int64_t>{1, 6};
  EXPECT_EQ(Ids(store().ListRuns(f)), (std::vector<int64_t>{6}));
  EXPECT_EQ(store().CountRuns(f).value(), 1);
  f.newest = 1;
  f.skip = 1;
  EXPECT_EQ(Ids(store().ListRuns(f)), std::vector<int64_t>{});
  RunQuery none;
  none.ids = std::vector<int64_t>{};
  EXPECT_EQ(store().CountRuns(none).value(), 0);
  none.ids.reset();
  none.statuses = std::vector<std::string>{};
  EXPECT_EQ(store().CountRuns(none).value(), 0);
}

TEST_P(StoreConformance, AttemptBriefsCountWithoutLoadingOutput) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  int64_t r1 = store().CreateRun(ARun(env)).value();
  int64_t r2 = store().CreateRun(ARun(env)).value();
  AttemptRecord crashed = Attempt("a:two", "FAIL");
  crashed.crashes = {{"WARNING", "WARNING in foo", false, "fp1", "foo", "text"},
                     {"BUG", "BUG: x", true, "fp2", "x", "text2"}};
  ASSERT_TRUE(store().RecordAttempt(r1, Attempt("a:one", "PASS")).ok());
  ASSERT_TRUE(store().RecordAttempt(r1, crashed).ok());
  ASSERT_TRUE(store().RecordAttempt(r2, Attempt("a:two", "FAIL")).ok());
  ASSERT_TRUE(store().RecordAttempt(r2, Attempt("a:two", "PASS", 2)).ok());
  auto b = store().LoadAttemptBriefs({r2, r1, 99});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->size(), 4u);
  EXPECT_EQ((*b)[0].run_id, r2);
  EXPECT_EQ((*b)[0].status, "FAIL");
  EXPECT_EQ((*b)[1].attempt, 2);
  EXPECT_EQ((*b)[2].test_path, "a:one");
  EXPECT_EQ((*b)[2].crashes, 0);
  EXPECT_EQ((*b)[3].crashes, 2);
  EXPECT_EQ((*b)[3].duration_ms, 1234);
  EXPECT_TRUE(store().LoadAttemptBriefs({}).value().empty());
}

TEST_P(StoreConformance, TestSummariesFoldTheAttemptsOfEachTest) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  int64_t r1 = store().CreateRun(ARun(env)).value();
  int64_t r2 = store().CreateRun(ARun(env)).value();
  // r1: b:two failed, then passed on a retry whose subtests pass (and a new
  // one); a:one passed with a kernel report; c:cut was interrupted only.
  AttemptRecord crashed = Attempt("a:one", "PASS");
  crashed.crashes = {{"WARNING", "WARNING in foo", false, "fp1", "foo", "text"}};
  crashed.duration_ms = 50;
  ASSERT_TRUE(store().RecordAttempt(r1, Attempt("b:two", "FAIL")).ok());
  ASSERT_TRUE(store().RecordAttempt(r1, crashed).ok());
  AttemptRecord cut = Attempt("c:cut", "ERROR");
  cut.interrupted = true;
  ASSERT_TRUE(store().RecordAttempt(r1, cut).ok());
  AttemptRecord retry = Attempt("b:two", "PASS", 2);
  retry.subtests = {{"group > inner", "PASS", 7}, {"late", "SKIP", -3}};
  retry.duration_ms = 99;
  ASSERT_TRUE(store().RecordAttempt(r1, retry).ok());
  // r2: b:two fails twice; an interrupted third attempt changes nothing.
  ASSERT_TRUE(store().RecordAttempt(r2, Attempt("b:two", "FAIL")).ok());
  ASSERT_TRUE(store().RecordAttempt(r2, Attempt("b:two", "TIMEOUT", 2)).ok());
  AttemptRecord third = Attempt("b:two", "PASS", 3);
  third.interrupted = true;
  ASSERT_TRUE(store().RecordAttempt(r2, third).ok());

  auto s = store().LoadTestSummaries({r2, 99, r1});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 3u);  // by run as asked, then by path; c:cut has no result
  const model::TestSummary& later = (*s)[0];
  EXPECT_EQ(later.run_id, r2);
  EXPECT_EQ(later.status, "TIMEOUT");
  EXPECT_EQ(later.attempts, 2);
  auto later_subs = model::UnpackSubtests(later.subtests);
  ASSERT_EQ(later_subs.size(), 2u);
  EXPECT_EQ(later_subs[1].status, "FAIL");
  const model::TestSummary& one = (*s)[1];
  EXPECT_EQ(one.run_id, r1);
  EXPECT_EQ(one.test_path, "a:one");
  EXPECT_EQ(one.status, "PASS");
  EXPECT_EQ(one.crashes, 1);
  EXPECT_EQ(one.duration_ms, 50);
  const model::TestSummary& two = (*s)[2];
  EXPECT_EQ(two.test_path, "b:two");
  EXPECT_EQ(two.status, "FLAKY");
  EXPECT_EQ(two.attempts, 2);
  EXPECT_EQ(two.duration_ms, 99);
  EXPECT_EQ(two.crashes, 0);
  auto subs = model::UnpackSubtests(two.subtests);
  ASSERT_EQ(subs.size(), 3u);
  EXPECT_EQ(subs[0].path, "first");
  EXPECT_EQ(subs[0].status, "PASS");
  EXPECT_EQ(subs[0].duration_ms, 4);
  EXPECT_EQ(subs[1].path, "group > inner");
  EXPECT_EQ(subs[1].status, "FLAKY");  // failed in the first attempt, passed in the retry
  EXPECT_FALSE(subs[1].duration_ms.has_value());  // the first one's
  EXPECT_EQ(subs[2].path, "late");
  EXPECT_EQ(subs[2].status, "SKIP");
  EXPECT_EQ(subs[2].duration_ms, -3);
  // What LoadAttempts gives, folded, is the same.
  auto attempts = store().LoadAttempts(r1);
  std::vector<AttemptRecord> of_two;
  for (const auto& a : attempts.value()) {
    if (a.test_path == "b:two") of_two.push_back(a);
  }
  EXPECT_EQ(model::SummarizeTest(r1, "b:two", of_two).subtests, two.subtests);
  // Resuming drops the interrupted attempts; the summaries stay.
  ASSERT_TRUE(store().DiscardInterrupted(r2).ok());
  ASSERT_TRUE(store().DiscardInterrupted(r1).ok());
  EXPECT_EQ(store().LoadTestSummaries({r2}).value()[0].status, "TIMEOUT");
  ASSERT_TRUE(store().RecordAttempt(r1, Attempt("c:cut", "PASS")).ok());
  auto resumed = store().LoadTestSummaries({r1});
  ASSERT_EQ(resumed->size(), 3u);
  EXPECT_EQ((*resumed)[2].test_path, "c:cut");
  EXPECT_EQ((*resumed)[2].status, "PASS");
  EXPECT_TRUE(store().LoadTestSummaries({}).value().empty());
}

TEST_P(StoreConformance, ATestsAttemptsComeFromItsNewestRunsOldestFirst) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  for (int i = 0; i < 4; ++i) {
    int64_t id = store().CreateRun(ARun(env)).value();
    ASSERT_TRUE(store().RecordAttempt(id, Attempt("a:one", "PASS")).ok());
    if (i != 2) {
      ASSERT_TRUE(store().RecordAttempt(id, Attempt("a:two", i == 3 ? "FAIL" : "PASS")).ok());
    }
    if (i == 3) {
      ASSERT_TRUE(store().RecordAttempt(id, Attempt("a:two", "PASS", 2)).ok());
    }
  }
  auto h = store().LoadTestAttempts("a:two", 2);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->size(), 3u);  // runs 2 and 4 (run 3 did not run it), two attempts in run 4
  EXPECT_EQ((*h)[0].run_id, 2);
  EXPECT_EQ((*h)[1].run_id, 4);
  EXPECT_EQ((*h)[1].attempt.status, "FAIL");
  EXPECT_EQ((*h)[2].attempt.attempt, 2);
  EXPECT_EQ((*h)[1].attempt.subtests.size(), 2u);
  EXPECT_EQ((*h)[1].attempt.subtests[1].path, "group > inner");
  EXPECT_TRUE((*h)[1].attempt.output.empty());
  EXPECT_EQ(store().LoadTestAttempts("a:two", 0).value().size(), 4u);
  auto upto = store().LoadTestAttempts("a:two", 1, 3);
  ASSERT_EQ(upto->size(), 1u);
  EXPECT_EQ(upto->front().run_id, 2);
  EXPECT_TRUE(store().LoadTestAttempts("a:nothing", 5).value().empty());
}

TEST_P(StoreConformance, CrashSightingsListEveryReportAndTextsLoadOneByOne) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  int64_t r1 = store().CreateRun(ARun(env)).value();
  int64_t r2 = store().CreateRun(ARun(env)).value();
  AttemptRecord a = Attempt("a:one", "FAIL");
  a.crashes = {{"WARNING", "WARNING in foo", false, "fp1", "foo", "first text"}};
  AttemptRecord b = Attempt("a:two", "CRASH");
  b.crashes = {{"WARNING", "WARNING in foo", false, "fp1", "foo", "second text"},
               {"BUG", "BUG: x", true, "fp2", "x", std::string("bytes\0\xff", 7)}};
  ASSERT_TRUE(store().RecordAttempt(r1, a).ok());
  ASSERT_TRUE(store().RecordAttempt(r2, b).ok());
  auto s = store().ListCrashSightings();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].run_id, r1);
  EXPECT_EQ((*s)[0].test_path, "a:one");
  EXPECT_EQ((*s)[1].crash.fingerprint, "fp1");
  EXPECT_EQ((*s)[2].crash.title, "BUG: x");
  EXPECT_TRUE((*s)[2].crash.fatal);
  EXPECT_TRUE((*s)[2].crash.text.empty());
  EXPECT_EQ(store().LoadCrashText((*s)[1].id).value(), "second text");
  EXPECT_EQ(store().LoadCrashText((*s)[2].id).value(), std::string("bytes\0\xff", 7));
  EXPECT_EQ(store().LoadCrashText(999).status().code(), Status::Code::kNotFound);
}

TEST_P(StoreConformance, BisectionsAndTheirRuns) {
  BisectionRecord b;
  b.repo = "/r";
  b.good = "aaaa";
  b.bad = "bbbb";
  b.options_json = R"({"cmd":"make"})";
  b.status = "running";
  b.result_json = "ignored";  // set by FinishBisection only
  b.finished_at = "ignored";
  b.started_at = "2026-11-25T10:00:00Z";
  int64_t first = store().CreateBisection(b).value();
  auto loaded = store().LoadBisection(first);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->id, first);
  EXPECT_EQ(loaded->repo, "/r");
  EXPECT_EQ(loaded->good, "aaaa");
  EXPECT_EQ(loaded->bad, "bbbb");
  EXPECT_EQ(loaded->options_json, b.options_json);
  EXPECT_EQ(loaded->status, "running");
  EXPECT_EQ(loaded->result_json, "");
  EXPECT_EQ(loaded->finished_at, "");
  EXPECT_EQ(loaded->started_at, b.started_at);
  EXPECT_EQ(store().ActiveBisection("/r").value().id, first);
  EXPECT_EQ(store().ActiveBisection("/other").status().code(), Status::Code::kNotFound);

  ASSERT_TRUE(store().RecordBisectRun(first, {3, "cccc", "fail", 1, 500, "t1"}).ok());
  ASSERT_TRUE(store().RecordBisectRun(first, {1, "dddd", "pass", std::nullopt, 400, "t2"}).ok());
  auto runs = store().LoadBisectRuns(first);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].position, 3);
  EXPECT_EQ((*runs)[0].commit, "cccc");
  EXPECT_EQ((*runs)[0].outcome, "fail");
  EXPECT_EQ((*runs)[0].exit_code, 1);
  EXPECT_EQ((*runs)[0].duration_ms, 500);
  EXPECT_EQ((*runs)[0].at, "t1");
  EXPECT_FALSE((*runs)[1].exit_code.has_value());

  ASSERT_TRUE(store().FinishBisection(first, "done", R"({"first_bad":"cccc"})", "t3").ok());
  EXPECT_EQ(store().ActiveBisection("/r").status().message(), "no bisection in progress");
  auto latest = store().LatestBisection("/r");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->status, "done");
  EXPECT_EQ(latest->result_json, R"({"first_bad":"cccc"})");
  EXPECT_EQ(latest->finished_at, "t3");

  // The newest of several: an older one still running is the active one.
  int64_t second = store().CreateBisection(b).value();
  int64_t third = store().CreateBisection(b).value();
  ASSERT_TRUE(store().FinishBisection(third, "aborted", "", "t4").ok());
  EXPECT_EQ(store().ActiveBisection("/r").value().id, second);
  EXPECT_EQ(store().LatestBisection("/r").value().id, third);
  EXPECT_TRUE(store().LoadBisectRuns(second).value().empty());
}

TEST_P(StoreConformance, AttemptsFromSeveralThreadsAreAllKept) {
  int64_t run = store().CreateRun(ARun(0)).value();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (!store().RecordAttempt(run, Attempt(fmt::format("c:t{}-{}", t, i), "PASS")).ok()) ++failures;
        if (!store().LoadRun(run).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store().LoadAttempts(run).value().size(), 100u);
  EXPECT_EQ(store().LastDurations().value().size(), 100u);
}

TEST_P(StoreConformance, ABuildAndItsDiagnosticsReadBackExactlyNonUtf8BytesIncluded) {
  BuildRecord b = ABuild("/src/li\xffnux", "debug", "failed");
  b.id = 77;  // ignored
  std::vector<BuildDiagnosticRecord> diags = {ADiagnostic(0), ADiagnostic(1), ADiagnostic(4)};
  static const char kNul[] = "a NUL \0 inside, then \xc3\x28";
  diags[1].message = std::string(kNul, sizeof kNul - 1);
  diags[2].line = 0;  // none
  diags[2].column = 0;
  diags[2].notes = {"", "\xff"};
  auto id = store().RecordBuild(b, diags);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id.value(), 1);

  auto loaded = store().LoadBuild(1);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->id, 1);
  ExpectSameBuild(*loaded, b);
  auto got = store().LoadBuildDiagnostics(1);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), diags.size());
  for (size_t i = 0; i < diags.size(); ++i) {
    SCOPED_TRACE(i);
    ExpectSameDiagnostic((*got)[i], diags[i]);
  }
  EXPECT_EQ((*got)[1].message.size(), sizeof kNul - 1);
  // ListBuilds gives the same record.
  auto listed = store().ListBuilds(BuildQuery{});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, 1);
  ExpectSameBuild(listed->front(), b);
}

TEST_P(StoreConformance, TenThousandDiagnosticsComeBackInTheOrderRecorded) {
  std::vector<BuildDiagnosticRecord> diags;
  for (int i = 0; i < 10000; ++i) diags.push_back(ADiagnostic(i));
  // Not in file or line order: the order recorded is the order read.
  std::swap(diags[0], diags[9999]);
  int64_t id = store().RecordBuild(ABuild(), diags).value();
  int64_t other = store().RecordBuild(ABuild(), {ADiagnostic(42)}).value();
  auto got = store().LoadBuildDiagnostics(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 10000u);
  for (size_t i = 0; i < diags.size(); ++i) {
    const BuildDiagnosticRecord& d = (*got)[i];
    if (d.line != diags[i].line || d.message != diags[i].message || d.file != diags[i].file ||
        d.notes != diags[i].notes) {
      ADD_FAILURE() << "diagnostic " << i << " differs";
      break;
    }
  }
  EXPECT_EQ(got->front().line, 10000);
  EXPECT_EQ(got->back().line, 1);
  ASSERT_EQ(store().LoadBuildDiagnostics(other).value().size(), 1u);
  EXPECT_EQ(store().LoadBuildDiagnostics(other).value()[0].line, 43);
}

TEST_P(StoreConformance, ABuildWithoutDiagnosticsHasAnEmptyList) {
  BuildRecord b = ABuild();
  b.collections.clear();
  b.config_mismatches.clear();
  b.warnings = 0;
  b.errors = 0;
  b.diagnostics_dropped = 0;
  b.dirty = false;
  b.commit = "";  // outside git
  b.describe = "";
  int64_t id = store().RecordBuild(b, {}).value();
  auto diags = store().LoadBuildDiagnostics(id);
  ASSERT_TRUE(diags.ok()) << diags.status().ToString();
  EXPECT_TRUE(diags->empty());
  auto loaded = store().LoadBuild(id);
  ASSERT_TRUE(loaded.ok());
  ExpectSameBuild(*loaded, b);
  EXPECT_FALSE(loaded->dirty);
  EXPECT_TRUE(loaded->collections.empty());
}

TEST_P(StoreConformance, ListBuildsFiltersAndGivesTheNewestFirst) {
  // Builds 1..8: tree, variant, status.
  const std::vector<std::tuple<std::string, std::string, std::string>> made = {
      {"/a", "normal", "built"}, {"/a", "debug", "failed"}, {"/b", "normal", "built"},
      {"/a", "normal", "failed"}, {"/a", "debug", "built"}, {"/b", "debug", "interrupted"},
      {"/a", "normal", "built"}, {"/a\xff", "normal", "built"}};
  for (const auto& [tree, variant, status] : made) {
    ASSERT_TRUE(store().RecordBuild(ABuild(tree, variant, status), {}).ok());
  }
  EXPECT_EQ(BuildIds(store().ListBuilds(BuildQuery{})), (std::vector<int64_t>{8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/a", "", "", 0, 0))), (std::vector<int64_t>{7, 5, 4, 2, 1}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("", "debug", "", 0, 0))), (std::vector<int64_t>{6, 5, 2}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("", "", "failed", 0, 0))), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/a", "normal", "", 0, 0))), (std::vector<int64_t>{7, 4, 1}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/a", "normal", "built", 0, 0))), (std::vector<int64_t>{7, 1}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/a\xff", "", "", 0, 0))), (std::vector<int64_t>{8}));
  // newest counts what the filters keep; before bounds the ids, exclusive.
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("", "", "", 0, 3))), (std::vector<int64_t>{8, 7, 6}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/a", "", "", 0, 2))), (std::vector<int64_t>{7, 5}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("", "", "", 5, 0))), (std::vector<int64_t>{4, 3, 2, 1}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/a", "", "", 5, 2))), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/a", "normal", "failed", 4, 0))), std::vector<int64_t>{});
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("", "", "", 1, 0))), std::vector<int64_t>{});
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("", "", "", 100, 100))),
            (std::vector<int64_t>{8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/c", "", "", 0, 0))), std::vector<int64_t>{});
  // A filter is an exact match, not a prefix.
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("/", "", "", 0, 0))), std::vector<int64_t>{});
  EXPECT_EQ(BuildIds(store().ListBuilds(Builds("", "norm", "", 0, 0))), std::vector<int64_t>{});
}

TEST_P(StoreConformance, MissingBuildsAreNotFoundByNumber) {
  EXPECT_TRUE(store().ListBuilds(BuildQuery{}).value().empty());
  auto none = store().LoadBuild(3);
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(none.status().message(), "no build 3");
  auto diags = store().LoadBuildDiagnostics(3);
  EXPECT_EQ(diags.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(diags.status().message(), "no build 3");
  ASSERT_EQ(store().RecordBuild(ABuild(), {}).value(), 1);
  EXPECT_EQ(store().LoadBuild(2).status().message(), "no build 2");
  EXPECT_EQ(store().LoadBuild(0).status().message(), "no build 0");
  EXPECT_EQ(store().LoadBuildDiagnostics(-1).status().message(), "no build -1");
  EXPECT_TRUE(store().LoadBuild(1).ok());
}

TEST_P(StoreConformance, RunsKeepTheBuildTheyBooted) {
  int64_t build = store().RecordBuild(ABuild(), {ADiagnostic(1)}).value();
  RunRecord booted = ARun(0);
  booted.build_id = build;
  int64_t with = store().CreateRun(booted).value();
  int64_t without = store().CreateRun(ARun(0)).value();
  RunRecord negative = ARun(0);
  negative.build_id = -4;  // none
  int64_t neg = store().CreateRun(negative).value();
  EXPECT_EQ(store().LoadRun(with).value().build_id, build);
  EXPECT_EQ(store().LoadRun(without).value().build_id, 0);
  EXPECT_EQ(store().LoadRun(neg).value().build_id, 0);
  auto runs = store().ListRuns();
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[0].build_id, build);
  EXPECT_EQ((*runs)[1].build_id, 0);
  RunQuery by_build;
  by_build.build_id = build;
  EXPECT_EQ(Ids(store().ListRuns(by_build)), std::vector<int64_t>{with});
  by_build.build_id = 99;
  EXPECT_EQ(Ids(store().ListRuns(by_build)), std::vector<int64_t>{});
  // Finishing and claiming keep it.
  ASSERT_TRUE(store().FinishRun(with, "PASS", "t").ok());
  ASSERT_TRUE(store().ClaimRun(with, "", "h 1 2").value());
  EXPECT_EQ(store().LoadRun(with).value().build_id, build);
  // A build never recorded is refused, as an unknown environment is.
  RunRecord unknown = ARun(0);
  unknown.build_id = 99;
  EXPECT_FALSE(store().CreateRun(unknown).ok());
  EXPECT_EQ(store().LatestRun().value(), neg);
}

// The patch loop's memory.

TEST_P(StoreConformance, AcceptedEventsMoveTheCursorOnlyForward) {
  EXPECT_EQ(store().WatchCursor(kPw).value(), "");
  EXPECT_FALSE(store().EventAccepted(kPw, 7).value());
  EXPECT_EQ(store().AcceptEvent(kPw, 7, "2026-12-05T01:00:00.123456", std::nullopt).value(), 0);
  EXPECT_EQ(store().WatchCursor(kPw).value(), "2026-12-05T01:00:00.123456");
  // An older event, seen late, is accepted but leaves the cursor.
  EXPECT_EQ(store().AcceptEvent(kPw, 5, "2026-12-04T23:59:59", std::nullopt).value(), 0);
  EXPECT_EQ(store().WatchCursor(kPw).value(), "2026-12-05T01:00:00.123456");
  EXPECT_EQ(store().AcceptEvent(kPw, 9, "2026-12-05T01:00:01", std::nullopt).value(), 0);
  EXPECT_EQ(store().WatchCursor(kPw).value(), "2026-12-05T01:00:01");
  for (int64_t e : {5, 7, 9}) EXPECT_TRUE(store().EventAccepted(kPw, e).value()) << e;
  EXPECT_FALSE(store().EventAccepted(kPw, 8).value());
  // Sources are apart: the same event id elsewhere is another event.
  const std::string other = "https://patchwork.example.org/api#linux-kselftest";
  EXPECT_FALSE(store().EventAccepted(other, 7).value());
  EXPECT_EQ(store().WatchCursor(other).value(), "");
  // A first poll's start is kept where there is no cursor, and only there.
  const std::string third = "http://pw3#net";
  ASSERT_TRUE(store().StartWatchCursor(third, "2019-06-01T00:00:00").ok());
  EXPECT_EQ(store().WatchCursor(third).value(), "2019-06-01T00:00:00");
  ASSERT_TRUE(store().StartWatchCursor(third, "2030-01-01T00:00:00").ok());
  EXPECT_EQ(store().WatchCursor(third).value(), "2019-06-01T00:00:00");
  ASSERT_TRUE(store().StartWatchCursor(kPw, "2030-01-01T00:00:00").ok());
  EXPECT_EQ(store().WatchCursor(kPw).value(), "2026-12-05T01:00:01");
  EXPECT_EQ(store().AcceptEvent(other, 7, "2020-01-01T00:00:00", std::nullopt).value(), 0);
  EXPECT_EQ(store().WatchCursor(other).value(), "2020-01-01T00:00:00");
  EXPECT_EQ(store().WatchCursor(kPw).value(), "2026-12-05T01:00:01");
}

TEST_P(StoreConformance, AnEventAcceptedTwiceIsRefusedAndQueuesNothing) {
  auto first = store().AcceptEvent(kPw, 42, "2026-12-05T01:00:00", ASeries(1001));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 1);
  auto again = store().AcceptEvent(kPw, 42, "2026-12-06T00:00:00", ASeries(1001));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(again.status().message(), fmt::format("event 42 of {} was accepted already", kPw));
  // Nothing of the refused one: no second round, the cursor where it was.
  EXPECT_EQ(SeriesIds(store().ListSeries(SeriesQuery{})), std::vector<int64_t>{1});
  EXPECT_EQ(store().FindSeries(kPw, 1001).value().round, 1);
  EXPECT_EQ(store().WatchCursor(kPw).value(), "2026-12-05T01:00:00");
  // Nor without a series to queue.
  EXPECT_FALSE(store().AcceptEvent(kPw, 42, "2026-12-07T00:00:00", std::nullopt).ok());
  EXPECT_EQ(store().WatchCursor(kPw).value(), "2026-12-05T01:00:00");
}

TEST_P(StoreConformance, RunOriginsComeFromWhatEachSeriesResultNames) {
  // Series 1 tested run 3 against base run 1 (and, as a variant, run 4
  // against 1); series 2 used run 1 as its base too and tested run 5; a
  // branch tested run 6; series 4 names nothing yet.
  SeriesRecord a = ASeries(101);
  a.result_json = R"({"run":3,"base_run":1,"variants":[{"name":"debug","run":4,"base_run":1}]})";
  int64_t ia = store().QueueSeries(a).value();
  SeriesRecord b = ASeries(102);
  int64_t ib = store().QueueSeries(b).value();
  b.id = ib;
  b.state = "done";
  b.result_json = R"({"run":5,"base_run":1})";
  ASSERT_TRUE(store().UpdateSeries(b).ok());
  SeriesRecord c = ASeries(0, "branch:/srv/linux");
  c.result_json = R"({"run":6})";
  int64_t ic = store().QueueSeries(c).value();
  ASSERT_TRUE(store().QueueSeries(ASeries(104)).ok());

  auto o = store().LoadRunOrigins({1, 2, 3, 4, 5, 6});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->size(), 5u);
  EXPECT_FALSE(o->count(2));
  // A base of two series: the one that made it (the oldest).
  EXPECT_EQ(o->at(1).series, ia);
  EXPECT_EQ(o->at(1).role, "base");
  EXPECT_EQ(o->at(1).kind, "series");
  EXPECT_EQ(o->at(1).name, a.name);
  EXPECT_EQ(o->at(3).role, "tested");
  EXPECT_EQ(o->at(4).series, ia);
  EXPECT_EQ(o->at(4).role, "tested");
  EXPECT_EQ(o->at(5).series, ib);
  EXPECT_EQ(o->at(6).kind, "branch");
  EXPECT_EQ(o->at(6).series, ic);
  EXPECT_EQ(store().ListRunsWithOrigin("").value(), (std::vector<int64_t>{1, 3, 4, 5, 6}));
  EXPECT_EQ(store().ListRunsWithOrigin("series").value(), (std::vector<int64_t>{1, 3, 4, 5}));
  EXPECT_EQ(store().ListRunsWithOrigin("branch").value(), std::vector<int64_t>{6});

  // A later result replaces what the series named; a run it tested wins
  // over the same run as another series' base.
  b.result_json = R"({"run":1})";
  ASSERT_TRUE(store().UpdateSeries(b).ok());
  o = store().LoadRunOrigins({1, 5});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->size(), 1u);
  EXPECT_EQ(o->at(1).series, ib);
  EXPECT_EQ(o->at(1).role, "tested");
  EXPECT_EQ(store().ListRunsWithOrigin("series").value(), (std::vector<int64_t>{1, 3, 4}));
  // A run a branch tested and a series used as its base is the branch's,
  // in the list as on its page.
  c.id = ic;
  c.result_json = R"({"run":6,"base_run":3})";
  ASSERT_TRUE(store().UpdateSeries(c).ok());
  EXPECT_EQ(store().LoadRunOrigins({3}).value().at(3).kind, "series");
  EXPECT_EQ(store().ListRunsWithOrigin("branch").value(), std::vector<int64_t>{6});
  b.result_json = R"({"run":7,"base_run":6})";
  ASSERT_TRUE(store().UpdateSeries(b).ok());
  EXPECT_EQ(store().LoadRunOrigins({6}).value().at(6).kind, "branch");
  EXPECT_EQ(store().ListRunsWithOrigin("series").value(), (std::vector<int64_t>{1, 3, 4, 7}));
  EXPECT_EQ(store().ListRunsWithOrigin("branch").value(), std::vector<int64_t>{6});
}

TEST_P(StoreConformance, AnEventWhoseSeriesIsRefusedStaysUnaccepted) {
  auto bad = store().AcceptEvent(kPw, 3, "2026-12-05T01:00:00", ASeries(77, kPw, "running"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unknown series state 'running'");
  EXPECT_FALSE(store().EventAccepted(kPw, 3).value());
  EXPECT_EQ(store().WatchCursor(kPw).value(), "");
  EXPECT_TRUE(store().ListSeries(SeriesQuery{}).value().empty());
  // The event can still be accepted, and its series is round 1.
  int64_t id = store().AcceptEvent(kPw, 3, "2026-12-05T01:00:00", ASeries(77)).value();
  EXPECT_EQ(store().LoadSeries(id).value().round, 1);
}

TEST_P(StoreConformance, EachQueueingOfASeriesIsItsNextRound) {
  SeriesRecord s = ASeries(500);
  s.round = 9;  // ignored
  s.id = 99;    // ignored
  int64_t a = store().AcceptEvent(kPw, 1, "2026-12-05T01:00:00", s).value();
  int64_t b = store().QueueSeries(ASeries(500)).value();  // --retest
  int64_t other = store().QueueSeries(ASeries(501)).value();
  int64_t elsewhere = store().QueueSeries(ASeries(500, "https://pw.example.org/api#other")).value();
  int64_t c = store().AcceptEvent(kPw, 2, "2026-12-05T02:00:00", ASeries(500)).value();
  EXPECT_EQ((std::vector<int64_t>{a, b, other, elsewhere, c}), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(store().LoadSeries(a).value().round, 1);
  EXPECT_EQ(store().LoadSeries(b).value().round, 2);
  EXPECT_EQ(store().LoadSeries(c).value().round, 3);
  EXPECT_EQ(store().LoadSeries(other).value().round, 1);
  EXPECT_EQ(store().LoadSeries(elsewhere).value().round, 1);
  auto found = store().FindSeries(kPw, 500);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, c);
  EXPECT_EQ(found->round, 3);
  ExpectSameSeries(*found, ASeries(500));
  // Branches (series id 0) count rounds per repository.
  EXPECT_EQ(store().LoadSeries(store().QueueSeries(ASeries(0, "branch:/src/linux")).value()).value().round,
            1);
  EXPECT_EQ(store().LoadSeries(store().QueueSeries(ASeries(0, "branch:/src/linux")).value()).value().round,
            2);
  EXPECT_EQ(store().LoadSeries(store().QueueSeries(ASeries(0, "branch:/src/other")).value()).value().round,
            1);

  auto none = store().FindSeries(kPw, 502);
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(none.status().message(), fmt::format("no series 502 of {}", kPw));
  EXPECT_EQ(store().LoadSeries(99).status().message(), "no series 99");
  EXPECT_EQ(store().QueueSeries(ASeries(1, kPw, "")).status().code(), Status::Code::kInvalidArgument);
}

TEST_P(StoreConformance, UpdateSeriesSetsWhatTheLoopLearnsAndNothingElse) {
  int64_t id = store().QueueSeries(ASeries(600)).value();
  SeriesRecord u = store().LoadSeries(id).value();
  u.state = "done";
  u.tree = "net-next";
  u.base_commit = std::string(40, 'a');
  u.head_commit = std::string(40, 'b');
  u.conclusion = "fail: 1 subtest newly failing";
  u.result_json = R"({"contexts":{"net":"fail"},"run":3,"build":2})";
  u.series_json = R"({"id":600,"patches":[{"id":11}],"refetched":true})";
  u.updated_at = "2026-12-05T03:00:00Z";
  SeriesRecord kept = u;
  u.name = "renamed";  // not the loop's to change
  u.source = "elsewhere";
  u.series_id = 1;
  u.round = 7;
  u.queued_at = "never";
  ASSERT_TRUE(store().UpdateSeries(u).ok());
  auto got = store().LoadSeries(id);
  ASSERT_TRUE(got.ok());
  ExpectSameSeries(*got, kept);
  EXPECT_EQ(got->round, 1);
  EXPECT_EQ(got->id, id);

  u.id = 404;
  Status missing = store().UpdateSeries(u);
  EXPECT_EQ(missing.code(), Status::Code::kNotFound);
  EXPECT_EQ(missing.message(), "no series 404");
  u.id = id;
  u.state = "bogus";
  EXPECT_EQ(store().UpdateSeries(u).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(store().LoadSeries(id).value().state, "done");
}

TEST_P(StoreConformance, ListSeriesFiltersBySourceAndStatesNewestFirst) {
  const std::string other = "branch:/src/linux";
  store().QueueSeries(ASeries(1, kPw, "done")).value();      // 1
  store().QueueSeries(ASeries(2, kPw, "queued")).value();    // 2
  store().QueueSeries(ASeries(0, other, "queued")).value();  // 3
  store().QueueSeries(ASeries(3, kPw, "testing")).value();   // 4
  store().QueueSeries(ASeries(4, kPw, "error")).value();     // 5
  store().QueueSeries(ASeries(0, other, "failed")).value();  // 6
  EXPECT_EQ(SeriesIds(store().ListSeries(SeriesQuery{})), (std::vector<int64_t>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(SeriesIds(store().ListSeries(Series(kPw, {}, 0))), (std::vector<int64_t>{5, 4, 2, 1}));
  EXPECT_EQ(SeriesIds(store().ListSeries(Series("", {"queued", "testing"}, 0))),
            (std::vector<int64_t>{4, 3, 2}));
  EXPECT_EQ(SeriesIds(store().ListSeries(Series(kPw, {"queued", "testing"}, 0))),
            (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(SeriesIds(store().ListSeries(Series("", {}, 2))), (std::vector<int64_t>{6, 5}));
  EXPECT_EQ(SeriesIds(store().ListSeries(Series(kPw, {"done", "queued", "failed"}, 1))),
            std::vector<int64_t>{2});
  EXPECT_TRUE(store().ListSeries(Series("nowhere", {}, 0)).value().empty());
  EXPECT_TRUE(store().ListSeries(Series("", {"unknown"}, 0)).value().empty());
}

TEST_P(StoreConformance, ChecksAreUpsertedAndComeBackByPatchPhaseAndContext) {
  int64_t s = store().QueueSeries(ASeries(700)).value();
  int64_t t = store().QueueSeries(ASeries(701)).value();
  // Recorded out of order, final before pending.
  for (const auto& c : {ACheck(s, 12, "final", "vigil-net"), ACheck(s, 11, "final", "vigil-net"),
                        ACheck(s, 12, "pending", "vigil-net"), ACheck(s, 11, "final", "vigil-bpf"),
                        ACheck(s, 11, "pending", "vigil-net"), ACheck(t, 11, "pending", "vigil-net")}) {
    Status st = store().SetSeriesCheck(c);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  EXPECT_EQ(CheckKeys(store().LoadSeriesChecks(s)),
            (std::vector<std::string>{"11/pending/vigil-net", "11/final/vigil-bpf", "11/final/vigil-net",
                                      "12/pending/vigil-net", "12/final/vigil-net"}));
  // The same key again replaces it: planned, posting, posted.
  ASSERT_TRUE(store().SetSeriesCheck(ACheck(s, 11, "final", "vigil-bpf", "posting")).ok());
  SeriesCheckRecord posted = ACheck(s, 11, "final", "vigil-bpf", "posted");
  posted.state = "fail";
  posted.description = "1 subtest newly failing";
  ASSERT_TRUE(store().SetSeriesCheck(posted).ok());
  auto checks = store().LoadSeriesChecks(s);
  ASSERT_TRUE(checks.ok());
  ASSERT_EQ(checks->size(), 5u);
  ExpectSameCheck((*checks)[1], posted);
  ExpectSameCheck((*checks)[0], ACheck(s, 11, "pending", "vigil-net"));
  EXPECT_EQ(CheckKeys(store().LoadSeriesChecks(t)), std::vector<std::string>{"11/pending/vigil-net"});
  EXPECT_TRUE(store().LoadSeriesChecks(999).value().empty());

  Status unknown = store().SetSeriesCheck(ACheck(999, 1, "final", "x"));
  EXPECT_EQ(unknown.code(), Status::Code::kNotFound);
  EXPECT_EQ(unknown.message(), "no series 999");
  EXPECT_EQ(store().SetSeriesCheck(ACheck(s, 1, "early", "x")).message(), "unknown check phase 'early'");
  EXPECT_EQ(store().SetSeriesCheck(ACheck(s, 1, "final", "x", "sent")).message(),
            "unknown check status 'sent'");
  EXPECT_EQ(store().LoadSeriesChecks(s).value().size(), 5u);
}

TEST_P(StoreConformance, TheMailOfASeriesIsUpsertedAndNotFoundBeforeIt) {
  int64_t s = store().QueueSeries(ASeries(800)).value();
  auto none = store().LoadSeriesMail(s);
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(none.status().message(), fmt::format("no e-mail of series {}", s));
  SeriesMailRecord m{s, "<vigil.800.1@ci.example.org>", "sending", "", "2026-12-05T02:00:00Z", {}, ""};
  ASSERT_TRUE(store().SetSeriesMail(m).ok());
  EXPECT_EQ(store().LoadSeriesMail(s).value().status, "sending");
  m.status = "sent";
  m.updated_at = "2026-12-05T02:00:05Z";
  ASSERT_TRUE(store().SetSeriesMail(m).ok());
  auto got = store().LoadSeriesMail(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->series, s);
  EXPECT_EQ(got->message_id, m.message_id);
  EXPECT_EQ(got->status, "sent");
  EXPECT_EQ(got->path, "");
  EXPECT_EQ(got->updated_at, "2026-12-05T02:00:05Z");
  EXPECT_TRUE(got->pending.empty());
  // Sent, but refused for now by two recipients: they are kept, and when.
  m.status = "partial";
  m.pending = {"grey@example.org", "quota@example.org"};
  m.pending_since = "2026-12-05T02:00:05Z";
  ASSERT_TRUE(store().SetSeriesMail(m).ok());
  got = store().LoadSeriesMail(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->status, "partial");
  EXPECT_EQ(got->pending, m.pending);
  EXPECT_EQ(got->pending_since, m.pending_since);
  m.status = "sent";
  m.pending.clear();
  m.pending_since.clear();
  ASSERT_TRUE(store().SetSeriesMail(m).ok());
  EXPECT_TRUE(store().LoadSeriesMail(s).value().pending.empty());
  // A dry run writes the message instead.
  int64_t dry = store().QueueSeries(ASeries(801)).value();
  ASSERT_TRUE(store().SetSeriesMail({dry, "<d@x>", "written", "/var/vigil/mail/801.eml", "t", {}, ""}).ok());
  EXPECT_EQ(store().LoadSeriesMail(dry).value().path, "/var/vigil/mail/801.eml");
  EXPECT_EQ(store().LoadSeriesMail(s).value().status, "sent");

  EXPECT_EQ(store().SetSeriesMail({999, "<m>", "sent", "", "t", {}, ""}).code(), Status::Code::kNotFound);
  EXPECT_EQ(store().SetSeriesMail({s, "<m>", "queued", "", "t", {}, ""}).message(), "unknown e-mail status 'queued'");
  EXPECT_EQ(store().LoadSeriesMail(s).value().message_id, m.message_id);
}

TEST_P(StoreConformance, BaselinesAreFoundByKeyAndCommitAndReplaced) {
  int64_t r1 = store().CreateRun(ARun(0)).value();
  int64_t r2 = store().CreateRun(ARun(0)).value();
  const std::string key = "net-next cbf29ce484222325";
  const std::string commit(40, 'c');
  auto none = store().FindBaseline(key, commit);
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(none.status().message(), fmt::format("no baseline of {} at {}", key, commit));
  ASSERT_TRUE(store().SetBaseline(key, commit, r1).ok());
  EXPECT_EQ(store().FindBaseline(key, commit).value(), r1);
  ASSERT_TRUE(store().SetBaseline(key, commit, r2).ok());
  EXPECT_EQ(store().FindBaseline(key, commit).value(), r2);
  // Another pipeline, or another commit, is another baseline.
  EXPECT_FALSE(store().FindBaseline("net-next 0000000000000000", commit).ok());
  EXPECT_FALSE(store().FindBaseline(key, std::string(40, 'd')).ok());
  ASSERT_TRUE(store().SetBaseline(key, std::string(40, 'd'), r1).ok());
  EXPECT_EQ(store().FindBaseline(key, commit).value(), r2);
  EXPECT_EQ(store().FindBaseline(key, std::string(40, 'd')).value(), r1);
  // A run that was never recorded is no baseline.
  Status bad = store().SetBaseline(key, commit, 99);
  EXPECT_EQ(bad.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(bad.message(), "no run 99");
  EXPECT_EQ(store().FindBaseline(key, commit).value(), r2);
}

TEST_P(StoreConformance, HostileStringsInThePatchLoopComeBackExactly) {
  // Whatever a stranger's Patchwork sends: invalid UTF-8, quotes, SQL, RTL
  // marks, long text; never NUL.
  const std::string hostile =
      "x\xff\xfe'\"; DROP TABLE series; --\xe2\x80\xae\xc3\x28 \xf0\x9f\x90\xa7" + std::string(5000, '\x80');
  SeriesRecord s = ASeries(900, "https://pw.example.org/\xff#proj'\"");
  s.name = "[PATCH] " + hostile;
  s.version = hostile.substr(0, 3);
  s.submitter = "J\xe9r\xf4me <j@\xff.example>";
  s.series_json = hostile;
  s.queued_at = hostile;
  s.updated_at = "\x01\x7f";
  int64_t id = store().AcceptEvent(s.source, 1, hostile, s).value();
  auto got = store().LoadSeries(id);
  ASSERT_TRUE(got.ok());
  ExpectSameSeries(*got, s);
  ExpectSameSeries(store().FindSeries(s.source, 900).value(), s);
  EXPECT_EQ(SeriesIds(store().ListSeries(Series(s.source, {"queued"}, 0))), std::vector<int64_t>{id});
  EXPECT_EQ(store().WatchCursor(s.source).value(), hostile);
  EXPECT_TRUE(store().EventAccepted(s.source, 1).value());
  EXPECT_FALSE(store().AcceptEvent(s.source, 1, "", std::nullopt).ok());

  s.id = id;
  s.conclusion = hostile;
  s.result_json = hostile;
  s.tree = s.base_commit = s.head_commit = hostile;
  ASSERT_TRUE(store().UpdateSeries(s).ok());
  ExpectSameSeries(store().LoadSeries(id).value(), s);

  SeriesCheckRecord c = ACheck(id, -1, "final", hostile);
  c.description = c.target_url = c.state = c.posted_at = hostile;
  ASSERT_TRUE(store().SetSeriesCheck(c).ok());
  ASSERT_EQ(store().LoadSeriesChecks(id).value().size(), 1u);
  ExpectSameCheck(store().LoadSeriesChecks(id).value()[0], c);

  ASSERT_TRUE(store().SetSeriesMail({id, hostile, "sent", hostile, hostile, {}, ""}).ok());
  EXPECT_EQ(store().LoadSeriesMail(id).value().message_id, hostile);
  EXPECT_EQ(store().LoadSeriesMail(id).value().path, hostile);

  int64_t run = store().CreateRun(ARun(0)).value();
  ASSERT_TRUE(store().SetBaseline(hostile, hostile + "c", run).ok());
  EXPECT_EQ(store().FindBaseline(hostile, hostile + "c").value(), run);
  EXPECT_FALSE(store().FindBaseline(hostile, hostile).ok());
}

TEST_P(StoreConformance, OneEventAcceptedByManyThreadsQueuesOneSeries) {
  constexpr int kThreads = 8;
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = store().AcceptEvent(kPw, 4242, "2026-12-05T01:00:00", ASeries(4242));
      (r.ok() ? accepted : refused)++;
      // Each retest is its own round.
      ASSERT_TRUE(store().QueueSeries(ASeries(4243)).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(refused.load(), kThreads - 1);
  EXPECT_EQ(store().ListSeries(Series("", {}, 0)).value().size(), static_cast<size_t>(kThreads + 1));
  std::set<int> rounds;
  std::vector<model::SeriesRecord> all = store().ListSeries(SeriesQuery{}).value();
  for (const auto& s : all) {
    if (s.series_id == 4243) rounds.insert(s.round);
    if (s.series_id == 4242) {
      EXPECT_EQ(s.round, 1);
    }
  }
  EXPECT_EQ(rounds.size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(*rounds.rbegin(), kThreads);
}

TEST_P(StoreConformance, ManySubtestsComeBackInTheirOrderWithOrWithoutDurations) {
  int64_t run = store().CreateRun(ARun(0)).value();
  // More than one statement's worth of rows, and a last, shorter chunk.
  for (int n : {0, 1, 100, 250}) {
    AttemptRecord a = Attempt(fmt::format("a:many{}", n), "PASS");
    a.subtests.clear();
    for (int i = 0; i < n; ++i) {
      a.subtests.push_back({fmt::format("case {:03} \xff", i), i % 7 ? "PASS" : "FAIL",
                            i % 3 ? std::optional<int64_t>(i) : std::nullopt});
    }
    ASSERT_TRUE(store().RecordAttempt(run, a).ok()) << n;
  }
  auto attempts = Get(store().LoadAttempts(run));
  ASSERT_EQ(attempts.size(), 4u);
  for (const auto& a : attempts) {
    int n = std::stoi(a.test_path.substr(6));
    ASSERT_EQ(a.subtests.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(a.subtests[static_cast<size_t>(i)].path, fmt::format("case {:03} \xff", i));
      EXPECT_EQ(a.subtests[static_cast<size_t>(i)].status, i % 7 ? "PASS" : "FAIL");
      EXPECT_EQ(a.subtests[static_cast<size_t>(i)].duration_ms, i % 3 ? std::optional<int64_t>(i) : std::nullopt);
    }
  }
}

RunRecord AGroup(int64_t env, const std::string& group, int shards, std::vector<std::string> plan) {
  RunRecord r = ARun(env);
  r.plan = std::move(plan);
  r.run_group = group;
  r.shards = shards;
  r.owner = "h 1 2";  // a group's run has no owner of its own: its shards do
  return r;
}

TEST_P(StoreConformance, AGroupHasOneRunWithTheSplitOfTheFirstShardToCome) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  RunRecord r = AGroup(env, "gh-4242", 2, {"c:a", "c:b", "c:c"});
  int64_t id = store().CreateGroupRun(r, {{"c:a", "c:c"}, {"c:b"}}).value();
  // A shard that comes later with another split finds the first one's.
  EXPECT_EQ(store().CreateGroupRun(r, {{"c:a"}, {"c:b", "c:c"}}).value(), id);
  EXPECT_EQ(store().FindGroupRun("gh-4242").value(), id);
  EXPECT_EQ(store().FindGroupRun("gh-4243").status().message(), "no run group gh-4243");
  EXPECT_EQ(store().FindGroupRun("").status().code(), Status::Code::kNotFound);
  RunRecord back = store().LoadRun(id).value();
  EXPECT_EQ(back.run_group, "gh-4242");
  EXPECT_EQ(back.shards, 2);
  EXPECT_EQ(back.owner, "");
  EXPECT_EQ(back.plan, (std::vector<std::string>{"c:a", "c:b", "c:c"}));
  EXPECT_EQ(back.environment_id, env);
  auto shards = store().LoadRunShards(id).value();
  ASSERT_EQ(shards.size(), 2u);
  EXPECT_EQ(shards[0].shard, 1);
  EXPECT_EQ(shards[0].tests, (std::vector<std::string>{"c:a", "c:c"}));
  EXPECT_EQ(shards[1].shard, 2);
  EXPECT_EQ(shards[1].tests, (std::vector<std::string>{"c:b"}));
  EXPECT_EQ(shards[1].started_at, "");
  EXPECT_EQ(shards[1].finished_at, "");
  // A run of its own has no group and no shards.
  int64_t plain = store().CreateRun(ARun(env)).value();
  EXPECT_TRUE(store().LoadRunShards(plain).value().empty());
  EXPECT_EQ(store().LoadRun(plain).value().run_group, "");
  EXPECT_EQ(store().LoadRun(plain).value().shards, 0);
  EXPECT_EQ(store().LoadRunShards(999).status().message(), "no run 999");
  // Refused: no name; a split that is not one list per shard; a plan naming a test twice.
  EXPECT_FALSE(store().CreateGroupRun(AGroup(env, "", 2, {"c:a"}), {{"c:a"}, {}}).ok());
  EXPECT_FALSE(store().CreateGroupRun(AGroup(env, "x", 2, {"c:a"}), {{"c:a"}}).ok());
  EXPECT_FALSE(store().CreateGroupRun(AGroup(env, "y", 1, {"c:a", "c:a"}), {{"c:a", "c:a"}}).ok());
  EXPECT_EQ(store().FindGroupRun("x").status().code(), Status::Code::kNotFound);
  // Another group is another run; its name's bytes come back as they went in.
  std::string odd = std::string("gr\x01oup \xff\"'", 10);
  int64_t other = store().CreateGroupRun(AGroup(env, odd, 1, {"c:a"}), {{"c:a"}}).value();
  EXPECT_NE(other, id);
  EXPECT_EQ(store().FindGroupRun(odd).value(), other);
  EXPECT_EQ(store().LoadRun(other).value().run_group, odd);
}

TEST_P(StoreConformance, AShardStartsForOneOwnerAndTheLastToEndSeesNoneLeft) {
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  int64_t id = store().CreateGroupRun(AGroup(env, "g", 3, {"c:a", "c:b", "c:c"}), {{"c:a"}, {"c:b"}, {"c:c"}}).value();
  model::RunShardRecord s;
  s.run_id = id;
  s.shard = 1;
  s.tests = {"ignored"};  // the split stands
  s.host = "host-a";
  s.command = "vigil run --shard 1/3";
  s.tests_dir = "/t";
  s.environment_id = env;
  s.started_at = "2026-12-05T10:00:00Z";
  s.owner = "host-a 10 20";
  s.console_log = "/c.log";
  EXPECT_TRUE(store().StartShard(s, "").value());
  model::RunShardRecord thief = s;
  thief.owner = "host-b 30 40";
  EXPECT_FALSE(store().StartShard(thief, "").value());
  EXPECT_TRUE(store().StartShard(thief, "host-a 10 20").value());  // its vigil died: taken over
  model::RunShardRecord none = s;
  none.shard = 9;
  EXPECT_EQ(store().StartShard(none, "").status().message(), fmt::format("no shard 9 of run {}", id));
  auto shards = store().LoadRunShards(id).value();
  const model::RunShardRecord& one = shards[0];
  EXPECT_EQ(one.tests, std::vector<std::string>{"c:a"});
  EXPECT_EQ(one.host, "host-a");
  EXPECT_EQ(one.command, "vigil run --shard 1/3");
  EXPECT_EQ(one.tests_dir, "/t");
  EXPECT_EQ(one.environment_id, env);
  EXPECT_EQ(one.started_at, "2026-12-05T10:00:00Z");
  EXPECT_EQ(one.owner, "host-b 30 40");
  EXPECT_EQ(one.console_log, "/c.log");
  // Stopped (a signal): not finished, no owner.
  EXPECT_EQ(store().EndShard(id, 1, "INTERRUPTED", "").value(), 3);
  shards = store().LoadRunShards(id).value();
  EXPECT_EQ(shards[0].status, "INTERRUPTED");
  EXPECT_EQ(shards[0].owner, "");
  EXPECT_EQ(shards[0].finished_at, "");
  // Started again: the status of the stop is gone.
  EXPECT_TRUE(store().StartShard(s, "").value());
  EXPECT_EQ(store().LoadRunShards(id).value()[0].status, "");
  EXPECT_EQ(store().EndShard(id, 1, "PASS", "t1").value(), 2);
  // Finished: not started again, whoever asks.
  EXPECT_FALSE(store().StartShard(s, "").value());
  EXPECT_EQ(store().LoadRunShards(id).value()[0].finished_at, "t1");
  EXPECT_EQ(store().EndShard(id, 3, "FAIL", "t3").value(), 1);
  EXPECT_EQ(store().EndShard(id, 2, "PASS", "t2").value(), 0);
  shards = store().LoadRunShards(id).value();
  EXPECT_EQ(shards[2].status, "FAIL");
  EXPECT_EQ(shards[2].finished_at, "t3");
  EXPECT_EQ(store().EndShard(id, 4, "PASS", "t").status().message(), fmt::format("no shard 4 of run {}", id));
  EXPECT_EQ(store().EndShard(999, 1, "PASS", "t").status().code(), Status::Code::kNotFound);
}

TEST_P(StoreConformance, OfShardsCreatingAndEndingTheirGroupAtOnceOneMakesItAndOneIsLast) {
  constexpr int kShards = 8;
  int64_t env = store().EnsureEnvironment(Env("6.1.0")).value();
  std::vector<std::string> plan;
  for (int i = 0; i < kShards; ++i) plan.push_back(fmt::format("c:t{}", i));
  std::vector<int64_t> ids(kShards);
  std::vector<int> left(kShards, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kShards; ++i) {
    threads.emplace_back([&, i] {
      // Each with a split of its own: one of them stands.
      std::vector<std::vector<std::string>> split(kShards);
      for (int k = 0; k < kShards; ++k) split[static_cast<size_t>((k + i) % kShards)].push_back(plan[static_cast<size_t>(k)]);
      auto id = store().CreateGroupRun(AGroup(env, "race", kShards, plan), split);
      ASSERT_TRUE(id.ok()) << id.status().ToString();
      ids[static_cast<size_t>(i)] = *id;
      auto n = store().EndShard(*id, i + 1, "PASS", "t");
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      left[static_cast<size_t>(i)] = *n;
    });
  }
  for (auto& t : threads) t.join();
  for (int64_t id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(std::count(left.begin(), left.end(), 0), 1);
  std::set<int> seen(left.begin(), left.end());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kShards));  // 0..7, each once
  EXPECT_EQ(store().ListRuns().value().size(), 1u);
  // One split: every test in exactly one shard.
  std::multiset<std::string> all;
  for (const auto& s : Get(store().LoadRunShards(ids[0]))) all.insert(s.tests.begin(), s.tests.end());
  EXPECT_EQ(all, std::multiset<std::string>(plan.begin(), plan.end()));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::Values("sqlite", "memory", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// SQLite only: what persists across opens and what the file may hold.

TEST(StoreSqlite, KeepsWhatWasWrittenAcrossOpens) {
  TempDb db("reopen");
  int64_t run_id = 0;
  {
    auto store = Store::Open(db.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    int64_t env = (*store)->EnsureEnvironment(Env("6.1.0")).value();
    run_id = (*store)->CreateRun(ARun(env)).value();
    ASSERT_TRUE((*store)->RecordAttempt(run_id, Attempt("a:one", "PASS")).ok());
    ASSERT_TRUE((*store)->FinishRun(run_id, "PASS", "2026-11-25T10:01:00Z").ok());
  }
  auto reopened = Store::Open(db.path());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->schema_version(), kSchemaVersion);
  EXPECT_EQ((*reopened)->LatestRun().value(), run_id);
  EXPECT_EQ((*reopened)->LoadRun(run_id).value().status, "PASS");
  EXPECT_EQ((*reopened)->LoadAttempts(run_id, true).value().at(0).output, std::string("out\0put", 7));
  // The same environment later finds its row.
  EXPECT_EQ((*reopened)->EnsureEnvironment(Env("6.1.0")).value(), 1);
}

// The number of rows `sql` counts, -1 on error.
int64_t Count(Database& db, const std::string& sql) {
  auto q = db.Prepare(sql);
  if (!q.ok()) return -1;
  Status st;
  if (!q->Next(&st)) return -1;
  return q->Int(0);
}

TEST(StoreSqlite, ABuildWhoseDiagnosticsFailHalfwayLeavesNothing) {
  TempDb path("build-rollback");
  auto store = Store::Open(path.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto db = Database::Open(path.path());
  ASSERT_TRUE(db.ok());
  // The 5001st diagnostic's insert fails, as a full disk would.
  ASSERT_TRUE((*db)->Exec("CREATE TRIGGER fail_late BEFORE INSERT ON build_diagnostics WHEN NEW.seq = 5000 "
                          "BEGIN SELECT RAISE(ABORT, 'no room'); END")
                  .ok());
  std::vector<BuildDiagnosticRecord> diags;
  for (int i = 0; i < 6000; ++i) diags.push_back(ADiagnostic(i));
  auto failed = (*store)->RecordBuild(ABuild(), diags);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("no room"), std::string::npos) << failed.status().message();
  EXPECT_EQ((*store)->LoadBuild(1).status().code(), Status::Code::kNotFound);
  EXPECT_TRUE((*store)->ListBuilds(BuildQuery{}).value().empty());
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM builds"), 0);
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM build_diagnostics"), 0);

  // The store goes on: the next build is whole.
  ASSERT_TRUE((*db)->Exec("DROP TRIGGER fail_late").ok());
  auto id = (*store)->RecordBuild(ABuild(), diags);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ((*store)->LoadBuildDiagnostics(*id).value().size(), 6000u);
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM builds"), 1);
}

TEST(StoreSqlite, BuildsAndTheirRunsAreKeptAcrossOpens) {
  TempDb path("build-reopen");
  BuildRecord b = ABuild("/src/linux", "debug", "failed");
  int64_t build = 0, run = 0;
  {
    auto store = Store::Open(path.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    build = (*store)->RecordBuild(b, {ADiagnostic(0), ADiagnostic(3)}).value();
    RunRecord r = ARun(0);
    r.build_id = build;
    run = (*store)->CreateRun(r).value();
  }
  auto store = Store::Open(path.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto loaded = (*store)->LoadBuild(build);
  ASSERT_TRUE(loaded.ok());
  ExpectSameBuild(*loaded, b);
  auto diags = (*store)->LoadBuildDiagnostics(build).value();
  ASSERT_EQ(diags.size(), 2u);
  ExpectSameDiagnostic(diags[1], ADiagnostic(3));
  EXPECT_EQ((*store)->LoadRun(run).value().build_id, build);
  EXPECT_EQ(BuildIds((*store)->ListBuilds(Builds("/src/linux", "debug", "failed", 0, 1))),
            std::vector<int64_t>{build});
}

TEST(StoreSqlite, ThePatchLoopsMemoryIsKeptAcrossOpens) {
  TempDb path("series-reopen");
  SeriesRecord queued = ASeries(1234);
  int64_t id = 0, again = 0, run = 0;
  {
    auto store = Store::Open(path.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Store& s = **store;
    id = s.AcceptEvent(kPw, 10, "2026-12-05T01:00:00", queued).value();
    ASSERT_EQ(s.AcceptEvent(kPw, 11, "2026-12-05T01:30:00", std::nullopt).value(), 0);
    again = s.QueueSeries(ASeries(1234)).value();
    SeriesRecord u = s.LoadSeries(id).value();
    u.state = "testing";
    u.base_commit = std::string(40, 'a');
    ASSERT_TRUE(s.UpdateSeries(u).ok());
    ASSERT_TRUE(s.SetSeriesCheck(ACheck(id, 11, "pending", "vigil-net", "posted")).ok());
    ASSERT_TRUE(s.SetSeriesCheck(ACheck(id, 11, "final", "vigil-net", "posting")).ok());
    ASSERT_TRUE(s.SetSeriesMail({id, "<m@x>", "sending", "", "t", {}, ""}).ok());
    run = s.CreateRun(ARun(0)).value();
    ASSERT_TRUE(s.SetBaseline("net-next abc", std::string(40, 'b'), run).ok());
  }  // as after a kill -9: every call above was committed when it returned
  auto store = Store::Open(path.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Store& s = **store;
  EXPECT_EQ(s.WatchCursor(kPw).value(), "2026-12-05T01:30:00");
  EXPECT_TRUE(s.EventAccepted(kPw, 10).value());
  EXPECT_TRUE(s.EventAccepted(kPw, 11).value());
  EXPECT_FALSE(s.AcceptEvent(kPw, 10, "2026-12-06T00:00:00", ASeries(1234)).ok());
  SeriesRecord loaded = s.LoadSeries(id).value();
  EXPECT_EQ(loaded.state, "testing");
  EXPECT_EQ(loaded.base_commit, std::string(40, 'a'));
  EXPECT_EQ(loaded.name, queued.name);
  EXPECT_EQ(s.FindSeries(kPw, 1234).value().id, again);
  EXPECT_EQ(s.FindSeries(kPw, 1234).value().round, 2);
  EXPECT_EQ(s.LoadSeries(s.QueueSeries(ASeries(1234)).value()).value().round, 3);
  EXPECT_EQ(CheckKeys(s.LoadSeriesChecks(id)),
            (std::vector<std::string>{"11/pending/vigil-net", "11/final/vigil-net"}));
  EXPECT_EQ(s.LoadSeriesChecks(id).value()[1].status, "posting");
  EXPECT_EQ(s.LoadSeriesMail(id).value().status, "sending");
  EXPECT_EQ(s.FindBaseline("net-next abc", std::string(40, 'b')).value(), run);
}

TEST(StoreSqlite, TwoVigilsOnOneFileAcceptAnEventOnce) {
  TempDb path("series-race");
  auto one = Store::Open(path.path());
  auto two = Store::Open(path.path());
  ASSERT_TRUE(one.ok() && two.ok());
  ASSERT_TRUE((*one)->AcceptEvent(kPw, 1, "2026-12-05T01:00:00", ASeries(5)).ok());
  auto second = (*two)->AcceptEvent(kPw, 1, "2026-12-05T01:00:00", ASeries(5));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), fmt::format("event 1 of {} was accepted already", kPw));
  // Each connection's queueing reads the other's rounds.
  EXPECT_EQ((*two)->LoadSeries((*two)->QueueSeries(ASeries(5)).value()).value().round, 2);
  EXPECT_EQ((*one)->LoadSeries((*one)->QueueSeries(ASeries(5)).value()).value().round, 3);
  EXPECT_EQ((*one)->ListSeries(SeriesQuery{}).value().size(), 3u);
}

TEST(StoreSqlite, TheSchemaItselfRefusesDuplicatesOfThePatchLoop) {
  TempDb path("series-unique");
  int64_t id = 0;
  {
    auto store = Store::Open(path.path());
    ASSERT_TRUE(store.ok());
    id = (*store)->AcceptEvent(kPw, 1, "d", ASeries(5)).value();
    ASSERT_TRUE((*store)->SetSeriesCheck(ACheck(id, 1, "final", "c")).ok());
    ASSERT_TRUE((*store)->SetSeriesMail({id, "<m>", "sent", "", "t", {}, ""}).ok());
    ASSERT_TRUE((*store)->SetBaseline("k", "c", (*store)->CreateRun(ARun(0)).value()).ok());
  }
  auto db = Database::Open(path.path());
  ASSERT_TRUE(db.ok());
  // What a writer that skipped the store's checks would try.
  for (const char* sql : {
           "INSERT INTO watch_events (source, event_id, event_date) SELECT source, event_id, 'x' FROM "
           "watch_events",
           "INSERT INTO series (source, series_id, round, name, version, submitter, series_json, state, "
           "tree, "
           "base_commit, head_commit, conclusion, result_json, queued_at, updated_at) SELECT source, "
           "series_id, "
           "round, '', '', '', '', 'queued', '', '', '', '', '', '', '' FROM series",
           "INSERT INTO series_checks SELECT * FROM series_checks",
           "INSERT INTO series_mails SELECT * FROM series_mails",
           "INSERT INTO baselines SELECT * FROM baselines",
           "INSERT INTO watch_cursors SELECT * FROM watch_cursors",
           "INSERT INTO series_checks (series, patch_id, phase, context, state, description, target_url, "
           "status, "
           "posted_at) VALUES (99, 1, 'final', 'c', '', '', '', 'planned', '')",
           "INSERT INTO baselines (key, commit_hash, run_id) VALUES ('k2', 'c', 99)",
       }) {
    Status st = (*db)->Exec(sql);
    EXPECT_FALSE(st.ok()) << sql;
  }
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM series"), 1);
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM watch_events"), 1);
  // The queries have their indexes.
  EXPECT_EQ(Count(**db,
                  "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'series' AND "
                  "(sql LIKE '%(source, id)%' OR sql LIKE '%(state, id)%')"),
            2);
}

TEST(StoreSqlite, AnEventWhoseCursorCannotBeWrittenLeavesNothing) {
  TempDb path("series-rollback");
  auto store = Store::Open(path.path());
  ASSERT_TRUE(store.ok());
  auto db = Database::Open(path.path());
  ASSERT_TRUE(db.ok());
  // The last write of the transaction fails, as a full disk would.
  ASSERT_TRUE((*db)
                  ->Exec("CREATE TRIGGER no_room BEFORE INSERT ON watch_cursors "
                         "BEGIN SELECT RAISE(ABORT, 'no room'); END")
                  .ok());
  auto failed = (*store)->AcceptEvent(kPw, 1, "2026-12-05T01:00:00", ASeries(5));
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("no room"), std::string::npos) << failed.status().message();
  EXPECT_FALSE((*store)->EventAccepted(kPw, 1).value());
  EXPECT_TRUE((*store)->ListSeries(SeriesQuery{}).value().empty());
  EXPECT_EQ((*store)->WatchCursor(kPw).value(), "");
  ASSERT_TRUE((*db)->Exec("DROP TRIGGER no_room").ok());
  int64_t id = (*store)->AcceptEvent(kPw, 1, "2026-12-05T01:00:00", ASeries(5)).value();
  EXPECT_EQ((*store)->LoadSeries(id).value().round, 1);
  EXPECT_EQ((*store)->WatchCursor(kPw).value(), "2026-12-05T01:00:00");
}

TEST(StoreSqlite, NewerSchemaIsRefused) {
  TempDb path("newer");
  {
    auto db = Database::Open(path.path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE schema_version (version INTEGER NOT NULL);"
                            "INSERT INTO schema_version VALUES (999);")
                    .ok());
  }
  auto store = Store::Open(path.path());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

TEST(StoreSqlite, NotADatabaseIsRefused) {
  TempDb path("text");
  { std::ofstream(path.path()) << "this is not sqlite, just text that is long enough to be a header......"; }
  EXPECT_FALSE(Store::Open(path.path()).ok());
}


TEST(StoreSqlite, ReadOnlySeesWhatAWriterCommitsAndWritesNothing) {
  TempDb db("readonly");
  EXPECT_EQ(Store::OpenReadOnly(db.path()).status().code(), Status::Code::kIOError);  // not created
  EXPECT_FALSE(std::filesystem::exists(db.path()));
  auto writer = Store::Open(db.path());
  ASSERT_TRUE(writer.ok());
  int64_t env = (*writer)->EnsureEnvironment(Env("6.1.0")).value();
  int64_t first = (*writer)->CreateRun(ARun(env)).value();
  auto reader = Store::OpenReadOnly(db.path());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->LatestRun().value(), first);
  int64_t version = (*reader)->DataVersion().value();
  EXPECT_EQ((*reader)->DataVersion().value(), version);  // reading changes nothing
  // A run the writer records afterwards is seen, attempt by attempt.
  int64_t second = (*writer)->CreateRun(ARun(env)).value();
  EXPECT_NE((*reader)->DataVersion().value(), version);
  ASSERT_TRUE((*writer)->RecordAttempt(second, Attempt("a:one", "PASS")).ok());
  EXPECT_EQ((*reader)->LatestRun().value(), second);
  EXPECT_EQ((*reader)->LoadAttemptBriefs({second}).value().size(), 1u);
  // Every write is refused and changes nothing.
  EXPECT_FALSE((*reader)->CreateRun(ARun(env)).ok());
  EXPECT_FALSE((*reader)->RecordAttempt(first, Attempt("a:two", "PASS")).ok());
  EXPECT_FALSE((*reader)->FinishRun(first, "PASS", "2026-11-25T11:00:00Z").ok());
  EXPECT_EQ((*writer)->CountRuns(RunQuery{}).value(), 2);
  EXPECT_EQ((*writer)->LoadRun(first).value().status, "");
}

TEST(StoreSqlite, ReadOnlyRefusesAnotherSchemaAndWhatIsNotAStore) {
  TempDb old("readonly-old");
  {
    auto db = Database::Open(old.path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE schema_version (version INTEGER NOT NULL);"
                            "INSERT INTO schema_version VALUES (3);")
                    .ok());
  }
  auto s = Store::OpenReadOnly(old.path());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("schema version 3"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("migrates it"), std::string::npos);
  TempDb other("readonly-other");
  {
    auto db = Database::Open(other.path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t (x INTEGER)").ok());
  }
  auto o = Store::OpenReadOnly(other.path());
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("not a vigil store"), std::string::npos) << o.status().message();
  TempDb text("readonly-text");
  { std::ofstream(text.path()) << "this is not sqlite, just text that is long enough to be a header......"; }
  EXPECT_FALSE(Store::OpenReadOnly(text.path()).ok());
}

// Migrations: a database made at each earlier schema version, with rows in
// that version's columns, opens with today's code and reads back right.

Environment OldEnv(int version) {
  Environment e = Env("6.1.0");
  if (version < 3) e.kernel_config = "";  // no such column yet
  else e.kernel_config = "cfg99";
  return e;
}

// Rows as vigil at `version` wrote them: an environment (before 6, with a
// fingerprint from another hash), a finished run, a test with two attempts, subtests,
// outputs and, from the versions that have them, crashes, the console log,
// bisections and the VM description.
std::string OldRows(int version) {
  Environment e = OldEnv(version);
  std::string sql = fmt::format(
      "INSERT INTO environments (id, fingerprint, kernel_release, uname, arch, cpus, memory_kb, where_run, accel, "
      "tools_json{}) VALUES (1, '{}', '{}', '{}', '{}', {}, {}, '{}', '{}', '{{\"ip\":\"{}\"}}'{});",
      version >= 3 ? ", kernel_config" : "",
      // From version 6 on, fingerprints are those every build computes.
      version >= 6 ? e.Fingerprint() : std::string("a1b2c3d4e5f60718"), e.kernel_release, e.uname, e.arch, e.cpus, e.memory_kb, e.where, e.accel,
      e.tools.at("ip"), version >= 3 ? ", '" + e.kernel_config + "'" : "");
  sql += fmt::format(
      "INSERT INTO runs (id, started_at, finished_at, status, host, command, tests_dir, plan_json, environment_id{}{}) "
      "VALUES (1, 's1', 'f1', 'FAIL', 'h', 'vigil run', '/x', '[\"a:one\",\"a:two\"]', 1{}{});",
      version >= 2 ? ", console_log" : "", version >= 5 ? ", vm_json" : "", version >= 2 ? ", '/tmp/c.log'" : "",
      version >= 5 ? ", '{\"kernel\":\"bz\"}'" : "");
  sql += "INSERT INTO runs (id, started_at, host, command, tests_dir, plan_json) VALUES (2, 's2', 'h', 'c', '/x', '[]');";
  sql +=
      "INSERT INTO tests (id, run_id, path) VALUES (1, 1, 'a:one');"
      "INSERT INTO attempts (id, test_id, attempt, status, exit_code, signal, timed_out, duration_ms, started_at, "
      "output_bytes, environment_issues_json) VALUES (1, 1, 1, 'FAIL', 1, 0, 0, 300, 'a1', 3, '[\"no ping\"]'),"
      " (2, 1, 2, 'PASS', NULL, 0, 1, 200, 'a2', 2, '[]');"
      "INSERT INTO subtests (attempt_id, path, status, duration_ms) VALUES (1, 'x', 'FAIL', 5), (1, 'y > z', 'PASS', NULL);"
      "INSERT INTO logs (attempt_id, output) VALUES (1, 'out'), (2, 'ok');";
  if (version >= 2) {
    sql += "INSERT INTO crashes (attempt_id, type, title, fatal, fingerprint, guilty, text) "
           "VALUES (1, 'BUG', 'BUG: x', 1, 'cf', 'g', 'trace');";
  }
  if (version >= 4) {
    sql += "INSERT INTO bisections (id, repo, good, bad, options_json, status, started_at) "
           "VALUES (1, '/r', 'g', 'b', '{}', 'running', 't');"
           "INSERT INTO bisect_runs (bisection_id, position, commit_hash, outcome, exit_code, duration_ms, at) "
           "VALUES (1, 2, 'c', 'fail', 1, 9, 't2');";
  }
  return sql;
}

// A database at schema `version` holding `rows`.
void MakeOldDatabase(const std::string& path, int version, const std::string& rows) {
  auto db = Database::Open(path);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(MigrateTo(**db, version).ok());
  ASSERT_EQ(SchemaVersion(**db).value(), version);
  Status s = (*db)->Exec(rows);
  ASSERT_TRUE(s.ok()) << s.ToString();
  if (std::string_view((*db)->engine()) != "postgresql") return;
  // The rows give their ids: the identity sequences continue after them,
  // as they would after the old vigil's own inserts.
  auto q = (*db)->Prepare(
      "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND "
      "column_name = 'id' AND (is_identity = 'YES' OR column_default LIKE 'nextval%')");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  std::vector<std::string> tables;
  while (q->Next(&s)) tables.push_back(q->Text(0));
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_FALSE(tables.empty());
  for (const std::string& t : tables) {
    s = (*db)->Exec(fmt::format(
        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), coalesce(max(id), 0) + 1, false) FROM {0}", t));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
}

// The migrations that run code (not only SQL), on each backend.
class StoreMigrationCode : public ::testing::TestWithParam<std::string>, public BackendPlace {
 protected:
  std::string Place(const std::string& name) { return BackendPlace::Place(GetParam(), name); }
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreMigrationCode, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// A database of every earlier schema version, on each backend.
class StoreMigration : public ::testing::TestWithParam<std::tuple<int, std::string>>, public BackendPlace {};

TEST_P(StoreMigration, OldDatabaseReadsBackAfterOpening) {
  const int version = std::get<0>(GetParam());
  std::string path = Place(std::get<1>(GetParam()), fmt::format("v{}", version));
  if (path.empty()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
  MakeOldDatabase(path, version, OldRows(version));
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Store& s = **store;
  EXPECT_EQ(s.schema_version(), kSchemaVersion);

  auto run = s.LoadRun(1);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->started_at, "s1");
  EXPECT_EQ(run->finished_at, "f1");
  EXPECT_EQ(run->status, "FAIL");
  EXPECT_EQ(run->plan, (std::vector<std::string>{"a:one", "a:two"}));
  EXPECT_EQ(run->environment_id, 1);
  EXPECT_EQ(run->vm_json, version >= 5 ? R"({"kernel":"bz"})" : "");
  EXPECT_EQ(run->owner, "");
  EXPECT_EQ(run->build_id, 0);  // a column of version 8: no build for what came before
  EXPECT_EQ(s.LoadConsoleLog(1).value(), version >= 2 ? "/tmp/c.log" : "");
  EXPECT_EQ(s.LoadRun(2).value().environment_id, 0);
  EXPECT_EQ(s.LatestRun().value(), 2);

  auto attempts = s.LoadAttempts(1, true);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 2u);
  const AttemptRecord& a = (*attempts)[0];
  EXPECT_EQ(a.test_path, "a:one");
  EXPECT_EQ(a.status, "FAIL");
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_EQ(a.duration_ms, 300);
  EXPECT_EQ(a.output, "out");
  EXPECT_EQ(a.environment_issues, std::vector<std::string>{"no ping"});
  ASSERT_EQ(a.subtests.size(), 2u);
  EXPECT_EQ(a.subtests[1].path, "y > z");
  EXPECT_FALSE(a.subtests[1].duration_ms.has_value());
  ASSERT_EQ(a.crashes.size(), version >= 2 ? 1u : 0u);
  if (version >= 2) {
    EXPECT_EQ(a.crashes[0].text, "trace");
  }
  EXPECT_EQ(a.subtests_dropped, 0);  // a column of version 7, 0 for what came before
  EXPECT_FALSE((*attempts)[1].exit_code.has_value());
  EXPECT_TRUE((*attempts)[1].timed_out);
  EXPECT_FALSE((*attempts)[0].interrupted);
  EXPECT_EQ(s.LastDurations().value().at("a:one"), 200);
  // The migration to 10 summarized what was there: failed, then passed.
  // (Rows written into a version-10 file by hand, as here, have no summary:
  // the store writes one with each attempt it records.)
  auto sum = s.LoadTestSummaries({1});
  ASSERT_TRUE(sum.ok()) << sum.status().ToString();
  if (version < 10) {
    ASSERT_EQ(sum->size(), 1u);
    EXPECT_EQ((*sum)[0].status, "FLAKY");
    EXPECT_EQ((*sum)[0].attempts, 2);
    EXPECT_EQ((*sum)[0].duration_ms, 200);
    EXPECT_EQ((*sum)[0].crashes, version >= 2 ? 1 : 0);
    auto subs = model::UnpackSubtests((*sum)[0].subtests);
    ASSERT_EQ(subs.size(), 2u);
    EXPECT_EQ(subs[0].status, "FAIL");
    EXPECT_EQ(subs[1].path, "y > z");
  }
  // 11 added run groups: what came before is no group's.
  EXPECT_EQ(run->run_group, "");
  EXPECT_EQ(run->shards, 0);
  EXPECT_TRUE(s.LoadRunShards(1).value().empty());

  // The environment reads back and a run in it later finds its row.
  Environment e = OldEnv(version);
  auto env = s.LoadEnvironment(1);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->kernel_release, e.kernel_release);
  EXPECT_EQ(env->uname, e.uname);
  EXPECT_EQ(env->memory_kb, e.memory_kb);
  EXPECT_EQ(env->tools, e.tools);
  EXPECT_EQ(env->kernel_config, e.kernel_config);
  EXPECT_EQ(s.EnsureEnvironment(e).value(), 1);
  EXPECT_EQ(s.ListEnvironments().value().size(), 1u);

  if (version >= 4) {
    EXPECT_EQ(s.ActiveBisection("/r").value().id, 1);
    ASSERT_EQ(s.LoadBisectRuns(1).value().size(), 1u);
    EXPECT_EQ(s.LoadBisectRuns(1).value()[0].commit, "c");
  }
  // And it takes new runs as usual.
  int64_t next = s.CreateRun(ARun(1)).value();
  EXPECT_EQ(next, 3);
  EXPECT_TRUE(s.RecordAttempt(next, Attempt("a:one", "PASS")).ok());
  // And builds, and runs that boot them.
  EXPECT_TRUE(s.ListBuilds(BuildQuery{}).value().empty());
  int64_t build = s.RecordBuild(ABuild(), {ADiagnostic(1)}).value();
  EXPECT_EQ(build, 1);
  RunRecord booted = ARun(1);
  booted.build_id = build;
  EXPECT_EQ(s.LoadRun(s.CreateRun(booted).value()).value().build_id, build);
  // And the patch loop, with baselines on the old runs.
  EXPECT_EQ(s.WatchCursor(kPw).value(), "");
  EXPECT_EQ(s.AcceptEvent(kPw, 1, "2026-12-05T01:00:00", ASeries(5)).value(), 1);
  EXPECT_TRUE(s.SetBaseline("k", "c", 1).ok());
  EXPECT_EQ(s.FindBaseline("k", "c").value(), 1);
}

TEST(StoreMigration, SchemaSevenGainsBuildsAndKeepsItsRuns) {
  TempDb path("v7-builds");
  // A version-7 run still owned by a live vigil, beside the usual rows.
  MakeOldDatabase(path.path(), 7,
                  OldRows(7) +
                      "INSERT INTO runs (id, started_at, host, command, tests_dir, plan_json, environment_id, "
                      "owner) VALUES (3, 's3', 'h', 'c', '/x', '[\"b:one\"]', 1, 'h 10 20');");
  {
    auto store = Store::Open(path.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Store& s = **store;
    EXPECT_EQ(s.schema_version(), kSchemaVersion);
    auto runs = s.ListRuns();
    ASSERT_TRUE(runs.ok());
    ASSERT_EQ(runs->size(), 3u);
    for (const auto& r : *runs) EXPECT_EQ(r.build_id, 0) << r.id;
    EXPECT_EQ((*runs)[2].owner, "h 10 20");
    EXPECT_EQ((*runs)[2].plan, std::vector<std::string>{"b:one"});
    EXPECT_EQ(s.LoadAttempts(1, true).value().size(), 2u);

    EXPECT_EQ(s.LoadBuild(1).status().message(), "no build 1");
    BuildRecord b = ABuild();
    int64_t build = s.RecordBuild(b, {ADiagnostic(0), ADiagnostic(1)}).value();
    EXPECT_EQ(build, 1);
    ExpectSameBuild(s.LoadBuild(build).value(), b);
    EXPECT_EQ(s.LoadBuildDiagnostics(build).value().size(), 2u);
    RunRecord booted = ARun(1);
    booted.build_id = build;
    EXPECT_EQ(s.CreateRun(booted).value(), 4);
  }
  auto db = Database::Open(path.path());
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(SchemaVersion(**db).value(), kSchemaVersion);
  // The old runs have no build (NULL), the new one has its own.
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM runs WHERE build_id IS NULL"), 3);
  EXPECT_EQ(Count(**db, "SELECT build_id FROM runs WHERE id = 4"), 1);
  // ListBuilds' filters have their index.
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'builds' AND "
                        "sql LIKE '%(tree, variant, id)%'"),
            1);
}

TEST(StoreMigration, SchemaEightGainsThePatchLoopAndKeepsItsBuilds) {
  TempDb path("v8-series");
  // A version-8 build with a diagnostic and a run that booted it, beside the usual rows.
  MakeOldDatabase(
      path.path(), 8,
      OldRows(8) +
          "INSERT INTO builds (id, started_at, finished_at, status, host, command, tree, commit_hash, "
          "describe, dirty, variant, output_dir, config_hash, compiler, collections_json, duration_ms, "
          "steps, artifacts_json, config_mismatches_json, warnings, errors, diagnostics_dropped, "
          "failure) VALUES (1, 'b1', 'b2', 'failed', 'h', 'vigil build', '/src/linux', 'abc', 'v6.12', "
          "0, 'debug', '/o', 'cfg', 'gcc 12', '[\"net\"]', 10, 3, '{}', '[]', 1, 1, 0, 'error');"
          "INSERT INTO build_diagnostics (build_id, seq, tool, file, line_no, column_no, severity, "
          "message, flag, function_name, target, notes_json) VALUES (1, 0, 'compiler', 'a.c', 1, 2, "
          "'error', 'boom', '', '', '', '[]');"
          "INSERT INTO runs (id, started_at, host, command, tests_dir, plan_json, build_id) "
          "VALUES (3, 's3', 'h', 'c', '/x', '[]', 1);");
  {
    auto store = Store::Open(path.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Store& s = **store;
    EXPECT_EQ(s.schema_version(), kSchemaVersion);
    EXPECT_EQ(s.ListRuns().value().size(), 3u);
    EXPECT_EQ(s.LoadRun(3).value().build_id, 1);
    EXPECT_EQ(s.LoadAttempts(1, true).value().size(), 2u);
    auto build = s.LoadBuild(1);
    ASSERT_TRUE(build.ok());
    EXPECT_EQ(build->status, "failed");
    EXPECT_EQ(build->collections, std::vector<std::string>{"net"});
    EXPECT_EQ(s.LoadBuildDiagnostics(1).value().at(0).message, "boom");
    EXPECT_EQ(s.ActiveBisection("/r").value().id, 1);
    // Nothing of the patch loop yet, and it works from here.
    EXPECT_TRUE(s.ListSeries(SeriesQuery{}).value().empty());
    EXPECT_EQ(s.FindBaseline("k", "abc").status().code(), Status::Code::kNotFound);
    int64_t id = s.AcceptEvent(kPw, 1, "2026-12-05T01:00:00", ASeries(5)).value();
    EXPECT_EQ(id, 1);
    ASSERT_TRUE(s.SetSeriesCheck(ACheck(id, 11, "pending", "vigil")).ok());
    ASSERT_TRUE(s.SetSeriesMail({id, "<m>", "sent", "", "t", {}, ""}).ok());
    ASSERT_TRUE(s.SetBaseline("k", "abc", 3).ok());
  }
  auto db = Database::Open(path.path());
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(SchemaVersion(**db).value(), kSchemaVersion);
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM runs"), 3);
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM builds"), 1);
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM build_diagnostics"), 1);
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM attempts"), 2);
  EXPECT_EQ(Count(**db, "SELECT COUNT(*) FROM series_checks"), 1);
  EXPECT_EQ(Count(**db, "SELECT series FROM watch_events WHERE event_id = 1"), 1);
}

INSTANTIATE_TEST_SUITE_P(FromEveryEarlierVersion, StoreMigration,
                         ::testing::Combine(::testing::Range(1, kSchemaVersion),
                                            ::testing::Values("sqlite", "postgresql")),
                         [](const ::testing::TestParamInfo<std::tuple<int, std::string>>& p) {
                           return fmt::format("v{}_{}", std::get<0>(p.param), std::get<1>(p.param));
                         });

TEST_P(StoreMigrationCode, StoredCrashesAreTitledAgainAsTodaysDetectorTitlesThem) {
  // A WARNING recorded by a vigil that titled it by its first line.
  const std::string text =
      "------------[ cut here ]------------\n"
      "WARNING: CPU: 1 PID: 212 at net/mptcp/protocol.c:2105 mptcp_rcv_space_adjust+0x3c/0x300\n"
      "Modules linked in:\n"
      "CPU: 1 UID: 0 PID: 212 Comm: mptcp_connect Not tainted 6.12.0 #1\n"
      "RIP: 0010:mptcp_rcv_space_adjust+0x3c/0x300\n"
      "Call Trace:\n"
      " <TASK>\n"
      " mptcp_recvmsg+0x1a5/0x8c0\n"
      " inet_recvmsg+0x4a/0x120\n"
      " sock_recvmsg+0x90/0xa0\n"
      " </TASK>\n"
      "---[ end trace 0000000000000000 ]---\n";
  console::Detector today;
  today.Feed(text);
  today.Finish();
  ASSERT_EQ(today.reports().size(), 1u);
  const model::KernelReport& r = today.reports()[0];
  ASSERT_EQ(model::TypeName(r.type), "warning");
  const std::string old_title = "WARNING: CPU: 1 PID: 212 at net/mptcp/protocol.c:2105 mptcp_rcv_space_adjust";
  ASSERT_NE(r.title, old_title);

  std::string path = Place("retitle");
  if (path.empty()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
  std::string rows = OldRows(11);
  rows += "INSERT INTO crashes (attempt_id, type, title, fatal, fingerprint, guilty, text) VALUES (1, 'warning', '" +
          old_title + "', 0, 'old-fp', 'old_guilty', '" + text + "');";
  MakeOldDatabase(path, 11, rows);
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto attempts = (*store)->LoadAttempts(1, true);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ((*attempts)[0].crashes.size(), 2u);
  // What the detector does not read back as one report keeps its title.
  const auto& kept = (*attempts)[0].crashes[0];
  EXPECT_EQ(kept.title, "BUG: x");
  EXPECT_EQ(kept.fingerprint, "cf");
  const auto& again = (*attempts)[0].crashes[1];
  EXPECT_EQ(again.title, r.title);
  EXPECT_EQ(again.guilty, r.guilty);
  EXPECT_EQ(again.fingerprint, r.fingerprint);
  EXPECT_EQ(again.text, text);
  EXPECT_EQ(again.type, "warning");
}

TEST_P(StoreMigrationCode, TheRunsOfSeriesWrittenBeforeAreIndexed) {
  std::string path = Place("series-runs");
  if (path.empty()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
  std::string rows;
  auto series = [&rows](int id, const std::string& source, const std::string& result) {
    rows += fmt::format(
        "INSERT INTO series (id, source, series_id, round, name, version, submitter, series_json, state, tree, "
        "base_commit, head_commit, conclusion, result_json, queued_at, updated_at) VALUES ({0}, '{1}', {0}, 1, "
        "'s{0}', '1', '', '{{}}', 'done', '', '', '', '', '{2}', 't', 't');",
        id, source, result);
  };
  series(1, kPw, R"({"run":7,"base_run":2,"variants":[{"run":8,"base_run":2}]})");
  series(2, "branch:/srv/linux", R"({"run":9})");
  series(3, kPw, "");
  series(4, kPw, "not json");
  MakeOldDatabase(path, 15, rows);
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto o = (*store)->LoadRunOrigins({2, 7, 8, 9});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->size(), 4u);
  EXPECT_EQ(o->at(2).role, "base");
  EXPECT_EQ(o->at(7).series, 1);
  EXPECT_EQ(o->at(8).role, "tested");
  EXPECT_EQ(o->at(9).kind, "branch");
  EXPECT_EQ(o->at(9).name, "s2");
  EXPECT_EQ((*store)->ListRunsWithOrigin("").value(), (std::vector<int64_t>{2, 7, 8, 9}));
}

TEST_P(StoreMigrationCode, OldRunsGetUidsFromTheirStartHostAndCommandAlikeInEveryCopy) {
  BackendPlace other;  // a place of its own: one schema each on PostgreSQL
  std::string a = Place("uid-a"), b = other.Place(GetParam(), "uid-b");
  if (a.empty()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
  // Two copies of one store, migrated apart (two shards' machines).
  MakeOldDatabase(a, 12, OldRows(12));
  MakeOldDatabase(b, 12, OldRows(12));
  auto sa = Store::Open(a), sb = Store::Open(b);
  ASSERT_TRUE(sa.ok() && sb.ok());
  std::string ua = (*sa)->LoadRun(1).value().uid;
  EXPECT_EQ(ua.size(), 32u);
  EXPECT_EQ(ua, (*sb)->LoadRun(1).value().uid);
  // A run made now gets a uid of its own.
  int64_t id = (*sa)->CreateRun((*sa)->LoadRun(1).value()).value();
  EXPECT_EQ((*sa)->LoadRun(id).value().uid, ua);  // given: kept
  RunRecord fresh = (*sa)->LoadRun(1).value();
  fresh.uid.clear();
  EXPECT_NE((*sa)->LoadRun((*sa)->CreateRun(fresh).value()).value().uid, ua);
}

TEST_P(StoreMigrationCode, FingerprintsAreRecomputedFromTheColumns) {
  std::string path = Place("fp");
  if (path.empty()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
  MakeOldDatabase(path, 5, OldRows(5));
  ASSERT_TRUE(Store::Open(path).ok());
  auto db = Database::Open(path);
  ASSERT_TRUE(db.ok());
  auto q = (*db)->Prepare("SELECT fingerprint FROM environments WHERE id = 1");
  ASSERT_TRUE(q.ok());
  Status st;
  ASSERT_TRUE(q->Next(&st));
  EXPECT_EQ(q->Text(0), OldEnv(5).Fingerprint());
}

TEST_P(StoreMigrationCode, RowsOfOneEnvironmentUnderOldFingerprintsBecomeOne) {
  // The same environment twice, written by builds whose std::hash differed,
  // and a third that differs; runs in each.
  std::string path = Place("dup");
  if (path.empty()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
  Environment e = OldEnv(5);
  std::string rows;
  for (int id : {1, 2, 3}) {
    rows += fmt::format(
        "INSERT INTO environments (id, fingerprint, kernel_release, uname, arch, cpus, memory_kb, where_run, accel, "
        "tools_json, kernel_config) VALUES ({}, 'old{}', '{}', '{}', '{}', {}, {}, '{}', '', '{{\"ip\":\"{}\"}}', '{}');",
        id, id, id == 3 ? "6.2.0" : e.kernel_release, e.uname, e.arch, e.cpus, e.memory_kb + id, e.where,
        e.tools.at("ip"), e.kernel_config);
  }
  rows += "INSERT INTO runs (id, started_at, host, command, tests_dir, plan_json, environment_id) VALUES "
          "(1, 's', 'h', 'c', '/x', '[]', 2), (2, 's', 'h', 'c', '/x', '[]', 1), (3, 's', 'h', 'c', '/x', '[]', 3),"
          "(4, 's', 'h', 'c', '/x', '[]', 2);";
  MakeOldDatabase(path, 5, rows);
  auto store = Store::Open(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto envs = (*store)->ListEnvironments();
  ASSERT_TRUE(envs.ok());
  ASSERT_EQ(envs->size(), 2u);
  EXPECT_EQ(envs->count(1), 1u);
  EXPECT_EQ(envs->count(3), 1u);
  for (int64_t run : {1, 2, 4}) EXPECT_EQ((*store)->LoadRun(run).value().environment_id, 1) << run;
  EXPECT_EQ((*store)->LoadRun(3).value().environment_id, 3);
  EXPECT_EQ((*store)->EnsureEnvironment(e).value(), 1);
  Environment other = e;
  other.kernel_release = "6.2.0";
  EXPECT_EQ((*store)->EnsureEnvironment(other).value(), 3);
}

// vigil migrate: a whole store copied, ids and bytes and all.

// One of everything a store keeps, with hostile bytes where strangers'
// bytes go.
void FillStore(Store& s) {
  int64_t env = s.EnsureEnvironment(Env("6.12.1", "vm")).value();
  int64_t build = s.RecordBuild(ABuild(), {{"compiler", "net/x.c", 3, 7, "warning", "unused \xff", "-Wunused", "f",
                                             "net/x.o", {"net/x.c:1:1: note: here"}, "g at net/y.c:2:3"}})
                      .value();
  RunRecord r = ARun(env);
  r.plan = {"net:a\xff", "net:b", "net:never"};
  r.build_id = build;
  int64_t run = s.CreateRun(r).value();
  AttemptRecord a = Attempt("net:a\xff", "FAIL");
  a.crashes = {{"WARNING", "WARNING in x", false, "fp1", "x", std::string("trace\0\xfe", 7)}};
  ASSERT_TRUE(s.RecordAttempt(run, a).ok());
  ASSERT_TRUE(s.RecordAttempt(run, Attempt("net:a\xff", "PASS", 2)).ok());
  AttemptRecord b = Attempt("net:b", "PASS");
  b.exit_code.reset();
  b.interrupted = true;
  ASSERT_TRUE(s.RecordAttempt(run, b).ok());
  ASSERT_TRUE(s.SetConsoleLog(run, "/var/log/c\xff.log").ok());
  ASSERT_TRUE(s.SetRunVm(run, R"({"kernel":"/bz"})").ok());
  ASSERT_TRUE(s.FinishRun(run, "FAIL", "2026-11-25T10:05:00Z").ok());
  int64_t group = s.CreateGroupRun(AGroup(env, "gh-1", 2, {"net:a\xff", "net:b"}), {{"net:a\xff"}, {"net:b"}}).value();
  ASSERT_TRUE(s.RecordAttempt(group, Attempt("net:b", "PASS")).ok());
  model::RunShardRecord shard;
  shard.run_id = group;
  shard.shard = 2;
  shard.host = "runner-2";
  shard.started_at = "t";
  shard.environment_id = env;
  ASSERT_TRUE(s.StartShard(shard, "").value());
  ASSERT_EQ(s.EndShard(group, 2, "PASS", "t2").value(), 1);
  ASSERT_TRUE(s.SetBaseline("net-next|p", "abc", run).ok());
  BisectionRecord bis{0, "/r", "g", "b", "{}", "running", "", "t", ""};
  int64_t bid = s.CreateBisection(bis).value();
  ASSERT_TRUE(s.RecordBisectRun(bid, {3, "c0ffee", "fail", 1, 900, "t1"}).ok());
  int64_t series = s.AcceptEvent(kPw, 77, "2026-12-05T01:00:00", ASeries(77)).value();
  ASSERT_TRUE(s.SetSeriesCheck(ACheck(series, 11, "final", "vigil-\xffnet", "posted")).ok());
  ASSERT_TRUE(s.SetSeriesMail({series, "<m@x>", "sent", "/m.eml", "t", {}, ""}).ok());
}

// What a store's reads give, as one string: two stores that give the same
// are the same to every command.
std::string Reads(Store& s) {
  std::string out;
  for (const auto& r : Get(s.ListRuns())) {
    out += fmt::format("run {} {} {} {} {} {} {} {}|", r.id, r.started_at, r.finished_at, r.status, r.environment_id,
                       r.build_id, r.run_group, r.shards);
    for (const auto& p : r.plan) out += p + ",";
    out += s.LoadConsoleLog(r.id).value() + "|" + r.vm_json + "\n";
    for (const auto& a : Get(s.LoadAttempts(r.id, true))) {
      out += fmt::format("  {} {} {} {} {} {} {}\n", a.test_path, a.attempt, a.status, a.exit_code.value_or(-1),
                         a.interrupted, a.output, a.environment_issues.size());
      for (const auto& st : a.subtests) out += fmt::format("    {} {} {}\n", st.path, st.status, st.duration_ms.value_or(-1));
      for (const auto& c : a.crashes) out += fmt::format("    crash {} {} {}\n", c.title, c.fingerprint, c.text);
    }
    for (const auto& sh : Get(s.LoadRunShards(r.id))) {
      out += fmt::format("  shard {} {} {} {} {}\n", sh.shard, sh.tests.size(), sh.host, sh.status, sh.finished_at);
    }
  }
  for (const auto& t : Get(s.LoadTestSummaries({1, 2}))) out += fmt::format("sum {} {} {}\n", t.test_path, t.status, t.attempts);
  for (const auto& b : Get(s.ListBuilds(BuildQuery{}))) {
    out += fmt::format("build {} {} {}\n", b.id, b.host, s.LoadBuildDiagnostics(b.id).value().size());
    auto diagnostics = s.LoadBuildDiagnostics(b.id).value();
    for (const auto& d : diagnostics) {
      out += fmt::format("  {} {} {} {}\n", d.file, d.function, d.inlined_from, d.notes.size());
    }
  }
  out += fmt::format("baseline {}\n", s.FindBaseline("net-next|p", "abc").value());
  out += fmt::format("bisect {}\n", s.LoadBisectRuns(1).value().size());
  out += fmt::format("series {} {} {}\n", s.ListSeries(SeriesQuery{}).value().size(), s.WatchCursor(kPw).value(),
                     s.LoadSeriesChecks(1).value().at(0).context);
  out += fmt::format("group {}\n", s.FindGroupRun("gh-1").value());
  return out;
}

TEST(StoreCopy, TheCopiedTablesAreTheSchemasEveryColumnOfEveryTable) {
  TempDb path("copy-schema");
  auto db = Database::Open(path.path());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(MigrateTo(**db, kSchemaVersion).ok());
  auto tables = (*db)->Prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'schema_version' AND name NOT LIKE 'sqlite_%' "
      "ORDER BY name");
  ASSERT_TRUE(tables.ok());
  std::map<std::string, std::vector<std::string>> schema;
  Status st;
  while (tables->Next(&st)) schema[tables->Text(0)];
  ASSERT_TRUE(st.ok());
  for (auto& [table, cols] : schema) {
    auto info = (*db)->Prepare("SELECT name, type FROM pragma_table_info('" + table + "') ORDER BY cid");
    ASSERT_TRUE(info.ok());
    while (info->Next(&st)) cols.push_back(info->Text(0) + ":" + info->Text(1));
  }
  auto copied = CopiedTables();
  ASSERT_EQ(copied.size(), schema.size());
  for (const auto& [table, cols] : copied) {
    ASSERT_TRUE(schema.count(table)) << table;
    const auto& declared = schema[table];
    ASSERT_EQ(cols.size(), declared.size()) << table;
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string name = cols[i].substr(0, cols[i].size() - 2);
      char kind = cols[i].back();
      EXPECT_EQ(declared[i].substr(0, declared[i].find(':')), name) << table;
      std::string type = declared[i].substr(declared[i].find(':') + 1);
      // Integers as integers; text and bytes as bytes (BLOB columns as bytes).
      EXPECT_EQ(type == "INTEGER", kind == 'I') << table << "." << name;
      if (type == "BLOB") {
        EXPECT_EQ(kind, 'B') << table << "." << name;
      }
    }
  }
}

TEST(StoreCopy, ACopyReadsBackAsTheOriginalAndNewIdsFollowTheCopiedOnes) {
  TempDb from("copy-from"), to("copy-to");
  {
    auto s = Store::Open(from.path());
    ASSERT_TRUE(s.ok());
    FillStore(**s);
  }
  auto sums = CopyStore(from.path(), to.path());
  ASSERT_TRUE(sums.ok()) << sums.status().ToString();
  int64_t rows = 0;
  for (const auto& t : *sums) rows += t.rows;
  EXPECT_GT(rows, 20);
  auto a = Store::Open(from.path());
  auto b = Store::Open(to.path());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Reads(**a), Reads(**b));
  EXPECT_EQ((*b)->CreateRun(ARun(0)).value(), 3);
  // Into what holds data already: refused, and nothing changes.
  auto again = CopyStore(from.path(), to.path());
  EXPECT_EQ(again.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(again.status().message().find("holds vigil data already"), std::string::npos) << again.status().message();
  EXPECT_EQ((*b)->ListRuns().value().size(), 3u);
}

TEST(StorePostgres, StatementsArePreparedOnceAndSurviveRollbacksOtherTypesAndLosingThem) {
  TempSchema schema;
  if (!schema.available()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
  ASSERT_TRUE(schema.error().empty()) << schema.error();
  auto opened = Database::Open(schema.uri());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Database& db = **opened;
  ASSERT_TRUE(db.Exec("CREATE TABLE t (id INTEGER NOT NULL, v TEXT)").ok());
  auto ins = db.Prepare("INSERT INTO t (id, v) VALUES (?, ?)");
  ASSERT_TRUE(ins.ok());
  auto insert = [&](int64_t id, const char* v) {
    ins->Reset();
    ins->Bind(1, id);
    if (v) {
      ins->Bind(2, std::string_view(v));
    } else {
      ins->Bind(2, std::nullopt);
    }
    return ins->Run();
  };
  const std::string prepared = "SELECT COUNT(*) FROM pg_prepared_statements";
  // A text is prepared at its second run, once for its parameter types.
  ASSERT_TRUE(insert(1, "a").ok());
  EXPECT_EQ(Count(db, prepared), 0);
  ASSERT_TRUE(insert(2, "b").ok());
  // The insert, and the count itself: this is its second run.
  EXPECT_EQ(Count(db, prepared), 2);
  ASSERT_TRUE(insert(3, "c").ok());
  EXPECT_EQ(Count(db, prepared), 2);
  // A NULL is another type: prepared apart, and both work.
  ASSERT_TRUE(insert(4, nullptr).ok());
  ASSERT_TRUE(insert(5, nullptr).ok());
  ASSERT_TRUE(insert(6, "f").ok());
  EXPECT_EQ(Count(db, prepared), 3);
  // A text run once (its ids written into it) is not prepared.
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM t WHERE id IN (1, 2)"), 2);
  EXPECT_EQ(Count(db, prepared), 3);
  // A transaction rolled back after a failure does not take them with it.
  ASSERT_TRUE(db.Begin().ok());
  ASSERT_TRUE(insert(7, "g").ok());
  EXPECT_FALSE(db.Exec("SELECT 1 / 0").ok());
  EXPECT_FALSE(insert(8, "h").ok());  // the transaction is aborted
  ASSERT_TRUE(db.Exec("ROLLBACK").ok());
  ASSERT_TRUE(insert(9, "i").ok());
  EXPECT_EQ(Count(db, prepared), 3);  // still prepared
  // Lost (DISCARD ALL, or a pooler's other server connection): outside a
  // transaction the statement runs unprepared; from then on nothing is
  // prepared on this connection.
  ASSERT_TRUE(db.Exec("DEALLOCATE ALL").ok());
  ASSERT_TRUE(insert(10, "j").ok());
  EXPECT_EQ(Count(db, prepared), 0);
  ASSERT_TRUE(insert(11, "k").ok());
  EXPECT_EQ(Count(db, prepared), 0);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM t"), 9);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM t WHERE id IN (7, 8)"), 0);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM t WHERE v IS NULL"), 2);

  // Lost inside a transaction: that statement fails, saying why, and the
  // next transaction runs unprepared.
  auto other = Database::Open(schema.uri());
  ASSERT_TRUE(other.ok());
  auto q = (*other)->Prepare("INSERT INTO t (id, v) VALUES (?, 'x')");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(q->Bind(1, 20).Run().ok());
  q->Reset();
  ASSERT_TRUE(q->Bind(1, 21).Run().ok());  // prepared now
  ASSERT_TRUE((*other)->Exec("DEALLOCATE ALL").ok());
  ASSERT_TRUE((*other)->Begin().ok());
  q->Reset();
  Status lost = q->Bind(1, 22).Run();
  EXPECT_FALSE(lost.ok());
  EXPECT_NE(lost.message().find("lost vigil's prepared statements"), std::string::npos) << lost.ToString();
  ASSERT_TRUE((*other)->Exec("ROLLBACK").ok());
  ASSERT_TRUE((*other)->Begin().ok());
  q->Reset();
  ASSERT_TRUE(q->Bind(1, 23).Run().ok());
  ASSERT_TRUE((*other)->Exec("COMMIT").ok());
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM t WHERE id >= 20"), 3);
}

TEST(StoreCopy, SqliteToPostgresqlAndBackGivesTheSameTablesAndReads) {
  TempSchema schema;
  if (!schema.available()) GTEST_SKIP() << "no PostgreSQL server: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
  ASSERT_TRUE(schema.error().empty()) << schema.error();
  TempDb from("pg-from"), back("pg-back");
  {
    auto s = Store::Open(from.path());
    ASSERT_TRUE(s.ok());
    FillStore(**s);
  }
  auto there = CopyStore(from.path(), schema.uri());
  ASSERT_TRUE(there.ok()) << there.status().ToString();
  auto returned = CopyStore(schema.uri(), back.path());
  ASSERT_TRUE(returned.ok()) << returned.status().ToString();
  ASSERT_EQ(there->size(), returned->size());
  for (size_t i = 0; i < there->size(); ++i) {
    EXPECT_EQ((*there)[i].rows, (*returned)[i].rows) << (*there)[i].table;
    EXPECT_EQ((*there)[i].checksum, (*returned)[i].checksum) << (*there)[i].table;
  }
  auto a = Store::Open(from.path());
  auto pg = Store::Open(schema.uri());
  auto b = Store::Open(back.path());
  ASSERT_TRUE(a.ok() && pg.ok() && b.ok());
  EXPECT_EQ(Reads(**a), Reads(**pg));
  EXPECT_EQ(Reads(**a), Reads(**b));
  // The server's identity sequences continue after the copied ids.
  EXPECT_EQ((*pg)->CreateRun(ARun(0)).value(), 3);
  EXPECT_EQ((*pg)->EnsureEnvironment(Env("7.0")).value(), 2);
}

// Differential: one random sequence of writes (runs and their attempts,
// retries, interrupted attempts discarded on resume, kernel reports, builds,
// bisections, series, run groups and their shards) applied to every
// backend; every read gives the same in all of them.
std::string AllReads(Store& s) {
  std::string out;
  auto runs = s.ListRuns().value();
  std::vector<int64_t> ids;
  for (const auto& r : runs) {
    ids.push_back(r.id);
    out += fmt::format("run {} {} {} {} env{} build{} {} {} owner[{}] plan{}\n", r.id, r.started_at, r.finished_at,
                       r.status, r.environment_id, r.build_id, r.run_group, r.shards, r.owner, r.plan.size());
    for (const auto& a : Get(s.LoadAttempts(r.id, true))) {
      out += fmt::format("  {}#{} {} {} {} {} sub{} crash{} [{}]\n", a.test_path, a.attempt, a.status,
                         a.exit_code.value_or(-999), a.duration_ms, a.interrupted, a.subtests.size(), a.crashes.size(),
                         a.output);
      for (const auto& st : a.subtests) out += fmt::format("    {}={}\n", st.path, st.status);
    }
    for (const auto& sh : Get(s.LoadRunShards(r.id))) {
      out += fmt::format("  shard {} {} [{}] {} {} {}\n", sh.shard, sh.tests.size(), sh.owner, sh.status,
                         sh.started_at, sh.finished_at);
    }
  }
  for (const auto& b : Get(s.LoadAttemptBriefs(ids))) {
    out += fmt::format("brief {} {} {} {} {}\n", b.run_id, b.test_path, b.attempt, b.status, b.crashes);
  }
  for (const auto& t : Get(s.LoadTestSummaries(ids))) {
    out += fmt::format("summary {} {} {} {} {}\n", t.run_id, t.test_path, t.status, t.attempts, t.crashes);
    for (const auto& st : model::UnpackSubtests(t.subtests)) out += fmt::format("  {}={}\n", st.path, st.status);
  }
  for (const auto& [path, ms] : Get(s.LastDurations())) out += fmt::format("last {} {}\n", path, ms);
  for (const auto& c : Get(s.ListCrashSightings())) {
    out += fmt::format("crash {} {} {} {}\n", c.run_id, c.test_path, c.attempt, c.crash.title);
  }
  for (const auto& ra : Get(s.LoadTestAttempts("c:t1", 3))) {
    out += fmt::format("t1 {} {}\n", ra.run_id, ra.attempt.status);
  }
  for (const auto& b : Get(s.ListBuilds(BuildQuery{}))) out += fmt::format("build {} {}\n", b.id, b.status);
  for (const auto& se : Get(s.ListSeries(SeriesQuery{}))) {
    out += fmt::format("series {} {} {} {}\n", se.id, se.series_id, se.round, se.state);
  }
  if (auto b = s.LatestBisection("/r"); b.ok()) {
    out += fmt::format("bisection {} {}\n", b->id, s.LoadBisectRuns(b->id).value().size());
  }
  return out;
}

void RandomWrites(Store& s, uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
  const char* statuses[] = {"PASS", "FAIL", "SKIP", "TIMEOUT", "CRASH", "XFAIL", "ERROR"};
  int64_t env = s.EnsureEnvironment(Env("6.12.1", "vm")).value();
  std::vector<std::string> plan;
  for (int t = 0; t < 6; ++t) plan.push_back(fmt::format("c:t{}", t));
  int builds = 0, groups = 0;
  for (int step = 0; step < 40; ++step) {
    switch (pick(5)) {
      case 0:
      case 1: {  // a run, its tests with retries; sometimes left unfinished and resumed
        RunRecord r = ARun(pick(2) ? env : 0, fmt::format("2026-12-0{}T00:{:02}:00Z", 1 + pick(5), step));
        r.plan = plan;
        if (builds > 0 && pick(2)) r.build_id = 1 + pick(builds);
        int64_t run = s.CreateRun(r).value();
        for (const auto& p : plan) {
          if (pick(6) == 0) continue;  // never ran
          for (int a = 1; a <= 1 + pick(3); ++a) {
            AttemptRecord at = Attempt(p, statuses[pick(7)], a);
            at.duration_ms = pick(100000);
            at.interrupted = pick(10) == 0;
            at.subtests.clear();
            for (int k = 0; k < pick(4); ++k) at.subtests.push_back({fmt::format("s{}", pick(3)), statuses[pick(3)], k});
            if (pick(8) == 0) at.crashes = {{"WARNING", "WARNING in f" + std::to_string(pick(2)), false, "fp", "f", "t"}};
            ASSERT_TRUE(s.RecordAttempt(run, at).ok());
          }
        }
        if (pick(4) == 0) {
          ASSERT_TRUE(s.DiscardInterrupted(run).ok());
        }
        if (pick(5)) {
          ASSERT_TRUE(s.FinishRun(run, statuses[pick(2)], "2026-12-09T00:00:00Z").ok());
        }
        break;
      }
      case 2: {  // a build
        ASSERT_TRUE(s.RecordBuild(ABuild("/src/linux", pick(2) ? "normal" : "debug", pick(2) ? "built" : "failed"),
                                  {{"compiler", "a.c", 1, 2, "warning", "w", "-Wx", "", "", {}, ""}})
                        .ok());
        ++builds;
        break;
      }
      case 3: {  // a run group: shards start, record, end in random order
        std::string name = fmt::format("g{}", groups++);
        int n = 1 + pick(3);
        std::vector<std::vector<std::string>> split(static_cast<size_t>(n));
        for (size_t i = 0; i < plan.size(); ++i) split[i % static_cast<size_t>(n)].push_back(plan[i]);
        int64_t run = s.CreateGroupRun(AGroup(env, name, n, plan), split).value();
        for (int k = 1; k <= n; ++k) {
          if (pick(4) == 0) continue;
          model::RunShardRecord sh;
          sh.run_id = run;
          sh.shard = k;
          sh.started_at = "t";
          sh.owner = pick(2) ? "h 1 2" : "";
          ASSERT_TRUE(s.StartShard(sh, "").value());
          for (const auto& p : split[static_cast<size_t>(k - 1)]) {
            ASSERT_TRUE(s.RecordAttempt(run, Attempt(p, statuses[pick(3)])).ok());
          }
          ASSERT_TRUE(s.EndShard(run, k, statuses[pick(2)], pick(3) ? "2026-12-09T01:00:00Z" : "").ok());
        }
        break;
      }
      case 4: {  // the patch loop and a bisection
        int64_t series = s.QueueSeries(ASeries(100 + pick(3))).value();
        if (pick(2)) {
          ASSERT_TRUE(s.SetSeriesCheck(ACheck(series, 11, "final", "ctx")).ok());
        }
        BisectionRecord b{0, "/r", "g", "b", "{}", "running", "", "t", ""};
        int64_t bid = s.CreateBisection(b).value();
        ASSERT_TRUE(s.RecordBisectRun(bid, {pick(9), "c", "fail", 1, 5, "t"}).ok());
        break;
      }
    }
  }
}

TEST(StoreDifferential, RandomWritesReadTheSameInEveryBackend) {
  TempSchema schema;
  for (uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
    auto memory = NewMemoryStore();
    RandomWrites(*memory, seed);
    std::string want = AllReads(*memory);
    TempDb file(fmt::format("diff-{}", seed));
    auto sqlite = Store::Open(file.path());
    ASSERT_TRUE(sqlite.ok());
    RandomWrites(**sqlite, seed);
    EXPECT_EQ(AllReads(**sqlite), want) << "seed " << seed;
    if (schema.available() && schema.error().empty()) {
      TempSchema one;
      auto pg = Store::Open(one.uri());
      ASSERT_TRUE(pg.ok()) << pg.status().ToString();
      RandomWrites(**pg, seed);
      EXPECT_EQ(AllReads(**pg), want) << "seed " << seed;
    }
  }
  if (!schema.available()) GTEST_SKIP() << "PostgreSQL not compared: VIGIL_TEST_POSTGRES is unset (ctest sets it)";
}

}  // namespace
}  // namespace vigil::store
