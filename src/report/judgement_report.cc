#include "report/judgement_report.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/text.h"
#include "judge/outcome.h"

namespace vigil::report {
namespace {

std::string Dump(const nlohmann::json& j) {
  return DumpJson(j) + "\n";
}

nlohmann::json NameOrNull(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(SanitizeUtf8(s));
}

nlohmann::json Paths(const std::vector<judge::Change>& changes) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& c : changes) arr.push_back(SanitizeUtf8(c.path));
  return arr;
}

nlohmann::json Detailed(const std::vector<judge::Change>& changes) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& c : changes) arr.push_back({{"path", SanitizeUtf8(c.path)}, {"a", c.a}, {"b", c.b}});
  return arr;
}

void Section(std::string* out, const char* title, const std::vector<judge::Change>& changes) {
  if (changes.empty()) return;
  *out += fmt::format("{} ({}):\n", title, changes.size());
  for (size_t i = 0; i < changes.size() && i < 100; ++i) {
    const auto& c = changes[i];
    *out += fmt::format("  {}  {} -> {}\n", SanitizeForTerminal(c.path), c.a.empty() ? "-" : c.a,
                        c.b.empty() ? "-" : c.b);
  }
  if (changes.size() > 100) *out += fmt::format("  ... {} more\n", changes.size() - 100);
}

std::string EntryPath(const judge::FlakeEntry& e) { return e.subtest.empty() ? e.test : e.test + ":" + e.subtest; }

// Flaky, broken, regressed, fixed or quarantined: what vigil flakes lists
// without --all.
bool NeedsAttention(const judge::FlakeEntry& e) {
  return e.quarantined || e.cls == judge::FlakeClass::kFlaky || e.cls == judge::FlakeClass::kBroken ||
         e.cls == judge::FlakeClass::kRegressed || e.cls == judge::FlakeClass::kFixed;
}

}  // namespace

std::string FlakesJson(const judge::FlakesTable& t) { return Dump(FlakesJsonValue(t)); }

nlohmann::json FlakesJsonValue(const judge::FlakesTable& t, bool all) {
  nlohmann::json arr = nlohmann::json::array();
  std::map<std::string, int> hidden;
  for (const auto& e : t.entries) {
    if (!all && !NeedsAttention(e)) {
      ++hidden[judge::FlakeClassName(e.cls)];
      continue;
    }
    nlohmann::json j = {{"test", SanitizeUtf8(e.test)},
                        {"subtest", NameOrNull(e.subtest)},
                        {"env", SanitizeUtf8(e.env)},
                        {"runs", e.runs},
                        {"failures", e.failures},
                        {"retry_flakes", e.retry_flakes},
                        {"flip_rate", e.flip_rate},
                        {"fail_rate", e.fail_rate},
                        {"class", judge::FlakeClassName(e.cls)},
                        {"quarantined", e.quarantined},
                        {"last_status", SanitizeUtf8(e.last_status)}};
    if (e.since_run) j["since_run"] = e.since_run;
    if (e.quarantined) {
      j["quarantined_since"] = e.quarantined_since;
      j["quarantine_reason"] = e.quarantine_reason;
      j["release_in"] = e.release_in;
    }
    arr.push_back(std::move(j));
  }
  nlohmann::json j = {{"format_version", 1}, {"window", t.window}, {"runs", t.runs}, {"entries", std::move(arr)}};
  if (!all) j["hidden"] = hidden;
  return j;
}

