#include "bisect/search.h"

#include <algorithm>

namespace vigil::bisect {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPass: return "pass";
    case Outcome::kFail: return "fail";
    case Outcome::kSkip: return "skip";
  }
  return "?";
}

const char* StopName(Stop s) {
  switch (s) {
    case Stop::kNone: return "running";
    case Stop::kConfident: return "confident";
    case Stop::kMaxRuns: return "max-runs";
    case Stop::kUntestable: return "untestable";
  }
  return "?";
}

Search::Search(int n, SearchOptions o) : model_(n, o.model), o_(o), kept_(model_.n() + 1, false) {
  model_.ObserveMany(model_.n(), o.known_runs, o.known_failures);
}

int Search::Next() {
  if (stop_ != Stop::kNone) return -1;
  if (Confident()) {
    stop_ = Stop::kConfident;
    return -1;
  }
  if (runs_ >= o_.max_runs) {
    stop_ = Stop::kMaxRuns;
    return -1;
  }
  if (pending_ > 0 && current_ >= 0 && !model_.skipped(current_)) {
    --pending_;
    return current_;
  }
  int j = model_.NextProbe(current_, o_.build_cost, o_.keep_builds ? &kept_ : nullptr);
  if (j < 0) {
    stop_ = Stop::kUntestable;
    return -1;
  }
  if (j != current_) {
    if (!o_.keep_builds || !kept_[j]) ++builds_;
    if (o_.keep_builds) kept_[j] = true;
    current_ = j;
    pending_ = std::max(1, o_.runs_per_build) - 1;
  }
  return j;
}

void Search::SetKept(int pos, bool kept) {
  if (o_.keep_builds && pos >= 0 && pos < static_cast<int>(kept_.size())) kept_[pos] = kept;
}

void Search::Record(int pos, Outcome o) {
  if (o == Outcome::kSkip) {
    model_.Skip(pos);
    pending_ = 0;
    return;
  }
  ++runs_;
  model_.Observe(pos, o == Outcome::kFail);
}

namespace {

SimStats Stats(std::vector<int> runs, std::vector<int> builds, int correct, int trials, double build_cost) {
  SimStats s;
  auto mean = [](const std::vector<int>& v) {
    double t = 0;
    for (int x : v) t += x;
    return v.empty() ? 0.0 : t / v.size();
  };
  auto p90 = [](std::vector<int> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(0.9 * v.size()))]);
  };
  s.accuracy = trials ? static_cast<double>(correct) / trials : 0;
  s.mean_runs = mean(runs);
  s.p90_runs = p90(runs);
  s.mean_builds = mean(builds);
  s.p90_builds = p90(builds);
  s.mean_cost = s.mean_runs + build_cost * s.mean_builds;
  return s;
}

// The earlier runs at the bad end a trial starts with: `history` draws at p.
void DrawHistory(const SimOptions& o, std::mt19937_64& rng, SearchOptions* so) {
  std::binomial_distribution<int> fails_of(o.history, o.p);
  so->known_runs = o.history;
  so->known_failures = o.history > 0 ? fails_of(rng) : 0;
}

struct Trial {
  int runs = 0, builds = 0;
  bool correct = false;
};

// o.trials trials of `one(culprit, options, rng)`, each with a culprit drawn
// uniformly and its history; `salt` gives each policy a stream of its own.
template <typename F>
SimStats Trials(const SimOptions& o, uint64_t salt, F one) {
  std::mt19937_64 rng(o.seed ^ salt);
  std::uniform_int_distribution<int> culprit_of(1, o.commits);
  SearchOptions so = o.search;
  so.model.epsilon = o.epsilon;
  std::vector<int> runs, builds;
  int correct = 0;
  for (int t = 0; t < o.trials; ++t) {
    int c = culprit_of(rng);
    DrawHistory(o, rng, &so);
    Trial r = one(c, so, rng);
    runs.push_back(r.runs);
    builds.push_back(r.builds);
    correct += r.correct;
  }
  return Stats(runs, builds, correct, o.trials, o.search.build_cost);
}

// A run at `pos` fails: at rate p where the culprit c is in, epsilon elsewhere.
bool Fails(const SimOptions& o, int pos, int c, std::mt19937_64& rng) {
  return std::uniform_real_distribution<double>(0, 1)(rng) < (pos >= c ? o.p : o.epsilon);
}

// Naive bisection, each step repeated up to k times (a failure settles it).
SimStats Naive(const SimOptions& o, int k) {
  return Trials(o, 0x9e3779b97f4a7c15ull, [&](int c, const SearchOptions&, std::mt19937_64& rng) {
    Trial r;
    int lo = 0, hi = o.commits;
    while (hi - lo > 1) {
      int mid = lo + (hi - lo) / 2;
      ++r.builds;
      bool bad = false;
      for (int i = 0; i < k && !bad; ++i) {
        ++r.runs;
        bad = Fails(o, mid, c, rng);
      }
      (bad ? hi : lo) = mid;
    }
    r.correct = hi == c;
    return r;
  });
}

// The oracle: knows the culprit c, runs c until it fails, then keeps
// (runs at c - 1) near `ratio` x (runs at c), and stops by the search's rule.
SimStats Oracle(const SimOptions& o, double ratio) {
  return Trials(o, 0x6a09e667f3bcc909ull, [&](int c, const SearchOptions& so, std::mt19937_64& rng) {
    // The search's state and stop rule, with this policy instead of Next().
    Search s(o.commits, so);
    Trial r;
    int at_c = 0, at_parent = 0, last = -1;
    bool built_c = false, built_parent = false;
    while (s.runs() < so.max_runs && !s.Confident()) {
      bool culprit = s.model().failures(c) == 0 || at_parent >= ratio * at_c;
      int j = culprit ? c : c - 1;
      (culprit ? at_c : at_parent)++;
      bool& built = culprit ? built_c : built_parent;
      r.builds += j != last && !(so.keep_builds && built);
      built = true;
      last = j;
      s.Record(j, Fails(o, j, c, rng) ? Outcome::kFail : Outcome::kPass);
    }
    Group g = s.model().Best();
    r.runs = s.runs();
    r.correct = s.Confident() && g.first == c && g.last == c;
    return r;
  });
}

}  // namespace

SimResult Simulate(const SimOptions& o) {
  SimResult res;
  res.vigil = Trials(o, 0, [&](int c, const SearchOptions& so, std::mt19937_64& rng) {
    Search s(o.commits, so);
    for (int j = s.Next(); j >= 0; j = s.Next()) s.Record(j, Fails(o, j, c, rng) ? Outcome::kFail : Outcome::kPass);
    Group g = s.model().Best();
    return Trial{s.runs(), s.builds(), s.stop() == Stop::kConfident && g.first == c && g.last == c};
  });
  // The smallest k whose accuracy reaches the search's.
  for (int k = 1; k <= 200; ++k) {
    SimStats n = Naive(o, k);
    res.naive = n;
    res.naive_repeats = k;
    if (n.accuracy >= res.vigil.accuracy) break;
  }
  res.cost_ratio = res.naive.mean_cost > 0 ? res.vigil.mean_cost / res.naive.mean_cost : 0;
  for (double ratio : {0.5, 1.0, 1.5, 2.0, 3.0, 4.0}) {
    SimStats s = Oracle(o, ratio);
    if (res.oracle_ratio == 0 || s.mean_runs < res.oracle.mean_runs) {
      res.oracle = s;
      res.oracle_ratio = ratio;
    }
  }
  return res;
}

}  // namespace vigil::bisect
