// vigil history COLLECTION:TEST[:SUBTEST] [--db PATH] [--env FILTER] [--limit N] [--json]
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "engine/verdict.h"
#include "judge/outcome.h"
#include "base/text.h"

namespace vigil::cli {
namespace {

struct HistoryFlags {
  std::string path;
  std::string db_path = "vigil.db";
  std::string env;
  int limit = 50;
  bool json = false;
};

int RunHistory(const HistoryFlags& f) {
  // COLLECTION:TEST[:SUBTEST]: the subtest starts after the second colon.
  size_t c1 = f.path.find(':');
  if (c1 == std::string::npos || c1 == 0) {
    fmt::print(stderr, "vigil history: '{}' is not COLLECTION:TEST[:SUBTEST]\n", f.path);
    return kExitUsage;
  }
  auto [test, sub] = judge::SplitTestPath(f.path);
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil history: {}\n", db.status().message());
    return kExitUsage;
  }
  auto history = judge::LoadHistory(**db);
  if (!history.ok()) {
    fmt::print(stderr, "vigil history: {}\n", history.status().message());
    return kExitUsage;
  }
  // The runs come oldest first; each that ran the test (and subtest) is a row.
  struct Row {
    int64_t run_id;
    std::string status;
    int64_t duration_ms;
  };
  std::vector<std::pair<const judge::RunView*, Row>> rows;
  for (const auto& r : history.value()) {
    if (!f.env.empty() && r.env_class.find(f.env) == std::string::npos) continue;
    auto t = r.tests.find(test);
    if (t == r.tests.end()) continue;
    if (sub.empty()) {
      rows.push_back({&r, {r.run.id, t->second.status, t->second.duration_ms}});
      continue;
    }
    for (const auto& s : t->second.subtests) {
      if (s.path == sub) rows.push_back({&r, {r.run.id, s.status, s.duration_ms.value_or(-1)}});
    }
  }
  if (rows.empty()) {
    fmt::print(stderr, "vigil history: {} has no results in {}\n", f.path, f.db_path);
    return 1;
  }
  if (static_cast<int>(rows.size()) > f.limit) rows.erase(rows.begin(), rows.end() - f.limit);
  if (f.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& [r, p] : rows) {
      arr.push_back({{"run_id", p.run_id},
                     {"started_at", r->run.started_at},
                     {"env", r->env_class},
                     {"kernel", r->env.kernel_release},
                     {"status", p.status},
                     {"duration_ms", p.duration_ms >= 0 ? nlohmann::json(p.duration_ms) : nlohmann::json(nullptr)}});
    }
    nlohmann::json out = {{"format_version", 1},
                          {"test", vigil::SanitizeUtf8(test)},
                          {"subtest", sub.empty() ? nlohmann::json(nullptr) : nlohmann::json(vigil::SanitizeUtf8(sub))},
                          {"results", arr}};
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  std::string seq;
  for (const auto& [r, p] : rows) {
    judge::Kind kind = judge::KindOf(p.status);
    seq += kind == judge::Kind::kFail ? 'F' : p.status == "FLAKY" ? 'f' : kind == judge::Kind::kSkip ? 's' : '.';
  }
  fmt::print("{}\n{}  (. pass  F fail  f failed then passed on a retry  s skip; oldest first)\n",
             vigil::SanitizeForTerminal(f.path), seq);
  fmt::print("{:>6}  {:<20}  {:<14}  {:<34}  {:<8}  {:>10}\n", "run", "started", "env", "kernel", "status", "duration");
  for (const auto& [r, p] : rows) {
    fmt::print("{:>6}  {:<20}  {:<14}  {:<34}  {:<8}  {:>10}\n", p.run_id, r->run.started_at, r->env_class,
               r->env.kernel_release, p.status, p.duration_ms >= 0 ? fmt::format("{:.1f} s", p.duration_ms / 1000.0) : "-");
  }
  return 0;
}

}  // namespace

Runner SetupHistoryCommand(CLI::App* app) {
  auto f = std::make_shared<HistoryFlags>();
  app->description("The results of one test or subtest across the stored runs: run ids, environments, kernels and "
                   "durations, oldest first.");
  app->add_option("path", f->path, "COLLECTION:TEST or COLLECTION:TEST:SUBTEST (net/mptcp:mptcp_join.sh:001 ...)")
      ->required();
  app->add_option("--db", f->db_path, "SQLite results store")->capture_default_str();
  app->add_option("--env", f->env, "Only runs whose environment class contains FILTER ('vm tcg', 'host 6.1')");
  app->add_option("--limit", f->limit, "Show the last N results")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_flag("--json", f->json, "JSON: {format_version, test, subtest, results: [{run_id, env, kernel, status, ...}]}");
  return [f] { return RunHistory(*f); };
}

}  // namespace vigil::cli
