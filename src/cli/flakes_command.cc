// vigil flakes [--db PATH] [--window N] [--env FILTER] [--test GLOB] [--all] [--json]
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "engine/judgement.h"
#include "engine/verdict.h"
#include "report/judgement_report.h"

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
  engine::FlakesQuery q;
  q.window = f.window;
  q.env = f.env;
  q.test = f.test;
  q.options.quarantine_rate = f.quarantine_rate;
  q.options.release_after = f.release_after;
  auto table = engine::Flakes(**db, q);
  if (!table.ok()) {
    fmt::print(stderr, "vigil flakes: {}\n", table.status().message());
    return kExitUsage;
  }
  fmt::print("{}", f.json ? report::FlakesJson(*table) : report::FlakesText(*table, f.all));
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
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI")->capture_default_str();
  app->add_option("--window", f->window, "Runs of each environment class to look at (the latest)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app->add_option("--env", f->env, "Only environment classes containing (or matching the glob) FILTER: 'vm', 'host 6.12'");
  app->add_option("--test", f->test, "Only tests or subtests matching this glob (COLLECTION:TEST[:SUBTEST])");
  app->add_flag("--all", f->all,
                "Also list new, stable and skipped entries (by default only flaky, broken, regressed, fixed and "
                "quarantined ones, the rest counted in one line; JSON has every entry)");
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
