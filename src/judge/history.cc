#include "judge/history.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "judge/outcome.h"
#include "model/series_run.h"

namespace vigil::judge {

bool RunView::complete() const {
  // Unfinished, or stopped by a signal (until --resume completes it).
  if (run.finished_at.empty() || run.status.empty() || run.status == "INTERRUPTED") return false;
  for (const auto& p : run.plan) {
    if (!tests.count(p)) return false;
  }
  return true;
}

std::string KernelLine(const std::string& release) {
  size_t i = 0;
  int dots = 0;
  while (i < release.size() && (std::isdigit(static_cast<unsigned char>(release[i])) || release[i] == '.')) {
    if (release[i] == '.' && ++dots == 2) break;
    ++i;
  }
  std::string line = release.substr(0, i);
  if (line.empty() || line.find('.') == std::string::npos || line.back() == '.') return "";
  return line;
}

std::string EnvClass(const model::Environment& env) {
  std::string c = env.where.empty() ? "host" : env.where;
  if (c == "vm" && !env.accel.empty()) c += " " + env.accel;
  std::string line = KernelLine(env.kernel_release);
  if (!line.empty()) c += " " + line;
  return c;
}

TestView MakeTestView(const std::vector<model::AttemptRecord>& as) {
  TestView t;
  t.status = FinalStatus(as);
  t.attempts = static_cast<int>(as.size());
  t.duration_ms = as.empty() ? 0 : as.back().duration_ms;
  for (const auto& a : as) t.crashes.insert(t.crashes.end(), a.crashes.begin(), a.crashes.end());
  t.subtests = SubtestVerdicts(as);
  if (!as.empty()) t.environment_issues = as.back().environment_issues;
  return t;
}

namespace {

RunView BuildView(model::RunRecord run, model::Environment env, std::vector<model::AttemptRecord> attempts) {
  RunView v;
  v.run = std::move(run);
  v.env = std::move(env);
  v.env_class = EnvClass(v.env);
  std::map<std::string, std::vector<model::AttemptRecord>> by_test;
  for (auto& a : attempts) {
    if (a.interrupted) continue;  // cut short by a cancelled run: no result
    if (!by_test.count(a.test_path)) v.order.push_back(a.test_path);
    by_test[a.test_path].push_back(std::move(a));
  }
  for (auto& [path, as] : by_test) {
    TestView t = MakeTestView(as);
    v.tests.emplace(path, std::move(t));
  }
  return v;
}

}  // namespace

int64_t SeriesTested(const model::RunRecord& run, const std::map<int64_t, store::RunOrigin>& origins) {
  auto o = origins.find(run.id);
  if (o == origins.end()) return model::SeriesOfRunCommand(run.command);
  return o->second.kind == "series" && o->second.role == "tested" ? std::max<int64_t>(o->second.series, 1) : 0;
}

// The runs of `q` a history is made of: without the runs a series tested
// (`vigil watch`: a patch from a list, applied to the tree). A patch that
// breaks a test is the patch's failure, not the test's flakiness, and a
// patched run is no baseline for the next; such runs are judged against the
// history but never part of it. A run the patch loop made that no series
// names yet (its testing goes on, or was cut short) is known by its name.
// With q.newest, pages back until that many runs remain (a busy patch loop's
// window holds mostly series' runs).
Result<std::vector<model::RunRecord>> ListHistoryRuns(store::Store& db, store::RunQuery q) {
  const size_t want = q.newest > 0 ? static_cast<size_t>(q.newest) : 0;
  std::vector<model::RunRecord> out;
  while (true) {
    auto runs = db.ListRuns(q);
    if (!runs.ok()) return runs.status();
    std::vector<int64_t> ids;
    ids.reserve(runs->size());
    int64_t oldest = 0;
    for (const auto& r : *runs) {
      ids.push_back(r.id);
      if (oldest == 0 || r.id < oldest) oldest = r.id;
    }
    auto origins = db.LoadRunOrigins(ids);
    if (!origins.ok()) return origins.status();
    size_t page = runs->size();
    for (auto& r : *runs) {
      if (SeriesTested(r, *origins) == 0) out.push_back(std::move(r));
    }
    if (want == 0 || page < static_cast<size_t>(q.newest) || out.size() >= want || oldest <= 1) break;
    q.up_to = oldest - 1;
    q.skip = 0;  // left out of the first page only
    q.newest = static_cast<int>(std::max<size_t>(want - out.size(), 32));
  }
  std::sort(out.begin(), out.end(), [](const model::RunRecord& a, const model::RunRecord& b) { return a.id < b.id; });
  if (want > 0 && out.size() > want) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(want));
  return out;
}

