#include "engine/merge.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "engine/run_group.h"
#include "store/memory_store.h"
#include "sys/process.h"

namespace vigil::engine {
namespace {

model::AttemptRecord Attempt(const std::string& path, const std::string& status) {
  model::AttemptRecord a;
  a.test_path = path;
  a.status = status;
  a.duration_ms = 100;
  a.output = "out of " + path;
  a.subtests = {{"sub", status, 5}};
  return a;
}

model::Environment Env(const std::string& host) {
  model::Environment e;
  e.kernel_release = "6.12.0";
  e.uname = "Linux " + host;
  e.arch = "x86_64";
  e.cpus = 2;
  return e;
}

const std::vector<std::string> kPlan = {"c:a", "c:b", "c:c", "c:d"};

// The store a shard's machine uploads: the history it started from, and
// the group's run with its own shard run.
std::unique_ptr<store::Store> ShardStore(int shard, std::vector<std::vector<std::string>> split = {{"c:a", "c:c"},
                                                                                                   {"c:b", "c:d"}}) {
  auto s = store::NewMemoryStore();
  int64_t env = s->EnsureEnvironment(Env("runner-" + std::to_string(shard))).value();
  model::RunRecord history;
  history.started_at = "2026-12-01T00:00:00Z";
  history.host = "old";
  history.command = "vigil run";
  history.plan = kPlan;
  history.environment_id = env;
  history.uid = "00000000000000000000000000000001";  // the same run in every shard's store
  int64_t h = s->CreateRun(history).value();
  for (const auto& p : kPlan) EXPECT_TRUE(s->RecordAttempt(h, Attempt(p, "PASS")).ok());
  EXPECT_TRUE(s->FinishRun(h, "PASS", "2026-12-01T01:00:00Z").ok());
  model::RunRecord run = history;
  run.uid.clear();
  run.started_at = "2026-12-05T00:00:00Z";
  run.run_group = "ci-7";
  run.shards = 2;
  int64_t g = s->CreateGroupRun(run, split).value();
  model::RunShardRecord mine;
  mine.run_id = g;
  mine.shard = shard;
  mine.host = "runner-" + std::to_string(shard);
  mine.started_at = "2026-12-05T00:00:01Z";
  mine.environment_id = env;
  EXPECT_TRUE(s->StartShard(mine, "").value());
  std::string status = "PASS";
  for (const auto& p : split[static_cast<size_t>(shard - 1)]) {
    std::string st = p == "c:c" ? "FAIL" : "PASS";
    if (st == "FAIL") status = "FAIL";
    EXPECT_TRUE(s->RecordAttempt(g, Attempt(p, st)).ok());
  }
  EXPECT_EQ(s->EndShard(g, shard, status, "2026-12-05T00:1" + std::to_string(shard) + ":00Z").value(), 1);
  return s;
}

TEST(MergeStore, ShardsOfAGroupBecomeItsOneRunFinishedByTheLastAndHistoryIsCopiedOnce) {
  auto out = store::NewMemoryStore();
  auto one = ShardStore(1), two = ShardStore(2);
  MergeSummary sum;
  ASSERT_TRUE(MergeStore(*out, *one, "one.db", &sum).ok());
  EXPECT_EQ(sum.runs_copied, 1);
  EXPECT_EQ(sum.shards_merged, 1);
  EXPECT_EQ(sum.shards_absent, 1);
  EXPECT_EQ(sum.groups_incomplete, std::vector<std::string>{"ci-7 (run 2)"});
  EXPECT_EQ(out->LoadRun(2).value().status, "");
  ASSERT_TRUE(MergeStore(*out, *two, "two.db", &sum).ok());
  EXPECT_EQ(sum.runs_copied, 1);
  EXPECT_EQ(sum.runs_present, 1);  // the history both started from
  EXPECT_EQ(sum.shards_merged, 2);
  EXPECT_EQ(sum.groups_complete, std::vector<std::string>{"ci-7 (run 2)"});
  EXPECT_TRUE(sum.groups_incomplete.empty());
  ASSERT_EQ(out->ListRuns().value().size(), 2u);
  model::RunRecord run = out->LoadRun(2).value();
  EXPECT_EQ(run.run_group, "ci-7");
  EXPECT_EQ(run.status, "FAIL");
  EXPECT_EQ(run.finished_at, "2026-12-05T00:12:00Z");  // when its last shard did
  auto whole = LoadFinishedRun(*out, 2).value();
  ASSERT_EQ(whole.results.size(), 4u);
  EXPECT_EQ(whole.results[2].path, "c:c");
  EXPECT_EQ(whole.results[2].attempts[0].status, "FAIL");
  EXPECT_EQ(whole.results[2].attempts[0].output, "out of c:c");
  auto shards = out->LoadRunShards(2).value();
  EXPECT_EQ(shards[0].host, "runner-1");
  EXPECT_EQ(shards[1].host, "runner-2");
  EXPECT_EQ(shards[1].status, "PASS");
  EXPECT_NE(shards[0].environment_id, shards[1].environment_id);
  // The history's attempts came along.
  EXPECT_EQ(out->LoadAttempts(1, false).value().size(), 4u);
  // Merging again changes nothing.
  MergeSummary again;
  ASSERT_TRUE(MergeStore(*out, *one, "one.db", &again).ok());
  EXPECT_EQ(again.shards_present, 1);
  EXPECT_EQ(again.runs_present, 1);
  EXPECT_EQ(again.shards_merged + again.runs_copied, 0);
  EXPECT_EQ(out->LoadAttempts(2, false).value().size(), 4u);
}

TEST(MergeStore, AShardOfAnotherSplitOrThatRanAnotherShardsTestIsRefusedBeforeItGoesIn) {
  auto out = store::NewMemoryStore();
  MergeSummary sum;
  ASSERT_TRUE(MergeStore(*out, *ShardStore(1), "one.db", &sum).ok());
  // Shard 2 split otherwise (run from another history).
  auto other = ShardStore(2, {{"c:a"}, {"c:b", "c:c", "c:d"}});
  Status st = MergeStore(*out, *other, "other.db", &sum);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("its split differs"), std::string::npos) << st.message();
  EXPECT_EQ(out->LoadAttempts(2, false).value().size(), 2u);
  // An output whose run has a result of one of the shard's tests already
  // (written there by another way): refused, nothing of the shard copied.
  auto out2 = store::NewMemoryStore();
  model::RunRecord run;
  run.plan = kPlan;
  run.run_group = "ci-7";
  run.shards = 2;
  int64_t g = out2->CreateGroupRun(run, {{"c:a", "c:c"}, {"c:b", "c:d"}}).value();
  ASSERT_TRUE(out2->RecordAttempt(g, Attempt("c:d", "PASS")).ok());
  st = MergeStore(*out2, *ShardStore(2), "two.db", &sum);
  EXPECT_NE(st.message().find("ran c:d, which the output's run has results of already"), std::string::npos)
      << st.message();
  EXPECT_EQ(out2->LoadAttempts(g, false).value().size(), 1u);
  EXPECT_EQ(out2->LoadRunShards(g).value()[1].started_at, "");
}

TEST(MergeStore, AnUnfinishedShardIsLeftForAWholeOneAndAMergeCutShortIsCompleted) {
  auto out = store::NewMemoryStore();
  MergeSummary sum;
  // Shard 1's file from a job that was cancelled: started, not finished.
  auto cut = ShardStore(1);
  ASSERT_TRUE(cut->EndShard(2, 1, "INTERRUPTED", "").ok());
  ASSERT_TRUE(MergeStore(*out, *cut, "cut.db", &sum).ok());
  EXPECT_EQ(sum.shards_merged, 0);
  EXPECT_EQ(sum.shards_absent, 2);
  EXPECT_TRUE(out->LoadAttempts(2, false).value().empty());
  // The job again, whole: merged.
  ASSERT_TRUE(MergeStore(*out, *ShardStore(1), "one.db", &sum).ok());
  EXPECT_EQ(sum.shards_merged, 1);
  EXPECT_EQ(out->LoadAttempts(2, false).value().size(), 2u);
  // A merge of shard 2 killed halfway: the output's shard started by a
  // vigil that is gone, one attempt in. The next merge completes it.
  model::RunShardRecord half = out->LoadRunShards(2).value()[1];
  half.owner = fmt::format("{} {} 1", sys::HostName(), getpid());
  half.started_at = "t";
  ASSERT_TRUE(out->StartShard(half, "").value());
  ASSERT_TRUE(out->RecordAttempt(2, Attempt("c:b", "PASS")).ok());
  ASSERT_TRUE(MergeStore(*out, *ShardStore(2), "two.db", &sum).ok());
  EXPECT_EQ(out->LoadAttempts(2, false).value().size(), 4u);
  EXPECT_EQ(out->LoadRun(2).value().status, "FAIL");
  EXPECT_EQ(sum.groups_complete, std::vector<std::string>{"ci-7 (run 2)"});
}

TEST(MergeStore, ARunWhoseCopyWasCutShortIsCompletedNotCopiedAgain) {
  // A merge killed while it copied the history run: the run is in the
  // output, unfinished and run by no one, one of its attempts in.
  auto out = store::NewMemoryStore();
  model::RunRecord partial;
  partial.started_at = "2026-12-01T00:00:00Z";
  partial.host = "old";
  partial.command = "vigil run";
  partial.plan = kPlan;
  partial.environment_id = out->EnsureEnvironment(Env("runner-1")).value();
  partial.uid = "00000000000000000000000000000001";
  int64_t id = out->CreateRun(partial).value();
  ASSERT_TRUE(out->RecordAttempt(id, Attempt("c:b", "PASS")).ok());
  // Someone else's run that is still going, with the same start: not taken over.
  model::RunRecord live = partial;
  live.uid.clear();
  live.owner = "elsewhere 1 1";
  int64_t live_id = out->CreateRun(live).value();

  MergeSummary sum;
  ASSERT_TRUE(MergeStore(*out, *ShardStore(1), "one.db", &sum).ok());
  EXPECT_EQ(sum.runs_copied, 1);
  model::RunRecord done = out->LoadRun(id).value();
  EXPECT_EQ(done.status, "PASS");
  EXPECT_EQ(done.finished_at, "2026-12-01T01:00:00Z");
  auto attempts = out->LoadAttempts(id, false).value();
  ASSERT_EQ(attempts.size(), 4u);  // the one it had and the three it lacked, once each
  EXPECT_EQ(out->LoadRun(live_id).value().status, "");
  // The history is one run in the output besides the live one and the
  // group's run: merging again copies nothing.
  store::RunQuery q;
  q.plans = false;
  size_t runs = out->ListRuns(q).value().size();
  ASSERT_TRUE(MergeStore(*out, *ShardStore(1), "one.db", &sum).ok());
  EXPECT_EQ(out->ListRuns(q).value().size(), runs);
  EXPECT_EQ(sum.runs_present, 1);
}

TEST(MergeStore, TwoRunsStartedInOneSecondByOneCommandAreTwoRuns) {
  // vigil run --repeat, or two quick runs: the same start, host and command.
  auto in = store::NewMemoryStore();
  int64_t env = in->EnsureEnvironment(Env("runner-1")).value();
  for (const char* status : {"PASS", "FAIL"}) {
    model::RunRecord r;
    r.started_at = "2026-12-01T00:00:00Z";
    r.host = "h";
    r.command = "vigil run";
    r.plan = {"c:a"};
    r.environment_id = env;
    int64_t id = in->CreateRun(r).value();
    ASSERT_TRUE(in->RecordAttempt(id, Attempt("c:a", status)).ok());
    ASSERT_TRUE(in->FinishRun(id, status, "2026-12-01T00:00:01Z").ok());
  }
  auto out = store::NewMemoryStore();
  MergeSummary sum;
  ASSERT_TRUE(MergeStore(*out, *in, "in.db", &sum).ok());
  EXPECT_EQ(sum.runs_copied, 2);
  EXPECT_EQ(sum.runs_present, 0);
  // Merged again: both there.
  MergeSummary again;
  ASSERT_TRUE(MergeStore(*out, *in, "in.db", &again).ok());
  EXPECT_EQ(again.runs_copied, 0);
  EXPECT_EQ(again.runs_present, 2);
  store::RunQuery q;
  auto runs = out->ListRuns(q).value();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].uid, in->LoadRun(1).value().uid);
  EXPECT_EQ(runs[1].uid, in->LoadRun(2).value().uid);
}

}  // namespace
}  // namespace vigil::engine
