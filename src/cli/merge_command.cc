// vigil merge OUT IN... : stores of shards run apart joined into one.
// vigil migrate --from STORE --to STORE : a whole store copied, checked.
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/text.h"
#include "cli/command.h"
#include "engine/merge.h"
#include "engine/verdict.h"
#include "store/copy.h"
#include "store/postgres.h"
#include "store/store.h"

namespace vigil::cli {
namespace {

struct MergeFlags {
  std::string out;
  std::vector<std::string> inputs;
};

int Merge(const MergeFlags& f) {
  auto out = store::Store::Open(f.out);
  if (!out.ok()) {
    fmt::print(stderr, "vigil merge: {}\n", out.status().message());
    return kExitUsage;
  }
  engine::MergeSummary sum;
  for (const auto& path : f.inputs) {
    std::string shown = SanitizeForTerminal(store::ShownPath(path));
    if (path == f.out) {
      fmt::print(stderr, "vigil merge: {} is the output\n", shown);
      return kExitUsage;
    }
    auto in = engine::OpenExistingStore(path);
    if (!in.ok()) {
      fmt::print(stderr, "vigil merge: {}\n", SanitizeForTerminal(in.status().message()));
      return kExitUsage;
    }
    engine::MergeSummary before = sum;
    if (Status st = engine::MergeStore(**out, **in, store::ShownPath(path), &sum); !st.ok()) {
      fmt::print(stderr, "vigil merge: {}: {}\n", shown, SanitizeForTerminal(st.message()));
      return kExitUsage;
    }
    int unfinished = sum.runs_unfinished - before.runs_unfinished;
    fmt::print("{}: {} shard(s) merged, {} merged before; {} run(s) copied, {} there already{}\n", shown,
               sum.shards_merged - before.shards_merged, sum.shards_present - before.shards_present,
               sum.runs_copied - before.runs_copied, sum.runs_present - before.runs_present,
               unfinished ? fmt::format(", {} unfinished left out", unfinished) : "");
  }
  for (const auto& g : sum.groups_complete) {
    fmt::print("run group {}: every shard is in; the run is finished\n", SanitizeForTerminal(g));
  }
  for (const auto& g : sum.groups_incomplete) {
    fmt::print("run group {}: shards are missing (vigil group show shows which)\n", SanitizeForTerminal(g));
  }
  return 0;
}

struct MigrateFlags {
  std::string from, to;
};

int Migrate(const MigrateFlags& f) {
  auto sums = store::CopyStore(f.from, f.to);
  if (!sums.ok()) {
    fmt::print(stderr, "vigil migrate: {}\n", SanitizeForTerminal(sums.status().message()));
    return sums.status().code() == Status::Code::kCorruption ? 1 : kExitUsage;
  }
  int64_t rows = 0;
  for (const auto& t : *sums) {
    fmt::print("  {:<18} {:>10} rows  checksum {:016x}\n", t.table, t.rows, t.checksum);
    rows += t.rows;
  }
  fmt::print("copied {} rows of {} tables from {} to {}: every table's row count and checksum match\n", rows,
             sums->size(), SanitizeForTerminal(store::ShownPath(f.from)), SanitizeForTerminal(store::ShownPath(f.to)));
  return 0;
}

}  // namespace

Runner SetupMergeCommand(CLI::App* app) {
  auto f = std::make_shared<MergeFlags>();
  app->description(
      "Join stores into one: what a CI does whose shards (vigil run --shard I/N --run-group ID) each wrote a\n"
      "SQLite file of their own (GitHub Actions artifacts). The finished shards of each run group go into the\n"
      "group's one run, finished once its last shard is in (then vigil group wait, verdict, flakes, compare\n"
      "and the dashboard see it whole); a shard unfinished in its file is left for a file that has it whole;\n"
      "runs not split are copied once (a run already in OUT, such as the history every shard started from,\n"
      "is left); runs still running are left out. Merging an input again changes nothing; a merge killed\n"
      "halfway is completed by the next. A shard whose split differs from its group's (run from another\n"
      "history) is refused before anything of it goes in.\n"
      "Exit status: 0 merged, 2 usage error, unreadable store or a refused input.");
  app->add_option("out", f->out, "The store merged into (created if missing; a SQLite file or a postgresql:// URI)")
      ->required();
  app->add_option("inputs", f->inputs, "Stores to merge in")->required();
  return [f] { return Merge(*f); };
}

Runner SetupMigrateCommand(CLI::App* app) {
  auto f = std::make_shared<MigrateFlags>();
  app->description(
      "Copy a whole store into another, ids and all: a SQLite file to a PostgreSQL server that many machines\n"
      "share, or back. The source is brought to this vigil's schema first (as every command does); the\n"
      "target must hold no vigil data. The copy is one transaction, then checked: every table's row count and\n"
      "checksum must be the same on both sides, and are printed.\n"
      "Exit status: 0 copied and checked, 1 the copy differs, 2 usage error or unreadable store.");
  app->add_option("--from", f->from, "The store copied (a SQLite file or a postgresql:// URI)")->required();
  app->add_option("--to", f->to, "The store written (a new SQLite file, or an empty PostgreSQL database)")->required();
  return [f] { return Migrate(*f); };
}

}  // namespace vigil::cli
