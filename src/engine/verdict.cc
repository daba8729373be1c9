#include "engine/verdict.h"

#include <sys/stat.h>

#include <set>

#include <fmt/format.h>

#include "base/clock.h"
#include "judge/outcome.h"
#include "store/postgres.h"

namespace vigil::engine {

Result<std::unique_ptr<store::Store>> OpenExistingStore(const std::string& path) {
  struct stat st {};
  if (!store::IsPostgresUri(path) && stat(path.c_str(), &st) != 0) {
    return Status::NotFound(fmt::format("no results store at {} (vigil run --db {} creates one)", path, path));
  }
  return store::Store::Open(path);
}

std::string KnownIssuesPath(const std::string& flag, const std::string& tests_dir) {
  if (!flag.empty()) return flag;
  return tests_dir.empty() ? "" : tests_dir + "/known-issues.toml";
}

Result<std::optional<judge::KnownIssues>> FindKnownIssues(const std::string& flag, const std::string& tests_dir) {
  std::string path = KnownIssuesPath(flag, tests_dir);
  struct stat st {};
  // The flag's file must be there (LoadKnownIssues says so); one beside the tests may not.
  if (path.empty() || (flag.empty() && stat(path.c_str(), &st) != 0)) return std::optional<judge::KnownIssues>();
  auto k = judge::LoadKnownIssues(path);
  if (!k.ok()) return k.status();
  return std::optional<judge::KnownIssues>(std::move(k.value()));
}

std::vector<const judge::KnownIssue*> StaleKnownIssues(const judge::KnownIssues& known,
                                                       const std::vector<judge::RunView>& runs,
                                                       const std::string& today) {
  std::set<const judge::KnownIssue*> used;
  for (const auto& r : runs) {
    judge::KnownIssueMatcher m(known, r.env, today);
    for (const auto& [path, t] : r.tests) {
      if (judge::IsFailureName(t.status)) {
        if (auto* k = m.Match({path, "", &t.crashes})) used.insert(k);
      }
      for (const auto& s : t.subtests) {
        if (!judge::IsFailureName(s.status)) continue;
        if (auto* k = m.Match({path, s.path, &t.crashes})) used.insert(k);
      }
      for (const auto& c : t.crashes) {
        if (auto* k = m.MatchCrash(path, c)) used.insert(k);
      }
    }
  }
  std::vector<const judge::KnownIssue*> out;
  for (const auto& k : known.entries) {
    if (!used.count(&k)) out.push_back(&k);
  }
  return out;
}

Result<judge::Verdict> ComputeVerdict(store::Store& db, const VerdictRequest& req) {
  // The run whole; the history before it (the last 200 runs of its
  // environment class: quarantine state, auto baseline) with only the
  // subtests of the tests this run failed, which are all the quarantine is
  // asked about.
  auto loaded = judge::LoadRunView(db, req.run_id);
  if (!loaded.ok()) return loaded.status();
  std::optional<judge::RunView> run = std::move(loaded.value());
  std::set<std::string> failing;
  for (const auto& [path, t] : run->tests) {
    if (judge::IsFailureName(t.status)) failing.insert(path);
  }
  auto history = judge::LoadClassHistory(db, req.run_id, 200, run->env_class, failing);
  if (!history.ok()) return history.status();
  std::vector<judge::RunView> before;
  for (auto& r : history.value()) {
    if (r.run.id < req.run_id) before.push_back(std::move(r));
  }
  judge::VerdictInputs in;
  in.run = &run.value();
  in.today = req.today.empty() ? TodayUtc() : req.today;
  judge::QuarantinedAfter(before, run->env_class, &in.quarantined, &in.quarantine_reasons);

  std::optional<judge::RunView> baseline;
  int64_t baseline_id = 0;
  if (req.baseline == "auto") {
    auto id = judge::FindAutoBaseline(db, before, run.value());
    if (!id.ok()) return id.status();
    baseline_id = id.value();
  } else if (!req.baseline.empty() && req.baseline != "none") {
    auto id = judge::ResolveRun(db, req.baseline);
    if (!id.ok()) return id.status();
    baseline_id = id.value();
  }
  if (baseline_id > 0) {
    auto b = judge::LoadRunView(db, baseline_id);
    if (!b.ok()) return b.status();
    baseline = std::move(b.value());
  }
  if (baseline) in.baseline = &*baseline;

  auto known = FindKnownIssues(req.known_issues, req.known_issues_beside_tests ? run->run.tests_dir : "");
  if (!known.ok()) return known.status();
  if (known.value()) in.known = &*known.value();
  judge::Verdict v = judge::Judge(in);
  if (req.baseline == "auto" && !baseline) {
    v.warnings.push_back("no baseline: no earlier complete run of the environment class ('" + run->env_class +
                         "') that ran this run's tests");
  }
  if (known.value() && req.stale_after > 0) {
    // Staleness over this run and the ones before it (of any class, whole).
    std::vector<judge::RunView> recent;
    store::RunQuery q;
    q.up_to = req.run_id - 1;
    q.newest = req.stale_after - 1;
    auto earlier = req.stale_after > 1 && req.run_id > 1 ? db.ListRuns(q) : Result<std::vector<model::RunRecord>>(
                                                               std::vector<model::RunRecord>{});
    if (!earlier.ok()) return earlier.status();
    for (const auto& e : *earlier) {
      auto r = judge::LoadRunView(db, e.id);
      if (!r.ok()) return r.status();
      recent.push_back(std::move(r.value()));
    }
    recent.push_back(run.value());
    if (recent.size() >= static_cast<size_t>(req.stale_after)) {
      for (const auto* k : StaleKnownIssues(*known.value(), recent, in.today)) {
        v.warnings.push_back(fmt::format("known issue {} ({}) matched nothing in the last {} runs: stale?", k->match,
                                         k->where_defined, recent.size()));
      }
    }
  }
  judge::Conclude(&v);
  return v;
}

}  // namespace vigil::engine
