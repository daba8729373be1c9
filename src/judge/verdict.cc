#include "judge/verdict.h"

#include <algorithm>

#include <fmt/format.h>

#include "judge/environment_check.h"
#include "judge/flakes.h"
#include "judge/outcome.h"

namespace vigil::judge {

const char* LevelName(Level l) {
  switch (l) {
    case Level::kSuccess: return "Success";
    case Level::kUnstable: return "Unstable";
    case Level::kCritical: return "Critical";
  }
  return "?";
}

int ExitCode(Level l) {
  switch (l) {
    case Level::kSuccess: return 0;
    case Level::kUnstable: return 1;
    case Level::kCritical: return 3;
  }
  return 1;
}

namespace {

std::string Describe(const KnownIssue& k) {
  return k.link.empty() ? k.reason : fmt::format("{} ({})", k.reason, k.link);
}

std::string ListSome(const std::vector<std::string>& items, size_t max = 3) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < max; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > max) s += fmt::format(" and {} more", items.size() - max);
  return s;
}

}  // namespace

void Conclude(Verdict* v) {
  std::vector<std::string> extras;
  if (!v->known.empty() || !v->known_crashes.empty()) extras.push_back(fmt::format("{} known", v->known.size() + v->known_crashes.size()));
  if (!v->quarantined.empty()) extras.push_back(fmt::format("{} quarantined", v->quarantined.size()));
  if (!v->preexisting.empty()) extras.push_back(fmt::format("{} also failing in run {}", v->preexisting.size(), v->baseline_id));
  if (!v->flaky.empty()) extras.push_back(fmt::format("{} flaky", v->flaky.size()));
  if (!v->warnings.empty()) extras.push_back(fmt::format("{} warning(s)", v->warnings.size()));
  std::string tail = extras.empty() ? "" : " (" + ListSome(extras, 9) + ")";
  if (!v->crashes.empty()) {
    v->level = Level::kCritical;
    std::vector<std::string> titles;
    for (const auto& c : v->crashes) {
      if (std::find(titles.begin(), titles.end(), c.title) == titles.end()) titles.push_back(c.title);
    }
    v->conclusion = fmt::format("Critical: {} kernel crash(es): {}", v->crashes.size(), ListSome(titles, 2));
    if (!v->failures.empty()) v->conclusion += fmt::format("; {} failed", v->failures.size());
  } else if (!v->failures.empty() || !v->skipped_by_accident.empty() || !v->missing.empty()) {
    v->level = Level::kUnstable;
    std::vector<std::string> parts;
    if (!v->failures.empty()) {
      std::vector<std::string> tests;  // failures grouped by test
      for (const auto& f : v->failures) {
        const std::string& test = f.test;
        if (std::find(tests.begin(), tests.end(), test) == tests.end()) tests.push_back(test);
      }
      parts.push_back(fmt::format("{} failed test(s): {}", tests.size(), ListSome(tests)));
    }
    if (!v->skipped_by_accident.empty()) {
      std::vector<std::string> p;
      for (const auto& s : v->skipped_by_accident) p.push_back(s.path);
      parts.push_back(fmt::format("{} skipped by accident: {}", p.size(), ListSome(p, 2)));
    }
    if (!v->missing.empty()) parts.push_back(fmt::format("{} planned test(s) never ran", v->missing.size()));
    v->conclusion = "Unstable: ";
    for (size_t i = 0; i < parts.size(); ++i) v->conclusion += (i ? "; " : "") + parts[i];
  } else {
    v->level = Level::kSuccess;
    v->conclusion = fmt::format("Success: {} test(s), no new failure", v->tests);
  }
  v->conclusion += tail;
}

