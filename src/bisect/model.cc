#include "bisect/model.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vigil::bisect {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double LogBeta(double a, double b) { return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b); }

// x log x with 0 log 0 = 0.
double XLogX(double x) { return x > 0 ? x * std::log(x) : 0.0; }

}  // namespace

Model::Model(int n, ModelOptions o)
    : n_(std::max(n, 1)), o_(o), runs_(n_ + 1), fails_(n_ + 1), skipped_(n_ + 1), post_(n_ + 2), phat_(n_ + 2) {
  Update();
}

void Model::Observe(int pos, bool failed) {
  if (pos < 0 || pos > n_) return;
  ++runs_[pos];
  fails_[pos] += failed;
  Update();
}

void Model::ObserveMany(int pos, int runs, int failures) {
  if (pos < 0 || pos > n_ || runs <= 0) return;
  runs_[pos] += runs;
  fails_[pos] += std::clamp(failures, 0, runs);
  Update();
}

void Model::Skip(int pos) {
  if (pos < 0 || pos > n_) return;
  skipped_[pos] = true;
  Update();
}

double Model::PHat(int k) const { return phat_[std::clamp(k, 0, n_ + 1)]; }

// log L(k) = log B(a + F>=k, b + S>=k) - log B(a, b) + F<k log eps + S<k log(1 - eps)
void Model::Update() {
  int m = n_ + 2;
  std::vector<double> logp(m);
  // Suffix sums of failures/passes at positions >= k.
  std::vector<int64_t> suf_f(n_ + 2, 0), suf_s(n_ + 2, 0);
  for (int i = n_; i >= 0; --i) {
    suf_f[i] = suf_f[i + 1] + fails_[i];
    suf_s[i] = suf_s[i + 1] + (runs_[i] - fails_[i]);
  }
  int64_t tot_f = suf_f[0], tot_s = suf_s[0];
  double log_eps = o_.epsilon > 0 ? std::log(o_.epsilon) : kNegInf;
  double log_1eps = std::log1p(-o_.epsilon);
  double lb0 = LogBeta(o_.prior_a, o_.prior_b);
  double mid = (1.0 - 2 * o_.extra_prior) / n_;
  double best = kNegInf;
  for (int k = 0; k < m; ++k) {
    double fb = static_cast<double>(suf_f[k]), sb = static_cast<double>(suf_s[k]);
    double fg = static_cast<double>(tot_f - suf_f[k]), sg = static_cast<double>(tot_s - suf_s[k]);
    double ll = LogBeta(o_.prior_a + fb, o_.prior_b + sb) - lb0;
    double w = o_.deterministic_prior;
    if (w > 0) {
      // Mixture: w * [no pass on the affected side] + (1 - w) * Beta marginal.
      double beta_term = std::log1p(-w) + ll;
      ll = sb > 0 ? beta_term : std::max(std::log(w), beta_term) + std::log1p(std::exp(-std::fabs(std::log(w) - beta_term)));
    }
    if (fg > 0) ll += fg * log_eps;  // -inf when eps = 0
    ll += sg * log_1eps;
    double prior = (k == 0 || k == m - 1) ? o_.extra_prior : mid;
    logp[k] = ll + std::log(prior);
    best = std::max(best, logp[k]);
    phat_[k] = (o_.prior_a + fb) / (o_.prior_a + o_.prior_b + fb + sb);
    if (w > 0 && sb == 0) {
      // The posterior mean of p mixes in the atom at 1 by its posterior weight.
      double atom = std::log(w), beta_term = std::log1p(-w) + LogBeta(o_.prior_a + fb, o_.prior_b) - lb0;
      double pa = 1.0 / (1.0 + std::exp(beta_term - atom));
      phat_[k] = pa + (1 - pa) * phat_[k];
    }
  }
  double z = 0;
  for (int k = 0; k < m; ++k) {
    post_[k] = best == kNegInf ? 1.0 : std::exp(logp[k] - best);
    z += post_[k];
  }
  for (double& p : post_) p /= z;
}

Group Model::Best() const {
  // k and k + 1 differ only in whether position k is affected: when k was
  // skipped (no runs), no observation tells them apart.
  Group best;
  int m = n_ + 2;
  int k = 0;
  while (k < m) {
    Group g{k, k, post_[k]};
    while (g.last + 1 < m && g.last <= n_ && skipped_[g.last] && runs_[g.last] == 0) {
      ++g.last;
      g.mass += post_[g.last];
    }
    if (g.mass > best.mass) best = g;
    k = g.last + 1;
  }
  return best;
}

double Model::InformationGain(int j) const {
  // Outcome "fail" at j: hypotheses k <= j predict p-hat(k), k > j predict eps.
  double pf = 0, sum_f = 0, ps = 0, sum_s = 0;  // masses and sum of w log w
  double h0 = 0;
  for (int k = 0; k < n_ + 2; ++k) {
    double pk = post_[k];
    if (pk <= 0) continue;
    h0 -= pk * std::log(pk);
    double q = k <= j ? phat_[k] : o_.epsilon;
    double wf = pk * q, ws = pk * (1 - q);
    pf += wf;
    ps += ws;
    sum_f += XLogX(wf);
    sum_s += XLogX(ws);
  }
  // H(posterior | o) = log Z_o - (1/Z_o) sum w log w
  double h = 0;
  if (pf > 0) h += pf * (std::log(pf) - sum_f / pf);
  if (ps > 0) h += ps * (std::log(ps) - sum_s / ps);
  return (h0 - h) / std::log(2.0);
}

