#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vigil::store {
using model::AttemptRecord;
using model::BisectionRecord;
using model::BisectRunRecord;
using model::Environment;
using model::RunRecord;
using model::SubtestRecord;

namespace {
namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() / ("vigil-store-" + std::to_string(getpid()) + ".db")).string();
    Remove();
  }
  void TearDown() override { Remove(); }
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path_ + suffix);
  }
  std::string path_;
};

AttemptRecord Attempt(const std::string& path, const std::string& status) {
  AttemptRecord a;
  a.test_path = path;
  a.status = status;
  a.exit_code = status == "PASS" ? 0 : 1;
  a.duration_ms = 1234;
  a.started_at = "2026-11-25T10:00:00Z";
  a.output_bytes = 5;
  a.output = std::string("out\0put", 7);
  a.environment_issues = {"ping: command not found"};
  a.subtests = {{"first", "PASS", 4}, {"group > inner", "FAIL", std::nullopt}};
  return a;
}

TEST_F(StoreTest, CreatesSchemaAndRoundTripsARun) {
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->schema_version(), kSchemaVersion);
  Environment env;
  env.kernel_release = "6.1.0-test";
  env.tools = {{"ip", "iproute2-6.1.0"}};
  auto env_id = (*store)->EnsureEnvironment(env);
  ASSERT_TRUE(env_id.ok());
  auto again = (*store)->EnsureEnvironment(env);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*env_id, *again);  // deduplicated by fingerprint

  RunRecord run;
  run.started_at = "2026-11-25T10:00:00Z";
  run.host = "h";
  run.command = "vigil run --tests x";
  run.tests_dir = "/x";
  run.plan = {"a:one", "a:two"};
  run.environment_id = *env_id;
  auto run_id = (*store)->CreateRun(run);
  ASSERT_TRUE(run_id.ok());
  ASSERT_TRUE((*store)->RecordAttempt(*run_id, Attempt("a:one", "PASS")).ok());
  AttemptRecord second = Attempt("a:one", "FAIL");
  second.attempt = 2;
  ASSERT_TRUE((*store)->RecordAttempt(*run_id, second).ok());
  // The same attempt twice is refused (no duplicates after a resume).
  EXPECT_FALSE((*store)->RecordAttempt(*run_id, second).ok());
  ASSERT_TRUE((*store)->FinishRun(*run_id, "FAIL", "2026-11-25T10:01:00Z").ok());
  store->reset();

  auto reopened = Store::Open(path_);
  ASSERT_TRUE(reopened.ok());
  auto loaded = (*reopened)->LoadRun(*run_id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->plan, run.plan);
  EXPECT_EQ(loaded->status, "FAIL");
  EXPECT_EQ(loaded->environment_id, *env_id);
  auto latest = (*reopened)->LatestRun();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(*latest, *run_id);
  auto attempts = (*reopened)->LoadAttempts(*run_id, true);
  ASSERT_TRUE(attempts.ok());
  ASSERT_EQ(attempts->size(), 2u);
  EXPECT_EQ((*attempts)[1].attempt, 2);
  EXPECT_EQ((*attempts)[0].output, std::string("out\0put", 7));
  ASSERT_EQ((*attempts)[0].subtests.size(), 2u);
  EXPECT_EQ((*attempts)[0].subtests[1].path, "group > inner");
  EXPECT_FALSE((*attempts)[0].subtests[1].duration_ms.has_value());
  EXPECT_EQ((*attempts)[0].environment_issues.front(), "ping: command not found");
  auto durations = (*reopened)->LastDurations();
  ASSERT_TRUE(durations.ok());
  EXPECT_EQ(durations->at("a:one"), 1234);
}

TEST_F(StoreTest, NoRunsIsNotFound) {
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok());
  auto latest = (*store)->LatestRun();
  EXPECT_FALSE(latest.ok());
  EXPECT_EQ(latest.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE((*store)->LoadRun(42).ok());
}

TEST_F(StoreTest, NewerSchemaIsRefused) {
  {
    auto db = Database::Open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE schema_version (version INTEGER NOT NULL);"
                            "INSERT INTO schema_version VALUES (999);")
                    .ok());
  }
  auto store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("newer"), std::string::npos);
}

TEST_F(StoreTest, NotADatabase) {
  { std::ofstream(path_) << "this is not sqlite, just text that is long enough to be a header......"; }
  EXPECT_FALSE(Store::Open(path_).ok());
}

}  // namespace
}  // namespace vigil::store