Verdict Judge(const VerdictInputs& in) {
  Verdict v;
  const RunView& run = *in.run;
  v.run_id = run.run.id;
  v.baseline_id = in.baseline ? in.baseline->run.id : 0;
  v.tests = static_cast<int>(run.tests.size());
  KnownIssues none;
  KnownIssueMatcher matcher(in.known ? *in.known : none, run.env, in.today);
  auto base_status = [&](const std::string& test, const std::string& sub) -> std::string {
    if (!in.baseline) return "";
    auto it = in.baseline->tests.find(test);
    if (it == in.baseline->tests.end()) return "";
    if (sub.empty()) return it->second.status;
    for (const auto& s : it->second.subtests) {
      if (s.path == sub) return s.status;
    }
    return "";
  };
  auto key = [](const std::string& test, const std::string& sub) { return sub.empty() ? test : test + ":" + sub; };

  // Decides where one failure goes; returns true when it counts.
  auto place = [&](const std::string& test, const std::string& sub, const std::string& status,
                   const std::vector<model::CrashRecord>& crashes, bool never_quarantine) -> bool {
    std::string k = key(test, sub);
    if (const KnownIssue* ki = matcher.Match({test, sub, &crashes})) {
      v.known.push_back({k, status, Describe(*ki), test});
      return false;
    }
    if (!never_quarantine && in.quarantined.count(k)) {
      auto r = in.quarantine_reasons.find(k);
      v.quarantined.push_back({k, status, r == in.quarantine_reasons.end() ? "" : r->second, test});
      return false;
    }
    // A hang or a crash of the whole test is failing there already only if
    // it hung or crashed there too: a test that failed a subtest in the
    // baseline and hangs now has a new failure.
    const std::string base = base_status(test, sub);
    const bool whole = sub.empty() && (status == "TIMEOUT" || status == "CRASH");
    if (in.baseline && IsFailureName(base) && (!whole || base == status)) {
      v.preexisting.push_back({k, status, fmt::format("{} in run {}", base_status(test, sub), in.baseline->run.id),
                               test});
      return false;
    }
    v.failures.push_back({k, status, "", test});
    return true;
  };

  for (const auto& path : run.order) {
    const TestView& t = run.tests.at(path);
    if (model::ParseStatus(t.status) == model::TestStatus::kFlaky) v.flaky.push_back({path, t.status, fmt::format("{} attempts", t.attempts), path});
    if (!IsFailureName(t.status)) continue;
    bool crashed = t.status == "CRASH" || !t.crashes.empty();
    // A failure explained by its failing subtests is judged through them.
    std::vector<size_t> leaves = FailingLeafIndexes(t.subtests);
    if (leaves.empty() || t.status == "TIMEOUT" || t.status == "CRASH") {
      place(path, "", t.status, t.crashes, crashed);
    } else {
      for (size_t i : leaves) place(path, t.subtests[i].path, t.subtests[i].status, t.crashes, crashed);
    }
  }

  // Kernel reports.
  for (const auto& path : run.order) {
    const TestView& t = run.tests.at(path);
    for (const auto& c : t.crashes) {
      CrashItem item{path, c.type, c.title, c.fingerprint, c.fatal, ""};
      if (const KnownIssue* ki = matcher.MatchCrash(path, c)) {
        item.detail = Describe(*ki);
        v.known_crashes.push_back(item);
        continue;
      }
      bool in_base = false;
      if (in.baseline) {
        for (const auto& [bp, bt] : in.baseline->tests) {
          for (const auto& bc : bt.crashes) in_base |= bc.fingerprint == c.fingerprint;
        }
      }
      if (in_base) {
        item.detail = fmt::format("also in run {}", in.baseline->run.id);
        v.known_crashes.push_back(item);
        continue;
      }
      v.crashes.push_back(item);
    }
  }

  // Skipped by accident: passed in the baseline and skipped now; or skipped
  // (or failed) while the output names a missing tool or kernel feature.
  if (in.baseline) {
    for (const auto& path : run.order) {
      const TestView& t = run.tests.at(path);
      // SKIP, and NO_TESTS (a test that ran nothing: an early exit, a
      // broken harness) alike.
      if (KindOf(t.status) == Kind::kSkip && KindOf(base_status(path, "")) == Kind::kPass &&
          !base_status(path, "").empty()) {
        v.skipped_by_accident.push_back({path, t.status, fmt::format("{} in run {}", base_status(path, ""),
                                                                     in.baseline->run.id),
                                         path});
      }
      for (const auto& s : t.subtests) {
        std::string b = base_status(path, s.path);
        if (KindOf(s.status) == Kind::kSkip && !b.empty() && KindOf(b) == Kind::kPass) {
          v.skipped_by_accident.push_back({key(path, s.path), s.status, fmt::format("{} in run {}", b, in.baseline->run.id), path});
        }
      }
    }
  }
  for (const auto& path : run.order) {
    const TestView& t = run.tests.at(path);
    if (t.environment_issues.empty() || KindOf(t.status) == Kind::kPass) continue;
    bool listed = std::any_of(v.skipped_by_accident.begin(), v.skipped_by_accident.end(),
                              [&](const VerdictItem& i) { return i.path == path; });
    if (!listed) v.warnings.push_back(fmt::format("{} {}: {}", path, t.status, t.environment_issues.front()));
  }
  for (const auto& p : run.run.plan) {
    if (!run.tests.count(p)) v.missing.push_back({p, "MISSING", "planned, never ran", p});
  }
  for (auto& w : EnvironmentWarnings(run.env)) v.warnings.push_back("environment: " + w);
  for (const KnownIssue* k : matcher.Expired()) {
    v.warnings.push_back(fmt::format("known issue {} ({}) expired on {}: its failures count again",
                                     k->match, k->where_defined, k->expires));
  }

  Conclude(&v);
  return v;
}

