// vigil flakes [--db PATH] [--window N] [--env FILTER] [--test GLOB] [--all] [--json]
#include <fnmatch.h>

#include <algorithm>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "engine/verdict.h"
#include "judge/flakes.h"
#include "base/text.h"

namespace vigil::cli {
namespace {

struct FlakesFlags {
  std::string db_path = "vigil.db";
  int window = 30;
  std::string env;
  std::string test;
  bool all = false;
  bool json = false;
  double quarantine_rate = 0.05;
  int release_after = 15;
};

int RunFlakes(const FlakesFlags& f) {
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil flakes: {}\n", db.status().message());
    return kExitUsage;
  }
  auto history = judge::LoadHistory(**db, 0, f.window);
  if (!history.ok()) {
    fmt::print(stderr, "vigil flakes: {}\n", history.status().message());
    return kExitUsage;
  }
  judge::FlakeOptions o;
  o.quarantine_rate = f.quarantine_rate;
  o.release_after = f.release_after;
  std::vector<judge::FlakeEntry> entries;
  for (const judge::Series& s : judge::BuildSeries(history.value())) {
    if (!f.env.empty() && s.env.find(f.env) == std::string::npos &&
        fnmatch(f.env.c_str(), s.env.c_str(), 0) != 0) {
      continue;
    }
    std::string path = s.subtest.empty() ? s.test : s.test + ":" + s.subtest;
    if (!f.test.empty() && fnmatch(f.test.c_str(), path.c_str(), 0) != 0 &&
        fnmatch(f.test.c_str(), s.test.c_str(), 0) != 0) {
      continue;
    }
    entries.push_back(judge::Classify(s, o));
  }
  // The unhealthy first: flaky, regressed, broken, then the rest; by failure rate.
  auto rank = [](judge::FlakeClass c) {
    switch (c) {
      case judge::FlakeClass::kRegressed: return 0;
      case judge::FlakeClass::kFlaky: return 1;
      case judge::FlakeClass::kBroken: return 2;
      case judge::FlakeClass::kNew: return 3;
      case judge::FlakeClass::kFixed: return 4;
      case judge::FlakeClass::kSkipped: return 5;
      case judge::FlakeClass::kStable: return 6;
    }
    return 7;
  };
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
    if (rank(a.cls) != rank(b.cls)) return rank(a.cls) < rank(b.cls);
    return a.fail_rate > b.fail_rate;
  });
  if (f.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : entries) {
      nlohmann::json j = {{"test", vigil::SanitizeUtf8(e.test)},
                          {"subtest", e.subtest.empty() ? nlohmann::json(nullptr) : nlohmann::json(vigil::SanitizeUtf8(e.subtest))},
                          {"env", e.env},
                          {"runs", e.runs},
                          {"failures", e.failures},
                          {"retry_flakes", e.retry_flakes},
                          {"flip_rate", e.flip_rate},
                          {"fail_rate", e.fail_rate},
                          {"class", judge::FlakeClassName(e.cls)},
                          {"quarantined", e.quarantined},
                          {"last_status", e.last_status}};
      if (e.since_run) j["since_run"] = e.since_run;
      if (e.quarantined) {
        j["quarantined_since"] = e.quarantined_since;
        j["quarantine_reason"] = e.quarantine_reason;
      }
      arr.push_back(std::move(j));
    }
    nlohmann::json out = {{"format_version", 1}, {"window", f.window}, {"runs", history->size()}, {"entries", arr}};
    fmt::print("{}\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return 0;
  }
  fmt::print("{} run(s), the last {} of each environment class\n", history->size(), f.window);
  fmt::print("{:<13} {:>5} {:>5} {:>6} {:>5} {:>5}  {:<14} {}\n", "class", "runs", "fails", "retry", "flip", "f", "env",
             "test[:subtest]");
  size_t shown = 0, hidden = 0;
  for (const auto& e : entries) {
    if (!f.all && (e.cls == judge::FlakeClass::kStable || e.cls == judge::FlakeClass::kSkipped)) {
      ++hidden;
      continue;
    }
    std::string path = e.subtest.empty() ? e.test : e.test + ":" + e.subtest;
    std::string cls = judge::FlakeClassName(e.cls);
    if (e.since_run) cls += fmt::format(" @{}", e.since_run);
    fmt::print("{:<13} {:>5} {:>5} {:>6} {:>5.2f} {:>4.0f}%  {:<14} {}{}\n", cls, e.runs, e.failures, e.retry_flakes,
               e.flip_rate, 100 * e.fail_rate, e.env, vigil::SanitizeForTerminal(path),
               e.quarantined ? "  [QUARANTINED]" : "");
    ++shown;
  }
  if (shown == 0) fmt::print("(nothing flaky, broken, regressed or new)\n");
  if (hidden) fmt::print("{} stable or skipped entries not shown (--all shows them)\n", hidden);
  bool header = false;
  for (const auto& e : entries) {
    if (!e.quarantined) continue;
    if (!header) fmt::print("\nquarantine (failures shown, not counted in verdicts):\n");
    header = true;
    std::string path = e.subtest.empty() ? e.test : e.test + ":" + e.subtest;
    fmt::print("  {} [{}] since run {}: {}\n", vigil::SanitizeForTerminal(path), e.env, e.quarantined_since,
               e.quarantine_reason);
  }
  return 0;
}

}  // namespace

Runner SetupFlakesCommand(CLI::App* app) {
  auto f = std::make_shared<FlakesFlags>();
  app->description(
      "Classify every test and subtest over the stored runs, per environment class (host or VM, the VM's\n"
      "accelerator, the kernel line): stable, flaky, broken (fails every run), regressed (passed, then fails\n"
      "every run since some run; never called flaky), fixed, new (fewer than 3 results), skipped. Shows runs,\n"
      "failures, same-run retry flakes (failed, then passed on --retries), flip rate and the estimated failure\n"
      "rate f = (failures+1)/(runs+2), and the quarantine: f above 5% with a retry flake quarantines a test or\n"
      "subtest (its failures stop counting in verdicts) until it passes 15 runs in a row; crashes never are.");
  app->add_option("--db", f->db_path, "SQLite results store")->capture_default_str();
  app->add_option("--window", f->window, "Runs of each environment class to look at (the latest)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app->add_option("--env", f->env, "Only environment classes containing (or matching the glob) FILTER: 'vm', 'host 6.12'");
  app->add_option("--test", f->test, "Only tests or subtests matching this glob (COLLECTION:TEST[:SUBTEST])");
  app->add_flag("--all", f->all, "Also list stable and skipped entries (text output; JSON has every entry)");
  app->add_flag("--json", f->json, "JSON: {format_version, entries: [{test, subtest, env, runs, failures, ...}]}");
  app->add_option("--quarantine-rate", f->quarantine_rate, "Failure rate above which a flaky entry is quarantined")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app->add_option("--release-after", f->release_after, "Consecutive passes that lift a quarantine")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  return [f] { return RunFlakes(*f); };
}

}  // namespace vigil::cli
