#include "engine/judgement.h"

#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "judge/verdict.h"
#include "model/test_path.h"

namespace vigil::engine {
namespace {

int Rank(judge::FlakeClass c) {
  switch (c) {
    case judge::FlakeClass::kRegressed: return 0;
    case judge::FlakeClass::kFlaky: return 1;
    case judge::FlakeClass::kBroken: return 2;
    case judge::FlakeClass::kNew: return 3;
    case judge::FlakeClass::kFixed: return 4;
    case judge::FlakeClass::kSkipped: return 5;
    case judge::FlakeClass::kStable: return 6;
  }
  return 7;
}

// judge::AutoBaseline among the runs before `run`.
Result<int64_t> AutoBaselineOf(store::Store& db, const judge::RunView& run) {
  auto history = judge::LoadHistory(db, run.run.id, 200);
  if (!history.ok()) return history.status();
  int64_t id = judge::AutoBaseline(history.value(), run);
  if (id == 0) {
    return Status::NotFound(fmt::format(
        "no baseline for run {}: no earlier complete run of its environment class ('{}') ran its tests",
        run.run.id, run.env_class));
  }
  return id;
}

}  // namespace

Result<judge::FlakesTable> Flakes(store::Store& db, const FlakesQuery& q) {
  judge::FlakesTable t;
  t.window = q.window;
  auto series = judge::LoadSeries(db, 0, q.window, &t.runs);
  if (!series.ok()) return series.status();
  for (const judge::Series& s : series.value()) {
    if (!q.env.empty() && s.env.find(q.env) == std::string::npos && fnmatch(q.env.c_str(), s.env.c_str(), 0) != 0) {
      continue;
    }
    std::string path = s.subtest.empty() ? s.test : s.test + ":" + s.subtest;
    if (!q.test.empty() && fnmatch(q.test.c_str(), path.c_str(), 0) != 0 &&
        fnmatch(q.test.c_str(), s.test.c_str(), 0) != 0) {
      continue;
    }
    t.entries.push_back(judge::Classify(s, q.options));
  }
  std::stable_sort(t.entries.begin(), t.entries.end(), [](const auto& a, const auto& b) {
    if (Rank(a.cls) != Rank(b.cls)) return Rank(a.cls) < Rank(b.cls);
    return a.fail_rate > b.fail_rate;
  });
  return t;
}

Result<judge::TestHistory> History(store::Store& db, const HistoryQuery& q) {
  model::TestPath path = model::TestPath::Parse(q.path);
  if (!path.has_collection() || path.collection().empty()) {
    return Status::InvalidArgument(fmt::format("'{}' is not COLLECTION:TEST[:SUBTEST]", q.path));
  }
  judge::TestHistory h;
  auto resolved = judge::ResolveTestPath(db, q.path);
  if (!resolved.ok()) return resolved.status();
  std::tie(h.test, h.subtest) = *resolved;
  // Only this test's attempts, not every test of every run: the newest
  // `fetch` runs of it, or all of them when a filter may pass over some.
  // Runs left out (series' runs) may leave fewer than `limit` rows: then
  // four times as many runs are asked for, until that finds no more.
  int fetch = q.env.empty() && h.subtest.empty() ? q.limit : 0;
  std::map<int64_t, model::Environment> envs;
  // Each run and the series it tested, loaded once whatever the passes.
  std::map<int64_t, std::pair<model::RunRecord, int64_t>> runs;
  std::vector<int64_t> left_out;  // runs of series with a result of it
  int64_t fetched_before = -1;    // runs the previous pass fetched
  while (true) {
    h.rows.clear();
    left_out.clear();
    auto attempts = db.LoadTestAttempts(h.test, fetch);
    if (!attempts.ok()) return attempts.status();
    std::vector<int64_t> order;  // oldest run first
    std::map<int64_t, std::vector<model::AttemptRecord>> by_run;
    std::set<int64_t> fetched;  // interrupted or not
    for (auto& ra : *attempts) {
      fetched.insert(ra.run_id);
      if (ra.attempt.interrupted) continue;  // cut short by a cancelled run: no result
      auto [it, fresh] = by_run.try_emplace(ra.run_id);
      if (fresh) order.push_back(ra.run_id);
      it->second.push_back(std::move(ra.attempt));
    }
    std::vector<int64_t> unloaded;  // runs no pass loaded yet
    for (int64_t id : order) {
      if (!runs.count(id)) unloaded.push_back(id);
    }
    auto origins = db.LoadRunOrigins(unloaded);
    if (!origins.ok()) return origins.status();
    for (int64_t id : unloaded) {
      auto run = db.LoadRun(id);
      if (!run.ok()) return run.status();
      int64_t series = judge::SeriesTested(*run, *origins);
      runs.emplace(id, std::pair{std::move(run.value()), series});
    }
    for (int64_t id : order) {
      const model::RunRecord& run = runs.at(id).first;
      const int64_t series = runs.at(id).second;
      auto emplaced = envs.try_emplace(run.environment_id);
      model::Environment& env = emplaced.first->second;
      if (emplaced.second && run.environment_id > 0) {
        auto loaded = db.LoadEnvironment(run.environment_id);
        if (!loaded.ok()) return loaded.status();
        env = std::move(loaded.value());
      }
      std::string env_class = judge::EnvClass(env);
      if (!q.env.empty() && env_class.find(q.env) == std::string::npos) continue;
      judge::TestView t = judge::MakeTestView(by_run[id]);
      auto row = [&](const std::string& status, int64_t ms) {
        if (series > 0 && !q.series) {
          left_out.push_back(id);
          return;
        }
        h.rows.push_back({id, run.started_at, env_class, env.kernel_release, status, ms, series});
      };
      if (h.subtest.empty()) {
        row(t.status, t.duration_ms);
        continue;
      }
      for (const auto& sub : t.subtests) {
        if (sub.path == h.subtest) row(sub.status, sub.duration_ms.value_or(-1));
      }
    }
    // Older runs may remain while a bigger fetch finds more (a run whose
    // attempts were all cut short takes a place in a fetch and gives none).
    bool more = fetch > 0 && static_cast<int64_t>(fetched.size()) > fetched_before;
    fetched_before = static_cast<int64_t>(fetched.size());
    if (!more || static_cast<int>(h.rows.size()) >= q.limit) break;
    fetch = fetch > INT32_MAX / 4 ? 0 : fetch * 4;
  }
  if (static_cast<int>(h.rows.size()) > q.limit) h.rows.erase(h.rows.begin(), h.rows.end() - q.limit);
  // Those within the rows' span (all, when no row is left).
  for (int64_t id : left_out) h.series_left_out += h.rows.empty() || id > h.rows.front().run_id;
  return h;
}

Result<judge::RunComparison> CompareRuns(store::Store& db, const std::string& a, const std::string& b,
                                  const judge::CompareOptions& o) {
  judge::RunComparison c;
  judge::RunView* views[2] = {&c.b, &c.a};
  const std::string* specs[2] = {&b, &a};
  for (int i = 0; i < 2; ++i) {
    Result<int64_t> id = Status::NotFound("");
    if (i == 1 && *specs[i] == "auto") {
      id = AutoBaselineOf(db, c.b);
    } else {
      id = judge::ResolveRun(db, *specs[i]);
    }
    if (!id.ok()) return id.status();
    auto v = judge::LoadRunView(db, id.value());
    if (!v.ok()) return v.status();
    *views[i] = std::move(v.value());
  }
  c.changes = judge::Compare(c.a, c.b, o);
  return c;
}

}  // namespace vigil::engine
