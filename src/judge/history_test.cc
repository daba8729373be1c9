#include "judge/history.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "store/memory_store.h"

namespace vigil::judge {
namespace {

// The windows as LoadHistory chose them when it read every run: runs up to
// `up_to`, the last `window` of each environment class.
std::vector<int64_t> WindowOverEveryRun(store::Store& db, int64_t up_to, int window) {
  std::vector<std::pair<int64_t, std::string>> selected;
  auto runs = db.ListRuns();
  for (const auto& r : runs.value()) {
    if (up_to > 0 && r.id > up_to) break;
    model::Environment env;
    if (r.environment_id > 0) env = db.LoadEnvironment(r.environment_id).value();
    selected.emplace_back(r.id, EnvClass(env));
  }
  std::set<size_t> keep;
  std::map<std::string, int> per_class;
  for (size_t i = selected.size(); i-- > 0;) {
    if (window > 0 && per_class[selected[i].second]++ >= window) continue;
    keep.insert(i);
  }
  std::vector<int64_t> out;
  for (size_t i : keep) out.push_back(selected[i].first);
  return out;
}

TEST(LoadHistory, WindowsPerClassAsWhenEveryRunWasRead) {
  auto db = store::NewMemoryStore();
  auto env = [&](const std::string& release, const std::string& where, const std::string& tool) {
    model::Environment e;
    e.kernel_release = release;
    e.where = where;
    e.accel = where == "vm" ? "tcg" : "";
    e.tools = {{"t", tool}};
    return db->EnsureEnvironment(e).value();
  };
  // Two environments of class "host 6.1", one "host" (no kernel line, like
  // runs without an environment), one "vm tcg 6.12".
  std::vector<int64_t> envs = {env("6.1.0", "host", "a"), env("6.1.5", "host", "b"), env("weird", "host", "c"),
                               env("6.12.1", "vm", "d"), 0};
  for (int i = 0; i < 40; ++i) {
    model::RunRecord r;
    r.started_at = "t";
    r.plan = {"c:t"};
    r.environment_id = envs[(i * 7 + i / 3) % envs.size()];
    int64_t id = db->CreateRun(r).value();
    model::AttemptRecord a;
    a.test_path = "c:t";
    a.status = i % 4 ? "PASS" : "FAIL";
    ASSERT_TRUE(db->RecordAttempt(id, a).ok());
  }
  for (int64_t up_to : {0, 1, 17, 39, 40, 100}) {
    for (int window : {0, 1, 2, 5, 30}) {
      auto h = LoadHistory(*db, up_to, window);
      ASSERT_TRUE(h.ok());
      std::vector<int64_t> ids;
      for (const auto& v : h.value()) ids.push_back(v.run.id);
      EXPECT_EQ(ids, WindowOverEveryRun(*db, up_to, window)) << "up_to " << up_to << " window " << window;
    }
  }
  auto h = LoadHistory(*db, 0, 2);
  ASSERT_TRUE(h.ok());
  for (const auto& v : h.value()) {
    EXPECT_EQ(v.tests.at("c:t").attempts, 1);
    EXPECT_EQ(v.env_class, v.run.environment_id ? EnvClass(db->LoadEnvironment(v.run.environment_id).value()) : "host");
  }
}

TEST(LoadRunView, InterruptedAttemptsAreNoResultAndAnInterruptedRunIsIncomplete) {
  auto db = store::NewMemoryStore();
  model::RunRecord r;
  r.started_at = "t";
  r.plan = {"c:a", "c:b"};
  int64_t id = db->CreateRun(r).value();
  model::AttemptRecord a;
  a.test_path = "c:a";
  a.status = "PASS";
  ASSERT_TRUE(db->RecordAttempt(id, a).ok());
  model::AttemptRecord cut;
  cut.test_path = "c:b";
  cut.status = "ERROR";
  cut.interrupted = true;
  ASSERT_TRUE(db->RecordAttempt(id, cut).ok());
  ASSERT_TRUE(db->FinishRun(id, "INTERRUPTED", "t2").ok());
  RunView v = LoadRunView(*db, id).value();
  EXPECT_EQ(v.tests.size(), 1u);
  EXPECT_EQ(v.tests.count("c:b"), 0u);
  EXPECT_FALSE(v.complete());
  // Finished by --resume: complete.
  ASSERT_TRUE(db->DiscardInterrupted(id).ok());
  cut.status = "PASS";
  cut.interrupted = false;
  ASSERT_TRUE(db->RecordAttempt(id, cut).ok());
  ASSERT_TRUE(db->FinishRun(id, "PASS", "t3").ok());
  EXPECT_TRUE(LoadRunView(*db, id).value().complete());
}

TEST(ResolveRun, StepsBackOverTheRunsBeforeIt) {
  auto db = store::NewMemoryStore();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(db->CreateRun(model::RunRecord{}).ok());
  EXPECT_EQ(ResolveRun(*db, "last").value(), 5);
  EXPECT_EQ(ResolveRun(*db, "last~2").value(), 3);
  EXPECT_EQ(ResolveRun(*db, "4~3").value(), 1);
  EXPECT_EQ(ResolveRun(*db, "4~4").status().message(), "no run 4~4");
  EXPECT_EQ(ResolveRun(*db, "0~1").status().message(), "no run 0~1");
  EXPECT_EQ(ResolveRun(*db, "9").status().message(), "no run 9");
}

}  // namespace
}  // namespace vigil::judge
