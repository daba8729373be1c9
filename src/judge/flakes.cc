#include "judge/flakes.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

namespace vigil::judge {

const char* FlakeClassName(FlakeClass c) {
  switch (c) {
    case FlakeClass::kStable: return "stable";
    case FlakeClass::kFlaky: return "flaky";
    case FlakeClass::kBroken: return "broken";
    case FlakeClass::kRegressed: return "regressed";
    case FlakeClass::kFixed: return "fixed";
    case FlakeClass::kNew: return "new";
    case FlakeClass::kSkipped: return "skipped";
  }
  return "?";
}

namespace {

double Rate(int fails, int runs) { return (fails + 1.0) / (runs + 2.0); }

}  // namespace

std::vector<bool> QuarantineStates(const Series& s, const FlakeOptions& o, std::string* reason, int64_t* since,
                                   int* passes) {
  std::vector<bool> out;
  bool q = false;
  int runs = 0, fails = 0, flakes = 0, passes_in_row = 0;
  for (const Point& p : s.points) {
    if (p.kind != Kind::kSkip) {
      ++runs;
      if (p.kind == Kind::kFail) ++fails;
      if (p.retry_flake) ++flakes;
      passes_in_row = p.kind == Kind::kPass ? passes_in_row + 1 : 0;
      double f = Rate(fails, runs);
      if (!q && flakes > 0 && f > o.quarantine_rate) {
        q = true;
        passes_in_row = 0;  // passes count from the quarantine on
        if (since) *since = p.run_id;
        if (reason) {
          *reason = fmt::format("failure rate {:.0f}% > {:.0f}% with {} same-run retry flake(s); released after {} "
                                "passes in a row",
                                100 * f, 100 * o.quarantine_rate, flakes, o.release_after);
        }
      } else if (q && passes_in_row >= o.release_after) {
        q = false;
        // Released: the counts start again, so an old flake doesn't re-quarantine at once.
        runs = fails = flakes = 0;
        if (reason) reason->clear();
        if (since) *since = 0;
      }
    }
    out.push_back(q);
  }
  if (passes) *passes = passes_in_row;
  return out;
}

FlakeEntry Classify(const Series& s, const FlakeOptions& o) {
  FlakeEntry e;
  e.test = s.test;
  e.subtest = s.subtest;
  e.env = s.env;
  std::vector<const Point*> seen;  // not skipped
  for (const Point& p : s.points) {
    if (p.kind == Kind::kSkip) continue;
    seen.push_back(&p);
    e.failures += p.kind == Kind::kFail;
    e.retry_flakes += p.retry_flake;
  }
  if (!s.points.empty()) e.last_status = s.points.back().status;
  e.runs = static_cast<int>(seen.size());
  e.fail_rate = Rate(e.failures, e.runs);
  int flips = 0;
  for (size_t i = 1; i < seen.size(); ++i) flips += seen[i]->kind != seen[i - 1]->kind;
  e.flip_rate = seen.size() > 1 ? static_cast<double>(flips) / (seen.size() - 1) : 0.0;
  int passes = 0;
  std::vector<bool> q = QuarantineStates(s, o, &e.quarantine_reason, &e.quarantined_since, &passes);
  e.quarantined = !q.empty() && q.back();
  if (e.quarantined) e.release_in = std::max(o.release_after - passes, 1);

  if (e.runs == 0) {
    e.cls = s.points.empty() ? FlakeClass::kNew : FlakeClass::kSkipped;
    return e;
  }
  // The streak of equal results at the end, and what came before it.
  size_t n = seen.size();
  Kind last = seen.back()->kind;
  size_t streak = 0;
  bool streak_flake = false;
  while (streak < n && seen[n - 1 - streak]->kind == last) {
    streak_flake |= seen[n - 1 - streak]->retry_flake;
    ++streak;
  }
  size_t before = n - streak;
  int fails_before = 0;
  for (size_t i = 0; i < before; ++i) fails_before += seen[i]->kind == Kind::kFail;
  int passes_before = static_cast<int>(before) - fails_before;

  if (last == Kind::kFail) {
    if (before == 0) {
      e.cls = e.runs < o.min_runs ? FlakeClass::kNew : FlakeClass::kBroken;
      return e;
    }
    double p = Rate(fails_before, static_cast<int>(before));
    bool clean_before = fails_before == 0 && e.retry_flakes == 0;
    if (static_cast<int>(before) >= o.min_runs &&
        (clean_before || std::pow(p, static_cast<double>(streak)) < o.alpha)) {
      e.cls = FlakeClass::kRegressed;
      e.since_run = seen[before]->run_id;
      return e;
    }
    e.cls = e.runs < o.min_runs ? FlakeClass::kNew : FlakeClass::kFlaky;
    return e;
  }
  // Ends passing.
  if (e.failures == 0 && e.retry_flakes == 0) {
    e.cls = e.runs < o.min_runs ? FlakeClass::kNew : FlakeClass::kStable;
    return e;
  }
  // Failed mostly (every time, or often enough that this many passes in a
  // row are unlikely under the old rate), then passes every time.
  if (static_cast<int>(before) >= o.min_runs && fails_before > passes_before && !streak_flake &&
      static_cast<int>(streak) >= o.min_runs) {
    double pass_before = 1.0 - Rate(fails_before, static_cast<int>(before));
    if (passes_before == 0 || std::pow(pass_before, static_cast<double>(streak)) < o.alpha) {
      e.cls = FlakeClass::kFixed;
      e.since_run = seen[before]->run_id;
      return e;
    }
  }
  e.cls = e.runs < o.min_runs ? FlakeClass::kNew : FlakeClass::kFlaky;
  return e;
}

std::vector<Series> BuildSeries(const std::vector<RunView>& runs) {
  // Looked up without building a key of strings for each point: a few
  // hundred thousand points make a flakes page.
  using Key = std::tuple<std::string, std::string, std::string>;
  using View = std::tuple<std::string_view, std::string_view, std::string_view>;
  struct Less {
    using is_transparent = void;
    static View Of(const Key& k) { return View(std::get<0>(k), std::get<1>(k), std::get<2>(k)); }
    static const View& Of(const View& v) { return v; }
    bool operator()(const Key& a, const Key& b) const { return Of(a) < Of(b); }
    bool operator()(const Key& a, const View& b) const { return Of(a) < b; }
    bool operator()(const View& a, const Key& b) const { return a < Of(b); }
  };
  std::map<Key, Series, Less> all;
  auto add = [&](const std::string& test, const std::string& sub, const RunView& r, const std::string& status,
                 bool crash, int64_t duration) {
    auto it = all.find(View(r.env_class, test, sub));
    if (it == all.end()) {
      it = all.emplace(Key(r.env_class, test, sub), Series()).first;
      it->second.test = test;
      it->second.subtest = sub;
      it->second.env = r.env_class;
    }
    Point& p = it->second.points.emplace_back();
    p.run_id = r.run.id;
    p.status = status;
    p.kind = KindOf(status);
    p.retry_flake = model::ParseStatus(status) == model::TestStatus::kFlaky;
    p.crash = crash;
    p.duration_ms = duration;
  };
  for (const RunView& r : runs) {
    for (const auto& [path, t] : r.tests) {
      add(path, "", r, t.status, !t.crashes.empty(), t.duration_ms);
      for (const auto& st : t.subtests) add(path, st.path, r, st.status, false, st.duration_ms.value_or(-1));
    }
  }
  std::vector<Series> out;
  out.reserve(all.size());
  for (auto& [k, s] : all) out.push_back(std::move(s));
  return out;
}

}  // namespace vigil::judge
