#include "engine/verdict.h"

#include <sys/stat.h>

#include <set>

#include <fmt/format.h>

#include "base/clock.h"
#include "judge/outcome.h"

namespace vigil::engine {

Result<std::unique_ptr<store::Store>> OpenExistingStore(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return Status::NotFound(fmt::format("no results store at {} (vigil run --db {} creates one)", path, path));
  }
  return store::Store::Open(path);
}

Result<std::optional<judge::KnownIssues>> FindKnownIssues(const std::string& flag, const std::string& tests_dir) {
  std::string path = flag;
  if (path.empty() && !tests_dir.empty()) {
    std::string beside = tests_dir + "/known-issues.toml";
    struct stat st {};
    if (stat(beside.c_str(), &st) == 0) path = beside;
  }
  if (path.empty()) return std::optional<judge::KnownIssues>();
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
  // The run and the history before it (quarantine state, auto baseline,
  // staleness), read once: the run is the newest of its class up to itself.
  auto history = judge::LoadHistory(db, req.run_id, 200);
  if (!history.ok()) return history.status();
  std::optional<judge::RunView> run;
  std::vector<judge::RunView> before;
  for (auto& r : history.value()) {
    if (r.run.id < req.run_id) {
      before.push_back(std::move(r));
    } else if (r.run.id == req.run_id) {
      run = std::move(r);
    }
  }
  if (!run) return Status::NotFound(fmt::format("no run {}", req.run_id));
  judge::VerdictInputs in;
  in.run = &run.value();
  in.today = req.today.empty() ? TodayUtc() : req.today;
  judge::QuarantinedAfter(before, run->env_class, &in.quarantined, &in.quarantine_reasons);

  std::optional<judge::RunView> baseline;
  if (req.baseline == "auto") {
    int64_t id = judge::AutoBaseline(before, run.value());
    if (id > 0) {
      for (auto& r : before) {
        if (r.run.id == id) baseline = r;
      }
    }
  } else if (!req.baseline.empty() && req.baseline != "none") {
    auto id = judge::ResolveRun(db, req.baseline);
    if (!id.ok()) return id.status();
    auto b = judge::LoadRunView(db, id.value());
    if (!b.ok()) return b.status();
    baseline = std::move(b.value());
  }
  if (baseline) in.baseline = &*baseline;

  auto known = FindKnownIssues(req.known_issues, run->run.tests_dir);
  if (!known.ok()) return known.status();
  if (known.value()) in.known = &*known.value();
  judge::Verdict v = judge::Judge(in);
  if (req.baseline == "auto" && !baseline) {
    v.warnings.push_back("no baseline: no earlier complete run of the environment class ('" + run->env_class +
                         "') that ran this run's tests");
  }
  if (known.value() && req.stale_after > 0) {
    // Staleness over this run and the ones before it.
    std::vector<judge::RunView> recent;
    size_t n = before.size();
    size_t from = n + 1 > static_cast<size_t>(req.stale_after) ? n + 1 - req.stale_after : 0;
    for (size_t i = from; i < n; ++i) recent.push_back(before[i]);
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