std::string FlakesText(const judge::FlakesTable& t, bool all) {
  std::string out = fmt::format("{} run(s), the last {} of each environment class\n", t.runs, t.window);
  out += fmt::format("{:<13} {:>5} {:>5} {:>6} {:>5} {:>5}  {:<14} {}\n", "class", "runs", "fails", "retry", "flip",
                     "f", "env", "test[:subtest]");
  size_t shown = 0;
  // What needs no attention, counted by class in the table's order.
  std::vector<std::pair<judge::FlakeClass, size_t>> hidden;
  for (const auto& e : t.entries) {
    if (!all && !NeedsAttention(e)) {
      auto it = std::find_if(hidden.begin(), hidden.end(), [&](const auto& h) { return h.first == e.cls; });
      if (it == hidden.end()) it = hidden.insert(hidden.end(), {e.cls, 0});
      ++it->second;
      continue;
    }
    std::string cls = judge::FlakeClassName(e.cls);
    if (e.since_run) cls += fmt::format(" @{}", e.since_run);
    out += fmt::format("{:<13} {:>5} {:>5} {:>6} {:>5.2f} {:>4.0f}%  {:<14} {}{}\n", cls, e.runs, e.failures,
                       e.retry_flakes, e.flip_rate, 100 * e.fail_rate, e.env, SanitizeForTerminal(EntryPath(e)),
                       e.quarantined ? "  [QUARANTINED]" : "");
    ++shown;
  }
  if (shown == 0) out += "(nothing flaky, broken, regressed, fixed or quarantined)\n";
  if (!hidden.empty()) {
    std::string counts;
    for (const auto& [cls, n] : hidden) {
      counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", n, judge::FlakeClassName(cls));
    }
    out += fmt::format("{}: --all lists them\n", counts);
  }
  bool header = false;
  for (const auto& e : t.entries) {
    if (!e.quarantined) continue;
    if (!header) out += "\nquarantine (failures shown, not counted in verdicts):\n";
    header = true;
    out += fmt::format("  {} [{}] since run {}: {}\n", SanitizeForTerminal(EntryPath(e)), e.env, e.quarantined_since,
                       e.quarantine_reason);
  }
  return out;
}

std::string HistoryJson(const judge::TestHistory& h) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& r : h.rows) {
    arr.push_back({{"run_id", r.run_id},
                   {"started_at", r.started_at},
                   {"env", r.env_class},
                   {"kernel", r.kernel},
                   {"status", r.status},
                   {"duration_ms", r.duration_ms >= 0 ? nlohmann::json(r.duration_ms) : nlohmann::json(nullptr)},
                   {"series", r.series > 0 ? nlohmann::json(r.series) : nlohmann::json(nullptr)}});
  }
  return Dump({{"format_version", 1},
               {"test", SanitizeUtf8(h.test)},
               {"subtest", NameOrNull(h.subtest)},
               {"results", arr},
               {"series_runs_left_out", h.series_left_out}});
}

std::string HistoryText(const judge::TestHistory& h, const std::string& path) {
  std::string seq;
  for (const auto& r : h.rows) {
    judge::Kind kind = judge::KindOf(r.status);
    seq += kind == judge::Kind::kFail ? 'F' : r.status == "FLAKY" ? 'f' : kind == judge::Kind::kSkip ? 's' : '.';
  }
  std::string out = fmt::format("{}\n{}  (. pass  F fail  f failed then passed on a retry  s skip; oldest first)\n",
                                SanitizeForTerminal(path), seq);
  // The column of the series a run tested, when a row has one.
  bool series = std::any_of(h.rows.begin(), h.rows.end(), [](const judge::HistoryRow& r) { return r.series > 0; });
  out += fmt::format("{:>6}  {:<20}  {:<14}  {:<34}  {:<8}  {:>10}{}\n", "run", "started", "env", "kernel", "status",
                     "duration", series ? "  tested" : "");
  for (const auto& r : h.rows) {
    out += fmt::format("{:>6}  {:<20}  {:<14}  {:<34}  {:<8}  {:>10}{}\n", r.run_id, SanitizeForTerminal(r.started_at),
                       SanitizeForTerminal(r.env_class), SanitizeForTerminal(r.kernel), SanitizeForTerminal(r.status),
                       r.duration_ms >= 0 ? fmt::format("{:.1f} s", r.duration_ms / 1000.0) : "-",
                       r.series > 0 ? fmt::format("  series {}", r.series) : "");
  }
  if (h.series_left_out > 0) {
    out += fmt::format("{} run(s) that tested a patch series (vigil watch: a patch applied to the tree) are not "
                       "shown: --series lists them\n",
                       h.series_left_out);
  }
  return out;
}

