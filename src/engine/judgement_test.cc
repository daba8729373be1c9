#include "engine/judgement.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "model/series_run.h"
#include "report/judgement_report.h"
#include "store/store.h"
#include "store/test_stores.h"

namespace vigil::engine {
namespace {

std::vector<int64_t> RunIds(const judge::TestHistory& h) {
  std::vector<int64_t> ids;
  for (const auto& r : h.rows) ids.push_back(r.run_id);
  return ids;
}

// Runs 1..12 of c:t, whose subtest s fails in the runs that tested a series:
// 4, 8, 10 and 12 (each named by its series' result) and 11 (its testing
// cut short: known by the patch loop's name only). Series N is the Nth of
// them. The tree's own runs pass. Returns each run's series (0: none).
std::vector<int64_t> Record(store::Store& db) {
  std::vector<int64_t> series_of(13, 0);
  int64_t queued = 0;
  for (int i = 1; i <= 12; ++i) {
    bool patched = i == 4 || i == 8 || i >= 10;
    if (patched) series_of[i] = ++queued;
    model::RunRecord r;
    r.started_at = fmt::format("2026-12-07T00:00:{:02}Z", i);
    r.plan = {"c:t"};
    r.command = patched ? model::SeriesRunCommand(series_of[i], "[PATCH] c: break t") : "vigil run -t c:t";
    int64_t id = db.CreateRun(r).value();
    EXPECT_EQ(id, i);
    model::AttemptRecord a;
    a.test_path = "c:t";
    a.attempt = 1;
    a.status = patched ? "FAIL" : "PASS";
    a.subtests = {{"s", a.status, std::nullopt}};
    EXPECT_TRUE(db.RecordAttempt(id, a).ok());
    EXPECT_TRUE(db.FinishRun(id, a.status, "t2").ok());
    if (!patched) continue;
    model::SeriesRecord s;
    s.source = "https://patchwork.example.org/api";
    s.series_id = 100 + i;
    s.name = "[PATCH] c: break t";
    s.state = i == 11 ? "testing" : "done";
    s.queued_at = s.updated_at = "2026-12-07T00:00:00Z";
    if (i != 11) s.result_json = fmt::format(R"({{"run":{},"base_run":1}})", id);
    auto queued_id = db.QueueSeries(s);
    EXPECT_TRUE(queued_id.ok() && *queued_id == series_of[i]);
  }
  return series_of;
}

TEST(History, TheTreesOwnRunsAndTheSeriesRunsCountedApart) {
  store::ForEachStore("judgement-history", [](store::Store& db) {
    std::vector<int64_t> series_of = Record(db);
    // The tree's history: no failure in it; the five series' runs counted.
    auto h = History(db, {"c:t:s", "", 50});
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(RunIds(*h), (std::vector<int64_t>{1, 2, 3, 5, 6, 7, 9}));
    EXPECT_EQ(h->series_left_out, 5);
    std::string text = report::HistoryText(*h, "c:t:s");
    EXPECT_NE(text.find("\n.......  ("), std::string::npos) << text;
    EXPECT_EQ(text.find("tested"), text.find("tested a patch series")) << text;  // no column
    EXPECT_NE(text.find("5 run(s) that tested a patch series"), std::string::npos) << text;

    // --limit 3 over the whole test: the newest three of its own runs, found
    // past the series' runs that fill the newest ones (12, 11, 10); the
    // series' runs among them counted.
    h = History(db, {"c:t", "", 3});
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(RunIds(*h), (std::vector<int64_t>{6, 7, 9}));
    EXPECT_EQ(h->series_left_out, 4);  // 8, 10, 11, 12

    // --series: every run, each series' run with its series.
    h = History(db, {"c:t:s", "", 50, true});
    ASSERT_TRUE(h.ok());
    ASSERT_EQ(h->rows.size(), 12u);
    EXPECT_EQ(h->series_left_out, 0);
    for (const auto& r : h->rows) {
      bool patched = r.run_id == 4 || r.run_id == 8 || r.run_id >= 10;
      EXPECT_EQ(r.series, series_of[r.run_id]) << r.run_id;
      EXPECT_EQ(r.series > 0, patched) << r.run_id;
      EXPECT_EQ(r.status, patched ? "FAIL" : "PASS") << r.run_id;
    }
    text = report::HistoryText(*h, "c:t:s");
    EXPECT_NE(text.find("\n...F...F.FFF  ("), std::string::npos) << text;
    EXPECT_NE(text.find("  series 4\n"), std::string::npos) << text;  // run 11, by its name
    std::string json = report::HistoryJson(*h);
    EXPECT_NE(json.find("\"series\":1,"), std::string::npos) << json;
    EXPECT_NE(json.find("\"series\":null"), std::string::npos) << json;
  });
}

TEST(SeriesRunCommand, NamesASeriesRunAndNothingElse) {
  EXPECT_EQ(model::SeriesOfRunCommand(model::SeriesRunCommand(12, "[PATCH] x")), 12);
  EXPECT_EQ(model::SeriesOfRunCommand(model::BranchRunCommand(12, "topic")), 0);  // a branch is the tree
  EXPECT_EQ(model::SeriesOfRunCommand("series 12"), 0);
  EXPECT_EQ(model::SeriesOfRunCommand("series (x)"), 0);
  EXPECT_EQ(model::SeriesOfRunCommand("series 0 (x)"), 0);
  EXPECT_EQ(model::SeriesOfRunCommand("series 99999999999999999999 (x)"), 0);  // no id vigil wrote
  EXPECT_EQ(model::SeriesOfRunCommand("vigil run --tests series 3 (x)"), 0);
}

// Runs whose attempts of the test were all cut short (and discarded on
// resume) take places in the store's newest-runs query and give no result:
// the history looks past them for its rows.
TEST(History, RunsWithoutAResultOfTheTestDoNotHideOlderOnes) {
  store::ForEachStore("judgement-interrupted", [](store::Store& db) {
    for (int i = 1; i <= 10; ++i) {
      model::RunRecord r;
      r.started_at = "t";
      r.plan = {"c:t"};
      r.command = "vigil run -t c:t";
      int64_t id = db.CreateRun(r).value();
      model::AttemptRecord a;
      a.test_path = "c:t";
      a.attempt = 1;
      a.status = "PASS";
      a.interrupted = i > 6;
      ASSERT_TRUE(db.RecordAttempt(id, a).ok());
      if (i > 6) {
        ASSERT_TRUE(db.DiscardInterrupted(id).ok());
      }
      ASSERT_TRUE(db.FinishRun(id, "PASS", "t2").ok());
    }
    auto h = History(db, {"c:t", "", 3});
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(RunIds(*h), (std::vector<int64_t>{4, 5, 6}));
  });
}

}  // namespace
}  // namespace vigil::engine
