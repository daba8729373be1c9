#include "engine/verdict.h"

#include <gtest/gtest.h>

#include <random>

#include <fmt/format.h>

#include "base/json.h"
#include "judge/render.h"
#include "store/memory_store.h"

namespace vigil::engine {
namespace {

// The verdict as it was computed before LoadClassHistory: from every test of
// the last 200 runs of each class.
judge::Verdict Reference(store::Store& db, int64_t run_id, const std::string& today) {
  auto history = judge::LoadHistory(db, run_id, 200).value();
  std::optional<judge::RunView> run;
  std::vector<judge::RunView> before;
  for (auto& r : history) {
    if (r.run.id < run_id) {
      before.push_back(std::move(r));
    } else if (r.run.id == run_id) {
      run = std::move(r);
    }
  }
  judge::VerdictInputs in;
  in.run = &run.value();
  in.today = today;
  judge::QuarantinedAfter(before, run->env_class, &in.quarantined, &in.quarantine_reasons);
  std::optional<judge::RunView> baseline;
  int64_t id = judge::AutoBaseline(before, run.value());
  for (auto& r : before) {
    if (r.run.id == id) baseline = r;
  }
  if (baseline) in.baseline = &*baseline;
  judge::Verdict v = judge::Judge(in);
  if (!baseline) {
    v.warnings.push_back("no baseline: no earlier complete run of the environment class ('" + run->env_class +
                         "') that ran this run's tests");
  }
  judge::Conclude(&v);
  return v;
}

// Random histories in two environment classes, with flaky tests (retries),
// failing subtests, tests that stop being planned and runs cut short: the
// verdict read from the class's history with only the failing tests' detail
// is the one read from every test of every run.
TEST(ComputeVerdict, TheSameAsFromTheWholeHistory) {
  int quarantined = 0, preexisting = 0, baselines = 0;
  for (int seed = 1; seed <= 6; ++seed) {
    auto db = store::NewMemoryStore();
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    model::Environment a, b;
    a.kernel_release = "6.12.1";
    b = a;
    b.where = "vm";
    b.accel = "tcg";
    int64_t env[2] = {db->EnsureEnvironment(a).value(), db->EnsureEnvironment(b).value()};
    for (int r = 0; r < 40; ++r) {
      model::RunRecord run;
      run.started_at = "2026-12-01T10:00:00Z";
      int tests = u(rng) < 0.2 ? 3 : 5;
      for (int t = 0; t < tests; ++t) run.plan.push_back(fmt::format("c:t{}.sh", t));
      run.environment_id = env[u(rng) < 0.6 ? 0 : 1];
      int64_t id = db->CreateRun(run).value();
      for (int t = 0; t < tests; ++t) {
        if (u(rng) < 0.05) continue;  // never ran
        int attempts = u(rng) < 0.3 ? 2 : 1;
        for (int k = 1; k <= attempts; ++k) {
          model::AttemptRecord at;
          at.test_path = run.plan[t];
          at.attempt = k;
          bool fail = (attempts == 2 && k == 1) || u(rng) < 0.15 * t;
          at.status = fail ? "FAIL" : "PASS";
          for (int s = 0; s < 3; ++s) at.subtests.push_back({fmt::format("s{}", s), fail && s == t % 3 ? "FAIL" : "PASS", 1});
          if (fail && u(rng) < 0.1) at.crashes = {{"WARNING", "WARNING in f", false, "fp", "f", "x"}};
          ASSERT_TRUE(db->RecordAttempt(id, at).ok());
        }
      }
      ASSERT_TRUE(db->FinishRun(id, u(rng) < 0.05 ? "INTERRUPTED" : "FAIL", "2026-12-01T10:01:00Z").ok());
    }
    for (int64_t id = 1; id <= 40; ++id) {
      VerdictRequest req;
      req.run_id = id;
      req.baseline = "auto";
      req.today = "2026-12-05";
      auto fast = ComputeVerdict(*db, req);
      ASSERT_TRUE(fast.ok()) << fast.status().ToString();
      EXPECT_EQ(DumpJson(judge::VerdictJson(*fast)), DumpJson(judge::VerdictJson(Reference(*db, id, req.today))))
          << "seed " << seed << " run " << id;
      quarantined += !fast->quarantined.empty();
      preexisting += !fast->preexisting.empty();
      baselines += fast->baseline_id > 0;
    }
  }
  // The histories exercise what the history decides.
  EXPECT_GT(quarantined, 10);
  EXPECT_GT(preexisting, 10);
  EXPECT_GT(baselines, 50);
}

}  // namespace
}  // namespace vigil::engine
