// vigil compare RUN_A RUN_B [--db PATH] [--json]
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "engine/verdict.h"
#include "judge/compare.h"
#include "base/text.h"

namespace vigil::cli {
namespace {

struct CompareFlags {
  std::string a, b;
  std::string db_path = "vigil.db";
  bool json = false;
  double slower_ratio = 1.5;
};

nlohmann::json Paths(const std::vector<judge::Change>& changes) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& c : changes) arr.push_back(vigil::SanitizeUtf8(c.path));
  return arr;
}

nlohmann::json Detailed(const std::vector<judge::Change>& changes) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& c : changes) arr.push_back({{"path", vigil::SanitizeUtf8(c.path)}, {"a", c.a}, {"b", c.b}});
  return arr;
}

void Section(const char* title, const std::vector<judge::Change>& changes) {
  if (changes.empty()) return;
  fmt::print("{} ({}):\n", title, changes.size());
  for (size_t i = 0; i < changes.size() && i < 100; ++i) {
    const auto& c = changes[i];
    fmt::print("  {}  {} -> {}\n", vigil::SanitizeForTerminal(c.path), c.a.empty() ? "-" : c.a,
               c.b.empty() ? "-" : c.b);
  }
  if (changes.size() > 100) fmt::print("  ... {} more\n", changes.size() - 100);
}

int RunCompare(const CompareFlags& f) {
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil compare: {}\n", db.status().message());
    return kExitUsage;
  }
  judge::RunView views[2];
  const std::string* specs[2] = {&f.a, &f.b};
  for (int i = 0; i < 2; ++i) {
    auto id = judge::ResolveRun(**db, *specs[i]);
    auto v = id.ok() ? judge::LoadRunView(**db, id.value()) : Result<judge::RunView>(id.status());
    if (!v.ok()) {
      fmt::print(stderr, "vigil compare: {}\n", v.status().message());
      return kExitUsage;
    }
    views[i] = std::move(v.value());
  }
  judge::CompareOptions o;
  o.slower_ratio = f.slower_ratio;
  judge::Comparison c = judge::Compare(views[0], views[1], o);
  if (f.json) {
    nlohmann::json env = nlohmann::json::object();
    for (const auto& [k, v] : c.environment) env[k] = {vigil::SanitizeUtf8(v.first), vigil::SanitizeUtf8(v.second)};
    nlohmann::json out = {{"format_version", 1},
                          {"run_a", views[0].run.id},
                          {"run_b", views[1].run.id},
                          {"new_failures", Paths(c.new_failures)},
                          {"fixes", Paths(c.fixes)},
                          {"pass_to_skip", Paths(c.pass_to_skip)},
                          {"skip_to_pass", Paths(c.skip_to_pass)},
                          {"appeared", Paths(c.appeared)},
                          {"disappeared", Paths(c.disappeared)},
                          {"slower", Paths(c.slower)},
                          {"subtest_count_changed", Detailed(c.subtest_count)},
                          {"details", {{"new_failures", Detailed(c.new_failures)},
                                       {"fixes", Detailed(c.fixes)},
                                       {"slower", Detailed(c.slower)}}},
                          {"environment", env}};
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  fmt::print("run {} ({}, {}) -> run {} ({}, {})\n", views[0].run.id, views[0].env_class, views[0].run.started_at,
             views[1].run.id, views[1].env_class, views[1].run.started_at);
  Section("new failures", c.new_failures);
  Section("fixes", c.fixes);
  Section("passed, now skipped (skipped by accident?)", c.pass_to_skip);
  Section("skipped, now passing", c.skip_to_pass);
  Section("appeared", c.appeared);
  Section("disappeared", c.disappeared);
  Section("subtest count changed", c.subtest_count);
  Section("slower", c.slower);
  if (!c.environment.empty()) {
    fmt::print("environment ({}):\n", c.environment.size());
    for (const auto& [k, v] : c.environment) {
      fmt::print("  {}: {} -> {}\n", k, vigil::SanitizeForTerminal(v.first), vigil::SanitizeForTerminal(v.second));
    }
  }
  if (c.new_failures.empty() && c.fixes.empty() && c.pass_to_skip.empty() && c.skip_to_pass.empty() &&
      c.appeared.empty() && c.disappeared.empty() && c.subtest_count.empty() && c.slower.empty() &&
      c.environment.empty()) {
    fmt::print("no differences\n");
  }
  return 0;
}

}  // namespace

Runner SetupCompareCommand(CLI::App* app) {
  auto f = std::make_shared<CompareFlags>();
  app->description(
      "Compare two stored runs, down to subtests: new failures, fixes, passed->skipped (\"skipped by accident\"),\n"
      "skipped->passing, tests and subtests that appeared or disappeared, subtest counts that changed, duration\n"
      "regressions, and the environments' differences (kernel, host or VM, KVM or TCG, tool versions).\n"
      "Runs are ids, 'last', or 'last~N'.");
  app->add_option("run_a", f->a, "The earlier run (RUN, last, last~N)")->required();
  app->add_option("run_b", f->b, "The later run")->required();
  app->add_option("--db", f->db_path, "SQLite results store")->capture_default_str();
  app->add_option("--slower-ratio", f->slower_ratio, "A test is slower when it takes this many times as long (and 1 s more)")
      ->check(CLI::Range(1.0, 1000.0))
      ->capture_default_str();
  app->add_flag("--json", f->json,
                "JSON: new_failures, fixes, pass_to_skip, skip_to_pass, appeared, disappeared, slower (paths), "
                "environment (key -> [a, b])");
  return [f] { return RunCompare(*f); };
}

}  // namespace vigil::cli