int64_t AutoBaseline(const std::vector<RunView>& history, const RunView& run) {
  // The tests a run planned (its results when no plan was recorded).
  auto tests = [](const RunView& r) {
    std::vector<std::string> t = r.run.plan.empty() ? r.order : r.run.plan;
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
    return t;
  };
  std::vector<std::string> plan = tests(run);
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->run.id >= run.run.id || !it->complete() || it->env_class != run.env_class) continue;
    std::vector<std::string> p = tests(*it);
    if (std::includes(p.begin(), p.end(), plan.begin(), plan.end())) return it->run.id;
  }
  return 0;
}

Result<int64_t> FindAutoBaseline(store::Store& db, const std::vector<RunView>& history, const RunView& run) {
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    const model::RunRecord& r = it->run;
    // What complete() refuses without reading a test.
    if (r.id >= run.run.id || r.finished_at.empty() || r.status.empty() || r.status == "INTERRUPTED") continue;
    // The candidate as AutoBaseline sees it: its plan and the tests it recorded.
    auto whole = db.LoadRun(r.id);
    if (!whole.ok()) return whole.status();
    auto briefs = db.LoadAttemptBriefs({r.id});
    if (!briefs.ok()) return briefs.status();
    RunView v;
    v.run = std::move(whole.value());
    v.env = it->env;
    v.env_class = it->env_class;
    for (const auto& b : *briefs) {
      if (b.interrupted) continue;
      auto [t, fresh] = v.tests.try_emplace(b.test_path);
      if (fresh) v.order.push_back(b.test_path);
      t->second.status = b.status;
    }
    if (int64_t id = AutoBaseline({v}, run); id > 0) return id;
  }
  return int64_t{0};
}

void QuarantinedAfter(const std::vector<RunView>& history, const std::string& env_class, std::set<std::string>* keys,
                      std::map<std::string, std::string>* reasons) {
  FlakeOptions o;
  for (const Series& s : BuildSeries(history)) {
    if (s.env != env_class) continue;
    std::string reason;
    int64_t since = 0;
    std::vector<bool> q = QuarantineStates(s, o, &reason, &since);
    if (q.empty() || !q.back()) continue;
    std::string k = s.subtest.empty() ? s.test : s.test + ":" + s.subtest;
    keys->insert(k);
    (*reasons)[k] = fmt::format("quarantined since run {}: {}", since, reason);
  }
}

}  // namespace vigil::judge
