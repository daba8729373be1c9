// vigil history COLLECTION:TEST[:SUBTEST] [--db PATH] [--env FILTER] [--limit N] [--series] [--json]
#include <memory>
#include <string>

#include <fmt/format.h>

#include "base/text.h"
#include "cli/command.h"
#include "engine/judgement.h"
#include "engine/verdict.h"
#include "model/test_path.h"
#include "report/judgement_report.h"
#include "store/postgres.h"

namespace vigil::cli {
namespace {

struct HistoryFlags {
  std::string path;
  std::string db_path = "vigil.db";
  std::string env;
  int limit = 50;
  bool json = false;
  bool series = false;
};

int RunHistory(const HistoryFlags& f) {
  if (model::TestPath path = model::TestPath::Parse(f.path); !path.has_collection() || path.collection().empty()) {
    fmt::print(stderr, "vigil history: '{}' is not COLLECTION:TEST[:SUBTEST]\n", SanitizeForTerminal(f.path));
    return kExitUsage;
  }
  auto db = engine::OpenExistingStore(f.db_path);
  auto h = db.ok() ? engine::History(**db, {f.path, f.env, f.limit, f.series}) : Result<judge::TestHistory>(db.status());
  if (!h.ok()) {
    fmt::print(stderr, "vigil history: {}\n", h.status().message());
    return kExitUsage;
  }
  if (h->rows.empty()) {
    fmt::print(stderr, "vigil history: {} has no results in {}{}\n", SanitizeForTerminal(f.path),
               SanitizeForTerminal(store::ShownPath(f.db_path)),
               h->series_left_out > 0 ? fmt::format(" outside the {} run(s) that tested a patch series: --series lists them",
                                                    h->series_left_out)
                                      : "");
    return 1;
  }
  fmt::print("{}", f.json ? report::HistoryJson(*h) : report::HistoryText(*h, f.path));
  return 0;
}

}  // namespace

Runner SetupHistoryCommand(CLI::App* app) {
  auto f = std::make_shared<HistoryFlags>();
  app->description("The results of one test or subtest across the stored runs: run ids, environments, kernels and "
                   "durations, oldest first.");
  app->add_option("path", f->path, "COLLECTION:TEST or COLLECTION:TEST:SUBTEST (net/mptcp:mptcp_join.sh:001 ...)")
      ->required();
  app->add_option("--db", f->db_path, "Results store: a SQLite file or a postgresql:// URI")->capture_default_str();
  app->add_option("--env", f->env, "Only runs whose environment class contains FILTER ('vm tcg', 'host 6.1')");
  app->add_option("--limit", f->limit, "Show the last N results")->check(CLI::Range(1, 1000000))->capture_default_str();
  app->add_flag("--series", f->series,
                "Also the runs that tested a patch series (vigil watch: a patch applied to the tree), each marked with "
                "its series; by default they are left out, as flakes and verdicts leave them out, and those newer than "
                "the oldest row are counted");
  app->add_flag("--json", f->json,
                "JSON: {format_version, test, subtest, results: [{run_id, env, kernel, status, duration_ms, series}], "
                "series_runs_left_out}");
  return [f] { return RunHistory(*f); };
}

}  // namespace vigil::cli
