#include "judge/flakes.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "model/verdicts.h"

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
  int runs = 0, fails = 0, flakes = 0, passes_in_row = 0, fails_in_row = 0;
  double rate_at_q = 0;
  // Released: the counts start again, so an old flake doesn't re-quarantine at once.
  auto release = [&] {
    q = false;
    runs = fails = flakes = 0;
    if (reason) reason->clear();
    if (since) *since = 0;
  };
  for (const Point& p : s.points) {
    if (p.kind != Kind::kSkip) {
      ++runs;
      if (p.kind == Kind::kFail) ++fails;
      if (p.retry_flake) ++flakes;
      passes_in_row = p.kind == Kind::kPass ? passes_in_row + 1 : 0;
      fails_in_row = p.kind == Kind::kFail ? fails_in_row + 1 : 0;
      double f = Rate(fails, runs);
      if (q && fails_in_row > 0 && std::pow(rate_at_q, fails_in_row) < o.alpha) {
        // Failing in a row beyond what its flakiness explains: it fails now,
        // and the failures count again (a regression is not hidden for good).
        release();
      } else if (!q && flakes > 0 && f > o.quarantine_rate) {
        q = true;
        rate_at_q = std::min(f, 0.99);
        fails_in_row = 0;   // the streak counts from the quarantine on
        passes_in_row = 0;  // passes count from the quarantine on
        if (since) *since = p.run_id;
        if (reason) {
          *reason = fmt::format("failure rate {:.0f}% > {:.0f}% with {} same-run retry flake(s); released after {} "
                                "passes in a row",
                                100 * f, 100 * o.quarantine_rate, flakes, o.release_after);
        }
      } else if (q && passes_in_row >= o.release_after) {
        release();
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
  if (!s.points.empty()) e.last_status = std::string(model::StatusName(s.points.back().status));
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
    // Nothing failed before: a regression however few runs came before
    // (pass, pass, fail was "flaky"); otherwise the streak must be longer
    // than the earlier rate explains, on enough runs.
    if ((clean_before && e.runs >= o.min_runs) ||
        (static_cast<int>(before) >= o.min_runs && std::pow(p, static_cast<double>(streak)) < o.alpha)) {
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

size_t SeriesBuilder::Find(const std::string& env, std::string_view test, std::string_view subtest) {
  if (last_ != kNone && next_[last_] != kNone) {
    const Series& s = series_[next_[last_]];
    if (s.subtest == subtest && s.test == test && s.env == env) return next_[last_];
  }
  // The key: each part after its length, so that no bytes in a name (a NUL
  // included) make two series one. Its memory is reused: a flakes page adds
  // a few hundred thousand points.
  key_.clear();
  for (std::string_view part : {std::string_view(env), test, subtest}) {
    auto n = static_cast<uint32_t>(part.size());
    key_.append(reinterpret_cast<const char*>(&n), sizeof n);
    key_.append(part);
  }
  auto it = index_.find(std::string_view(key_));
  if (it != index_.end()) return it->second;
  size_t i = series_.size();
  index_.emplace(key_, i);
  Series& s = series_.emplace_back();
  s.test = test;
  s.subtest = subtest;
  s.env = env;
  // No room reserved for every run of the window: names that change from
  // run to run (a PID, a port in a subtest's name) make a series per run.
  next_.push_back(kNone);
  return i;
}

void SeriesBuilder::Add(const std::string& env, int64_t run_id, std::string_view test, std::string_view subtest,
                        std::string_view status, bool crash, int64_t duration_ms) {
  size_t i = Find(env, test, subtest);
  if (last_ != kNone) next_[last_] = i;
  last_ = i;
  Point& p = series_[i].points.emplace_back();
  p.run_id = run_id;
  p.status = model::ParseStatus(status);
  p.kind = KindOf(p.status);
  p.retry_flake = p.status == model::TestStatus::kFlaky;
  p.crash = crash;
  p.duration_ms = duration_ms;
}

std::vector<Series> SeriesBuilder::Take() {
  std::vector<size_t> order(series_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Series& x = series_[a];
    const Series& y = series_[b];
    return std::tie(x.env, x.test, x.subtest) < std::tie(y.env, y.test, y.subtest);
  });
  std::vector<Series> out;
  out.reserve(order.size());
  for (size_t i : order) out.push_back(std::move(series_[i]));
  series_.clear();
  index_.clear();
  next_.clear();
  last_ = kNone;
  return out;
}

std::vector<Series> BuildSeries(const std::vector<RunView>& runs) {
  SeriesBuilder b;
  for (const RunView& r : runs) {
    for (const auto& [path, t] : r.tests) {
      b.Add(r.env_class, r.run.id, path, "", t.status, !t.crashes.empty(), t.duration_ms);
      for (const auto& st : t.subtests) {
        b.Add(r.env_class, r.run.id, path, st.path, st.status, false, st.duration_ms.value_or(-1));
      }
    }
  }
  return b.Take();
}

Result<std::vector<Series>> LoadSeries(store::Store& db, int64_t up_to, int window, size_t* runs) {
  auto listed = HistoryRuns(db, up_to, window, false);
  if (!listed.ok()) return listed.status();
  if (runs) *runs = listed->size();
  std::vector<int64_t> ids;
  std::map<int64_t, const RunView*> by_id;
  for (const RunView& r : *listed) {
    ids.push_back(r.run.id);
    by_id[r.run.id] = &r;
  }
  auto summaries = db.LoadTestSummaries(ids);  // by run, oldest first
  if (!summaries.ok()) return summaries.status();
  SeriesBuilder b;
  model::PackedSubtest sub;
  for (const model::TestSummary& t : *summaries) {
    const RunView& r = *by_id.at(t.run_id);
    b.Add(r.env_class, t.run_id, t.test_path, "", t.status, t.crashes > 0, t.duration_ms);
    model::PackedSubtests subs(t.subtests);
    while (subs.Next(&sub)) {
      b.Add(r.env_class, t.run_id, t.test_path, sub.path, sub.status, false, sub.duration_ms.value_or(-1));
    }
  }
  return b.Take();
}

}  // namespace vigil::judge