std::string CompareJson(const judge::RunComparison& cmp) {
  const judge::Comparison& c = cmp.changes;
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [k, v] : c.environment) env[k] = {SanitizeUtf8(v.first), SanitizeUtf8(v.second)};
  return Dump({{"format_version", 1},
               {"run_a", cmp.a.run.id},
               {"run_b", cmp.b.run.id},
               {"new_failures", Paths(c.new_failures)},
               {"fixes", Paths(c.fixes)},
               {"pass_to_skip", Paths(c.pass_to_skip)},
               {"skip_to_pass", Paths(c.skip_to_pass)},
               {"fail_to_skip", Paths(c.fail_to_skip)},
               {"appeared", Paths(c.appeared)},
               {"disappeared", Paths(c.disappeared)},
               {"only_in_a", Paths(c.only_in_a)},
               {"only_in_b", Paths(c.only_in_b)},
               {"include_missing", c.include_missing},
               {"slower", Paths(c.slower)},
               {"subtest_count_changed", Detailed(c.subtest_count)},
               {"details",
                {{"new_failures", Detailed(c.new_failures)},
                 {"fixes", Detailed(c.fixes)},
                 {"slower", Detailed(c.slower)}}},
               {"environment", env}});
}

std::string CompareText(const judge::RunComparison& cmp) {
  const judge::Comparison& c = cmp.changes;
  std::string out = fmt::format("run {} ({}, {}) -> run {} ({}, {})\n", cmp.a.run.id, cmp.a.env_class,
                                cmp.a.run.started_at, cmp.b.run.id, cmp.b.env_class, cmp.b.run.started_at);
  Section(&out, "new failures", c.new_failures);
  Section(&out, "fixes", c.fixes);
  Section(&out, "passed, now skipped (skipped by accident?)", c.pass_to_skip);
  Section(&out, "skipped, now passing", c.skip_to_pass);
  Section(&out, "failed, now skipped (not a fix)", c.fail_to_skip);
  Section(&out, "appeared", c.appeared);
  Section(&out, "disappeared", c.disappeared);
  Section(&out, "subtest count changed", c.subtest_count);
  Section(&out, "slower", c.slower);
  if (!c.environment.empty()) {
    out += fmt::format("environment ({}):\n", c.environment.size());
    for (const auto& [k, v] : c.environment) {
      out += fmt::format("  {}: {} -> {}\n", k, SanitizeForTerminal(v.first), SanitizeForTerminal(v.second));
    }
  }
  if (c.new_failures.empty() && c.fixes.empty() && c.pass_to_skip.empty() && c.skip_to_pass.empty() &&
      c.fail_to_skip.empty() &&
      c.appeared.empty() && c.disappeared.empty() && c.subtest_count.empty() && c.slower.empty() &&
      c.environment.empty()) {
    out += c.include_missing || (c.only_in_a.empty() && c.only_in_b.empty())
               ? "no differences\n"
               : "no differences in the tests both ran\n";
  }
  if (!c.include_missing && (!c.only_in_a.empty() || !c.only_in_b.empty())) {
    size_t failing = 0;
    for (const auto& t : c.only_in_b) failing += judge::IsFailureName(t.b);
    out += fmt::format("not compared: {} test(s) only in run {}, {} only in run {}{}: --all compares them\n",
                       c.only_in_a.size(), cmp.a.run.id, c.only_in_b.size(), cmp.b.run.id,
                       failing ? fmt::format(" ({} failing)", failing) : "");
  }
  return out;
}

}  // namespace vigil::report
