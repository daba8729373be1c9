#include "judge/history.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "judge/flakes.h"
#include "judge/verdict.h"
#include "model/series_run.h"
#include "store/memory_store.h"
#include "store/test_stores.h"

namespace vigil::judge {
namespace {

// A run started at "t" with this plan, in environment `env` (0: none).
int64_t NewRun(store::Store& db, std::vector<std::string> plan, int64_t env = 0) {
  model::RunRecord r;
  r.started_at = "t";
  r.plan = std::move(plan);
  r.environment_id = env;
  return db.CreateRun(r).value();
}

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
    int64_t id = NewRun(*db, {"c:t"}, envs[(i * 7 + i / 3) % envs.size()]);
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

// A series' patched runs (vigil watch) are judged against the history, never
// part of it: not in any window, not a baseline, not what quarantine learns.
// In either store, through windows of several pages.
TEST(LoadHistory, RunsASeriesTestedAreNotHistory) {
  store::ForEachStore("history-series", [](store::Store& db) {
    // Runs 1..80: every third of 1..12 and all of 13..79 tested for a series
    // (their subtest failed, then passed on a retry: what would quarantine
    // it); 80 is a series' run its series does not name yet (its testing
    // was cut short), known by its name; the rest pass.
    std::vector<int64_t> plain;
    for (int i = 1; i <= 80; ++i) {
      bool patched = i % 3 == 0 || i > 12;
      model::RunRecord r;
      r.started_at = "t";
      r.plan = {"c:t"};
      r.command = patched ? model::SeriesRunCommand(i, "[PATCH] c: change t") : "vigil run -t c:t";
      int64_t id = db.CreateRun(r).value();
      ASSERT_EQ(id, i);
      for (int attempt = 1; attempt <= (patched ? 2 : 1); ++attempt) {
        model::AttemptRecord a;
        a.test_path = "c:t";
        a.attempt = attempt;
        a.status = patched && attempt == 1 ? "FAIL" : "PASS";
        a.subtests = {{"s", a.status, std::nullopt}};
        ASSERT_TRUE(db.RecordAttempt(id, a).ok());
      }
      ASSERT_TRUE(db.FinishRun(id, patched ? "FLAKY" : "PASS", "t2").ok());
      if (!patched) plain.push_back(id);
      if (!patched || i == 80) continue;
      model::SeriesRecord s;
      s.source = "https://patchwork.example.org/api";
      s.series_id = id;
      s.name = "[PATCH] c: change t";
      s.state = "queued";
      s.queued_at = s.updated_at = "2026-12-07T00:00:00Z";
      s.result_json = fmt::format(R"({{"run":{},"base_run":1}})", id);
      ASSERT_TRUE(db.QueueSeries(s).ok());
    }
    auto ids = [](Result<std::vector<RunView>> h) {
      std::vector<int64_t> out;
      EXPECT_TRUE(h.ok());
      if (h.ok()) {
        for (const auto& v : *h) out.push_back(v.run.id);
      }
      return out;
    };
    EXPECT_EQ(ids(LoadHistory(db)), plain);
    // A window of 4 reaches back past 68 series' runs, over several pages.
    EXPECT_EQ(ids(LoadHistory(db, 0, 4)), (std::vector<int64_t>{7, 8, 10, 11}));
    EXPECT_EQ(ids(LoadClassHistory(db, 80, 4, "host", {"c:t"})), (std::vector<int64_t>{7, 8, 10, 11}));
    EXPECT_EQ(ids(LoadClassHistory(db, 5, 3, "host", {"c:t"})), (std::vector<int64_t>{2, 4, 5}));
    store::RunQuery skipped;
    skipped.newest = 3;
    skipped.skip = 1;  // the newest run left out (80), once
    std::vector<int64_t> listed;
    auto skipped_runs = ListHistoryRuns(db, skipped);
    ASSERT_TRUE(skipped_runs.ok());
    for (const auto& r : *skipped_runs) listed.push_back(r.id);
    EXPECT_EQ(listed, (std::vector<int64_t>{8, 10, 11}));
    // Nothing the flakes table sees failed; counted without the series' runs.
    size_t runs = 0;
    auto series = LoadSeries(db, 0, 0, &runs);
    ASSERT_TRUE(series.ok());
    EXPECT_EQ(runs, plain.size());
    for (const Series& s : *series) {
      for (const Point& p : s.points) EXPECT_FALSE(p.retry_flake) << s.test << ":" << s.subtest;
    }
    // Were they history, the retry flakes would quarantine the subtest.
    std::set<std::string> quarantined;
    std::map<std::string, std::string> reasons;
    QuarantinedAfter(LoadClassHistory(db, 80, 200, "host", {"c:t"}).value(), "host", &quarantined, &reasons);
    EXPECT_TRUE(quarantined.empty());
    std::vector<RunView> all;
    for (int64_t id = 1; id <= 80; ++id) all.push_back(LoadRunView(db, id).value());
    QuarantinedAfter(all, "host", &quarantined, &reasons);
    EXPECT_EQ(quarantined.count("c:t:s"), 1u);
    // The auto baseline of a new run is the newest plain one, not run 80.
    model::RunRecord next;
    next.started_at = "t";
    next.plan = {"c:t"};
    int64_t id = db.CreateRun(next).value();
    auto base = FindAutoBaseline(db, LoadClassHistory(db, id - 1, 200, "host", {"c:t"}).value(),
                                 LoadRunView(db, id).value());
    ASSERT_TRUE(base.ok()) << base.status().ToString();
    EXPECT_EQ(*base, 11);
  });
}

TEST(ResolveTestPath, ATestWhoseNameHasAColonIsTheLongestTheStoreKnows) {
  auto db = store::NewMemoryStore();
  int64_t id = NewRun(*db, {"net:we:ird.sh", "net:a.sh"});
  for (const char* path : {"net:we:ird.sh", "net:a.sh"}) {
    model::AttemptRecord a;
    a.test_path = path;
    a.status = "PASS";
    a.subtests = {{"s:1", "PASS", std::nullopt}};
    ASSERT_TRUE(db->RecordAttempt(id, a).ok());
  }
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(ResolveTestPath(*db, "net:we:ird.sh").value(), (P{"net:we:ird.sh", ""}));
  EXPECT_EQ(ResolveTestPath(*db, "net:we:ird.sh:s:1").value(), (P{"net:we:ird.sh", "s:1"}));
  EXPECT_EQ(ResolveTestPath(*db, "net:a.sh:s:1").value(), (P{"net:a.sh", "s:1"}));
  EXPECT_EQ(ResolveTestPath(*db, "net:a.sh").value(), (P{"net:a.sh", ""}));
  // Unknown: the test ends at the second colon.
  EXPECT_EQ(ResolveTestPath(*db, "net:new:x").value(), (P{"net:new", "x"}));
}

TEST(LoadRunView, InterruptedAttemptsAreNoResultAndAnInterruptedRunIsIncomplete) {
  auto db = store::NewMemoryStore();
  int64_t id = NewRun(*db, {"c:a", "c:b"});
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

// The series of every test and subtest, read from the tests' summaries,
// are those built from the runs loaded whole, in either store, for any
// window: retries, interrupted attempts, kernel reports, names with any bytes.
TEST(LoadSeries, TheSameAsBuildSeriesOverLoadHistory) {
  store::ForEachStore("load-series", [](store::Store& db) {
    std::vector<int64_t> envs;
    for (const char* release : {"6.1.0", "6.12.3", ""}) {
      model::Environment e;
      e.kernel_release = release;
      envs.push_back(db.EnsureEnvironment(e).value());
    }
    envs.push_back(0);
    unsigned seed = 7;
    auto next = [&](unsigned n) { return (seed = seed * 1103515245 + 12345) / 65536 % n; };
    const char* statuses[] = {"PASS", "FAIL", "SKIP", "TIMEOUT", "XFAIL", "bogus"};
    for (int i = 0; i < 30; ++i) {
      int64_t id = NewRun(db, {}, envs[next(envs.size())]);
      for (std::string test : {std::string("c:a"), std::string("c:b\0", 5), std::string("d:<x>")}) {
        if (next(5) == 0) continue;
        int attempts = 1 + static_cast<int>(next(3));
        for (int k = 1; k <= attempts; ++k) {
          model::AttemptRecord a;
          a.test_path = test;
          a.attempt = k;
          a.status = statuses[next(6)];
          a.duration_ms = next(1000);
          a.interrupted = next(7) == 0;
          if (next(6) == 0) a.crashes.push_back({"BUG", "BUG: t", true, "fp", "g", "x"});
          for (const char* sub : {"s1", "s2 > in", "s\n3"}) {
            if (next(4) == 0) continue;
            model::SubtestRecord st{sub, statuses[next(6)], std::nullopt};
            if (next(2)) st.duration_ms = next(50);
            a.subtests.push_back(st);
          }
          ASSERT_TRUE(db.RecordAttempt(id, a).ok());
        }
      }
    }
    for (int64_t up_to : {0, 12, 30}) {
      for (int window : {0, 1, 5, 30}) {
        size_t runs = 0;
        auto fast = LoadSeries(db, up_to, window, &runs);
        ASSERT_TRUE(fast.ok()) << fast.status().ToString();
        auto history = LoadHistory(db, up_to, window);
        ASSERT_TRUE(history.ok());
        EXPECT_EQ(runs, history->size());
        std::vector<Series> whole = BuildSeries(history.value());
        ASSERT_EQ(fast->size(), whole.size()) << up_to << " " << window;
        for (size_t i = 0; i < whole.size(); ++i) {
          const Series& f = (*fast)[i];
          const Series& w = whole[i];
          EXPECT_EQ(std::tie(f.env, f.test, f.subtest), std::tie(w.env, w.test, w.subtest));
          ASSERT_EQ(f.points.size(), w.points.size()) << w.test << ":" << w.subtest;
          for (size_t k = 0; k < w.points.size(); ++k) {
            const Point& p = f.points[k];
            const Point& q = w.points[k];
            EXPECT_EQ(std::tie(p.run_id, p.status, p.kind, p.retry_flake, p.crash, p.duration_ms),
                      std::tie(q.run_id, q.status, q.kind, q.retry_flake, q.crash, q.duration_ms))
                << w.test << ":" << w.subtest << " point " << k;
          }
        }
      }
    }
  });
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