Result<RunView> LoadRunView(store::Store& db, int64_t run_id) {
  auto run = db.LoadRun(run_id);
  if (!run.ok()) return run.status();
  model::Environment env;
  if (run->environment_id > 0) {
    auto e = db.LoadEnvironment(run->environment_id);
    if (!e.ok()) return e.status();
    env = std::move(e.value());
  }
  auto attempts = db.LoadAttempts(run_id, false);
  if (!attempts.ok()) return attempts.status();
  return BuildView(std::move(run.value()), std::move(env), std::move(attempts.value()));
}

Result<std::vector<RunView>> HistoryRuns(store::Store& db, int64_t up_to, int window, bool plans) {
  std::vector<model::RunRecord> runs;
  std::map<int64_t, model::Environment> envs;  // 0: recorded without one
  if (window <= 0) {
    store::RunQuery q;
    q.up_to = up_to;
    q.plans = plans;
    auto all = ListHistoryRuns(db, q);
    if (!all.ok()) return all.status();
    runs = std::move(all.value());
    for (const auto& r : runs) {
      if (r.environment_id > 0 && !envs.count(r.environment_id)) {
        auto e = db.LoadEnvironment(r.environment_id);
        if (!e.ok()) return e.status();
        envs[r.environment_id] = std::move(e.value());
      }
    }
  } else {
    // The last `window` runs of each class: one query per class, over the
    // environments of that class.
    auto all = db.ListEnvironments();
    if (!all.ok()) return all.status();
    envs = std::move(all.value());
    std::map<std::string, std::vector<int64_t>> by_class;
    by_class[EnvClass(model::Environment())].push_back(0);
    for (const auto& [id, e] : envs) by_class[EnvClass(e)].push_back(id);
    for (auto& [cls, ids] : by_class) {
      store::RunQuery q;
      q.up_to = up_to;
      q.newest = window;
      q.plans = plans;
      q.environment_ids = std::move(ids);
      auto some = ListHistoryRuns(db, q);
      if (!some.ok()) return some.status();
      for (auto& r : some.value()) runs.push_back(std::move(r));
    }
    std::sort(runs.begin(), runs.end(),
              [](const model::RunRecord& a, const model::RunRecord& b) { return a.id < b.id; });
  }
  std::vector<RunView> out;
  out.reserve(runs.size());
  for (auto& r : runs) {
    RunView& v = out.emplace_back();
    v.env = envs[r.environment_id];
    v.env_class = EnvClass(v.env);
    v.run = std::move(r);
  }
  return out;
}

Result<std::vector<RunView>> LoadHistory(store::Store& db, int64_t up_to, int window) {
  auto runs = HistoryRuns(db, up_to, window);
  if (!runs.ok()) return runs.status();
  std::vector<RunView> out;
  out.reserve(runs->size());
  for (auto& r : *runs) {
    auto attempts = db.LoadAttempts(r.run.id, false);
    if (!attempts.ok()) return attempts.status();
    out.push_back(BuildView(std::move(r.run), std::move(r.env), std::move(attempts.value())));
  }
  return out;
}

