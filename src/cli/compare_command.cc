// vigil compare RUN_A|auto RUN_B [--db PATH] [--all] [--json]
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "engine/judgement.h"
#include "engine/verdict.h"
#include "report/judgement_report.h"

namespace vigil::cli {
namespace {

struct CompareFlags {
  std::string a, b;
  std::string db_path = "vigil.db";
  bool json = false;
  bool all = false;
  double slower_ratio = 1.5;
};

int RunCompare(const CompareFlags& f) {
  auto db = engine::OpenExistingStore(f.db_path);
  judge::CompareOptions o;
  o.slower_ratio = f.slower_ratio;
  o.include_missing = f.all;
  auto c = db.ok() ? engine::CompareRuns(**db, f.a, f.b, o) : Result<judge::RunComparison>(db.status());
  if (!c.ok()) {
    fmt::print(stderr, "vigil compare: {}\n", c.status().message());
    return kExitUsage;
  }
  fmt::print("{}", f.json ? report::CompareJson(*c) : report::CompareText(*c));
  return 0;
}

}  // namespace

Runner SetupCompareCommand(CLI::App* app) {
  auto f = std::make_shared<CompareFlags>();
  app->description(
      "Compare two stored runs, down to subtests: new failures, fixes, passed->skipped (\"skipped by accident\"),\n"
      "skipped->passing, tests and subtests that appeared or disappeared, subtest counts that changed, duration\n"
      "regressions, and the environments' differences (kernel, host or VM, KVM or TCG, tool versions).\n"
      "Only the tests both runs ran are compared (a run of a subset against a full run); the others are counted\n"
      "in one line (--all compares them too). Runs are ids, 'last', 'last~N' or 'group:ID' (a run split across machines); the earlier run may be 'auto':\n"
      "the baseline verdict --baseline auto takes for the later one.");
  app->add_option("run_a", f->a, "The earlier run (RUN, last, last~N, group:ID, auto)")->required();
  app->add_option("run_b", f->b, "The later run")->required();
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI")->capture_default_str();
  app->add_option("--slower-ratio", f->slower_ratio, "A test is slower when it takes this many times as long (and 1 s more)")
      ->check(CLI::Range(1.0, 1000.0))
      ->capture_default_str();
  app->add_flag("--all,--include-missing", f->all,
                "Also compare the tests only one run ran (as appeared/disappeared; a failure only in the later run "
                "is a new failure)");
  app->add_flag("--json", f->json,
                "JSON: new_failures, fixes, pass_to_skip, skip_to_pass, fail_to_skip, appeared, disappeared, only_in_a, only_in_b, "
                "slower (paths), "
                "environment (key -> [a, b])");
  return [f] { return RunCompare(*f); };
}

}  // namespace vigil::cli