namespace {

// Runs in a row a build may be weighed by: a build is paid once for all of
// them, so a commit elsewhere is scored by its best batch.
constexpr int kBatches[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};

}  // namespace

double Model::GainOfRuns(int j, int r) const {
  // r runs at j, outcome "some failure" or "all passed": hypotheses k <= j
  // predict all passes with (1 - p-hat(k))^r, k > j with (1 - eps)^r.
  if (j < 0 || j > n_ || r < 1) return 0;
  double pf = 0, sum_f = 0, ps = 0, sum_s = 0, h0 = 0;
  double q_eps = 1 - std::pow(1 - o_.epsilon, r);
  for (int k = 0; k < n_ + 2; ++k) {
    double pk = post_[k];
    if (pk <= 0) continue;
    h0 -= XLogX(pk);
    double q = k <= j ? 1 - std::pow(1 - phat_[k], r) : q_eps;
    double wf = pk * q, ws = pk * (1 - q);
    pf += wf;
    ps += ws;
    sum_f += XLogX(wf);
    sum_s += XLogX(ws);
  }
  double h = 0;
  if (pf > 1e-300) h += pf * std::log(pf) - sum_f;
  if (ps > 1e-300) h += ps * std::log(ps) - sum_s;
  return (h0 - h) / std::log(2.0);
}

int Model::NextProbe(int current, double build_cost, const std::vector<bool>* kept) const {
  // For each batch size r, one pass of prefix sums over k of the quantities
  // the gain needs, so choosing is O(n) per batch size. A run at `current`
  // costs 1 and is scored alone (one run, then choose again); a commit
  // elsewhere costs build_cost + r for its best batch of r runs, so the
  // search stays at a built commit while its runs tell more per cost than a
  // build and a batch elsewhere would. A kept build costs what `current` does.
  int m = n_ + 2;
  double h0 = 0;
  for (int k = 0; k < m; ++k) h0 -= XLogX(post_[k]);
  std::vector<double> a(m + 1), b(m + 1), c(m + 1), d(m + 1), mass(m + 1, 0), plogp(m + 1, 0);
  for (int k = 0; k < m; ++k) mass[k + 1] = mass[k] + post_[k];
  for (int k = m - 1; k >= 0; --k) plogp[k] = plogp[k + 1] + XLogX(post_[k]);
  std::vector<double> score(n_ + 1, -1);
  for (int r : kBatches) {
    if (r > 1 && build_cost <= 0) break;  // free builds: one run at a time
    a[0] = b[0] = c[0] = d[0] = 0;
    for (int k = 0; k < m; ++k) {
      double pk = post_[k], q = r == 1 ? phat_[k] : 1 - std::pow(1 - phat_[k], r);
      a[k + 1] = a[k] + pk * q;
      b[k + 1] = b[k] + XLogX(pk * q);
      c[k + 1] = c[k] + pk * (1 - q);
      d[k + 1] = d[k] + XLogX(pk * (1 - q));
    }
    // Hypotheses k > j predict eps_r: sum over them of x log x with
    // x = pk * eps_r is eps_r * (sum pk log pk) + eps_r log eps_r * (sum pk).
    double eps = r == 1 ? o_.epsilon : 1 - std::pow(1 - o_.epsilon, r);
    double leps = eps > 0 ? std::log(eps) : 0, l1eps = std::log1p(-eps);
    for (int j = 0; j <= n_; ++j) {
      if (skipped_[j]) continue;
      const bool built = j == current || (kept && j < static_cast<int>(kept->size()) && (*kept)[j]);
      if (built && r > 1) continue;
      double tail_mass = mass[m] - mass[j + 1];
      double tail_plogp = plogp[j + 1];
      double pf = a[j + 1] + eps * tail_mass;
      double sf = b[j + 1] + (eps > 0 ? eps * tail_plogp + eps * leps * tail_mass : 0);
      double ps = c[j + 1] + (1 - eps) * tail_mass;
      double ss = d[j + 1] + (1 - eps) * tail_plogp + (1 - eps) * l1eps * tail_mass;
      double h = 0;
      if (pf > 1e-300) h += pf * std::log(pf) - sf;
      if (ps > 1e-300) h += ps * std::log(ps) - ss;
      double gain = h0 - h;
      double cost = built ? 1.0 : r + build_cost;
      score[j] = std::max(score[j], gain / cost);
    }
  }
  int best = -1;
  double best_score = -1;
  for (int j = 0; j <= n_; ++j) {
    if (skipped_[j]) continue;
    if (score[j] > best_score + 1e-12) {
      best_score = score[j];
      best = j;
    }
  }
  return best;
}

}  // namespace vigil::bisect