Result<std::vector<RunView>> LoadClassHistory(store::Store& db, int64_t up_to, int window,
                                              const std::string& env_class, const std::set<std::string>& detail) {
  auto envs = db.ListEnvironments();
  if (!envs.ok()) return envs.status();
  std::vector<int64_t> ids;
  if (EnvClass(model::Environment()) == env_class) ids.push_back(0);
  for (const auto& [id, e] : *envs) {
    if (EnvClass(e) == env_class) ids.push_back(id);
  }
  store::RunQuery q;
  q.up_to = up_to;
  q.newest = window;
  q.environment_ids = ids;
  q.plans = false;
  auto runs = ListHistoryRuns(db, q);
  if (!runs.ok()) return runs.status();
  std::vector<int64_t> run_ids;
  std::map<int64_t, size_t> index;
  std::vector<RunView> out;
  for (auto& r : *runs) {
    RunView v;
    v.env = r.environment_id > 0 && envs->count(r.environment_id) ? envs->at(r.environment_id) : model::Environment();
    v.env_class = env_class;
    run_ids.push_back(r.id);
    index[r.id] = out.size();
    v.run = std::move(r);
    out.push_back(std::move(v));
  }
  for (const auto& test : detail) {
    auto attempts = db.LoadTestAttempts(test, 0, up_to, run_ids);
    if (!attempts.ok()) return attempts.status();
    std::map<int64_t, std::vector<model::AttemptRecord>> by_run;
    for (auto& ra : *attempts) {
      if (!ra.attempt.interrupted) by_run[ra.run_id].push_back(std::move(ra.attempt));
    }
    for (auto& [run_id, as] : by_run) {
      RunView& v = out[index[run_id]];
      v.order.push_back(test);
      v.tests[test] = MakeTestView(as);
    }
  }
  return out;
}

Result<std::pair<std::string, std::string>> ResolveTestPath(store::Store& db, const std::string& path) {
  auto [test, subtest] = SplitTestPath(path);
  if (subtest.empty()) return std::pair{test, subtest};
  std::vector<size_t> colons;
  for (size_t at = path.find(':', test.size() + 1); at != std::string::npos && colons.size() < 8;
       at = path.find(':', at + 1)) {
    colons.push_back(at);
  }
  colons.push_back(path.size());
  for (auto it = colons.rbegin(); it != colons.rend(); ++it) {
    auto known = db.LoadTestAttempts(path.substr(0, *it), 1);
    if (!known.ok()) return known.status();
    if (known->empty()) continue;
    return std::pair{path.substr(0, *it), *it < path.size() ? path.substr(*it + 1) : std::string()};
  }
  return std::pair{test, subtest};
}

Result<int64_t> ResolveRun(store::Store& db, const std::string& spec) {
  // A run split across machines, by its group's name.
  if (spec.rfind("group:", 0) == 0) return db.FindGroupRun(spec.substr(6));
  std::string s = spec;
  int back = 0;
  if (size_t t = s.find('~'); t != std::string::npos) {
    std::string n = s.substr(t + 1);
    if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument(fmt::format("bad run '{}': RUN, last, last~N or group:ID", spec));
    }
    back = std::stoi(n);
    s = s.substr(0, t);
  }
  int64_t id = 0;
  if (s == "last" || s == "latest") {
    auto l = db.LatestRun();
    if (!l.ok()) return l.status();
    id = l.value();
  } else if (!s.empty() && s.size() < 18 && s.find_first_not_of("0123456789") == std::string::npos) {
    id = std::stoll(s);
  } else {
    return Status::InvalidArgument(fmt::format("bad run '{}': RUN, last, last~N or group:ID", spec));
  }
  if (back > 0) {
    if (id <= 0) return Status::NotFound(fmt::format("no run {}", spec));
    store::RunQuery q;
    q.up_to = id;
    q.newest = back + 1;
    auto runs = db.ListRuns(q);
    if (!runs.ok()) return runs.status();
    if (static_cast<int>(runs->size()) <= back) return Status::NotFound(fmt::format("no run {}", spec));
    id = runs->front().id;
  }
  auto r = db.LoadRun(id);
  if (!r.ok()) return r.status();
  return id;
}

}  // namespace vigil::judge
