#include "judge/compare.h"

#include <set>

#include <fmt/format.h>

#include "judge/outcome.h"

namespace vigil::judge {
namespace {

struct Entry {
  std::string status;
  int64_t duration_ms = -1;
  bool in_both = true;  // its test ran in both runs
};

// Every test and subtest of a run by path, in the run's order; `other` is
// the run it is compared with.
std::vector<std::pair<std::string, Entry>> Flatten(const RunView& r, const RunView& other) {
  std::vector<std::pair<std::string, Entry>> out;
  for (const auto& path : r.order) {
    const TestView& t = r.tests.at(path);
    bool both = other.tests.count(path) > 0;
    out.push_back({path, {t.status, t.duration_ms, both}});
    for (const auto& s : t.subtests)
      out.push_back({path + ":" + s.path, {s.status, s.duration_ms.value_or(-1), both}});
  }
  return out;
}

}  // namespace

std::map<std::string, std::pair<std::string, std::string>> EnvironmentDiff(const model::Environment& a,
                                                                            const model::Environment& b) {
  std::map<std::string, std::pair<std::string, std::string>> d;
  auto add = [&](const std::string& key, const std::string& x, const std::string& y) {
    if (x != y) d[key] = {x, y};
  };
  add("kernel_release", a.kernel_release, b.kernel_release);
  add("kernel_version", a.uname, b.uname);
  add("kernel_config", a.kernel_config, b.kernel_config);
  add("arch", a.arch, b.arch);
  add("cpus", std::to_string(a.cpus), std::to_string(b.cpus));
  add("memory_mib", std::to_string(a.memory_kb / 1024), std::to_string(b.memory_kb / 1024));
  if (a.memory_kb / 65536 == b.memory_kb / 65536) d.erase("memory_mib");  // small drifts are no change
  add("where", a.where, b.where);
  add("accel", a.accel, b.accel);
  std::set<std::string> tools;
  for (const auto& [k, v] : a.tools) tools.insert(k);
  for (const auto& [k, v] : b.tools) tools.insert(k);
  for (const auto& t : tools) {
    auto ia = a.tools.find(t);
    auto ib = b.tools.find(t);
    add("tools." + t, ia == a.tools.end() ? "(missing)" : ia->second, ib == b.tools.end() ? "(missing)" : ib->second);
  }
  return d;
}

Comparison Compare(const RunView& a, const RunView& b, const CompareOptions& o) {
  Comparison c;
  c.include_missing = o.include_missing;
  for (const auto& path : a.order) {
    if (!b.tests.count(path)) c.only_in_a.push_back({path, a.tests.at(path).status, ""});
  }
  for (const auto& path : b.order) {
    if (!a.tests.count(path)) c.only_in_b.push_back({path, "", b.tests.at(path).status});
  }
  auto fa = Flatten(a, b);
  auto fb = Flatten(b, a);
  std::map<std::string, Entry> in_a(fa.begin(), fa.end());
  std::map<std::string, Entry> in_b(fb.begin(), fb.end());
  for (const auto& [path, eb] : fb) {
    if (!eb.in_both && !o.include_missing) continue;
    auto it = in_a.find(path);
    bool fail_b = IsFailureName(eb.status);
    if (it == in_a.end()) {
      c.appeared.push_back({path, "", eb.status});
      if (fail_b) c.new_failures.push_back({path, "", eb.status});
      continue;
    }
    const Entry& ea = it->second;
    bool fail_a = IsFailureName(ea.status);
    Kind ka = KindOf(ea.status), kb = KindOf(eb.status);
    if (fail_b && !fail_a) c.new_failures.push_back({path, ea.status, eb.status});
    if (fail_a && kb == Kind::kPass) c.fixes.push_back({path, ea.status, eb.status});
    // Skipped: SKIP, and NO_TESTS (ran nothing) alike, as the verdict takes them.
    if (ka == Kind::kPass && kb == Kind::kSkip) c.pass_to_skip.push_back({path, ea.status, eb.status});
    if (ka == Kind::kSkip && kb == Kind::kPass) c.skip_to_pass.push_back({path, ea.status, eb.status});
    if (fail_a && kb == Kind::kSkip) c.fail_to_skip.push_back({path, ea.status, eb.status});
    if (ea.duration_ms >= 0 && eb.duration_ms >= 0 && eb.duration_ms - ea.duration_ms >= o.slower_min_ms &&
        static_cast<double>(eb.duration_ms) > o.slower_ratio * static_cast<double>(ea.duration_ms)) {
      c.slower.push_back({path, fmt::format("{} ms", ea.duration_ms), fmt::format("{} ms", eb.duration_ms)});
    }
  }
  for (const auto& [path, ea] : fa) {
    if (!ea.in_both && !o.include_missing) continue;
    if (!in_b.count(path)) c.disappeared.push_back({path, ea.status, ""});
  }
  for (const auto& path : b.order) {
    auto ia = a.tests.find(path);
    if (ia == a.tests.end()) continue;
    size_t na = ia->second.subtests.size(), nb = b.tests.at(path).subtests.size();
    if (na != nb) c.subtest_count.push_back({path, std::to_string(na), std::to_string(nb)});
  }
  c.environment = EnvironmentDiff(a.env, b.env);
  return c;
}

}  // namespace vigil::judge
