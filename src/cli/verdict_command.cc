// vigil verdict [RUN] [--baseline RUN|auto|none] [--known-issues FILE] [--db PATH] [--json]
#include <memory>
#include <string>

#include <fmt/format.h>

#include "base/json.h"
#include "cli/command.h"
#include "engine/verdict.h"
#include "judge/render.h"

namespace vigil::cli {
namespace {

struct VerdictFlags {
  std::string run = "last";
  std::string baseline = "none";
  std::string known_issues;
  std::string db_path = "vigil.db";
  int stale_after = 10;
  bool json = false;
};

int RunVerdict(const VerdictFlags& f) {
  auto db = engine::OpenExistingStore(f.db_path);
  if (!db.ok()) {
    fmt::print(stderr, "vigil verdict: {}\n", db.status().message());
    return kExitUsage;
  }
  auto id = judge::ResolveRun(**db, f.run);
  if (!id.ok()) {
    fmt::print(stderr, "vigil verdict: {}\n", id.status().message());
    return kExitUsage;
  }
  engine::VerdictRequest req{id.value(), f.baseline, f.known_issues, f.stale_after, ""};
  auto v = engine::ComputeVerdict(**db, req);
  if (!v.ok()) {
    fmt::print(stderr, "vigil verdict: {}\n", v.status().message());
    return kExitUsage;
  }
  if (f.json) {
    fmt::print("{}\n", DumpJson(judge::VerdictJson(v.value())));
  } else {
    fmt::print("{}", judge::VerdictText(v.value()));
  }
  return judge::ExitCode(v->level);
}

}  // namespace

Runner SetupVerdictCommand(CLI::App* app) {
  auto f = std::make_shared<VerdictFlags>();
  app->description(
      "The verdict of a stored run, for people and bots: Success, Unstable or Critical, and a one-line\n"
      "conclusion (\"Unstable: 2 failed test(s): net/mptcp:mptcp_join.sh\", \"Critical: 1 kernel crash(es):\n"
      "WARNING in mptcp_...\").\n"
      "  Critical: a kernel report (panic, oops, WARNING, KASAN, hung task, ...) no known issue explains.\n"
      "  Unstable: a failed test or subtest that is not known, not quarantined (vigil flakes) and, with a\n"
      "            baseline, not failing there already; a test that passed in the baseline and is skipped\n"
      "            now (skipped by accident); planned tests that never ran.\n"
      "  Success:  anything else. Known-bad tool versions and expired or stale known issues are warned.\n"
      "Known issues: --known-issues FILE, else known-issues.toml in the run's test tree.\n"
      "Exit status: 0 Success, 1 Unstable, 3 Critical, 2 usage error or unreadable store.");
  app->add_option("run", f->run, "RUN id, last, last~N, or group:ID (the run of a run group: vigil run --shard)")->capture_default_str();
  app->add_option("--baseline", f->baseline,
                  "Count only regressions against this run; auto: the latest complete earlier run of the same "
                  "environment class that ran this run's tests (the same or more); none")
      ->capture_default_str();
  app->add_option("--known-issues", f->known_issues, "known-issues.toml ([[issue]] match, reason, link, kernel, ...)");
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI")->capture_default_str();
  app->add_option("--stale-after", f->stale_after, "Warn about known issues that matched nothing in this many runs (0: never)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app->add_flag("--json", f->json, "JSON: {format_version, verdict, exit_code, conclusion, failures, crashes, known, ...}");
  return [f] { return RunVerdict(*f); };
}

}  // namespace vigil::cli
