// vigil: CI engine for Linux kernel selftests. main() only parses global
// options and hands over to the subcommand named on the command line.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "base/text.h"
#include "cli/command.h"

namespace {

struct CommandEntry {
  const char* name;
  const char* summary;
  vigil::cli::Runner (*setup)(CLI::App*);
};

constexpr CommandEntry kCommands[] = {
    {"parse", "Read KTAP/TAP output (kselftest, KUnit, a kernel console) and report every test and subtest",
     vigil::cli::SetupParseCommand},
    {"run", "Run kselftests on this host with supervision, live subtest results and reports",
     vigil::cli::SetupRunCommand},
    {"scan", "Find kernel crash reports (panic, oops, BUG, WARNING, lockups, sanitizers, ...) in a console log",
     vigil::cli::SetupScanCommand},
    {"decode", "Turn func+0x12/0x40 [mod] stack frames into func (file:line), as decode_stacktrace.sh does",
     vigil::cli::SetupDecodeCommand},
    {"flakes", "Tell flaky from broken and regressed, per test and subtest and environment; the quarantine",
     vigil::cli::SetupFlakesCommand},
    {"history", "One test's or subtest's results across the stored runs", vigil::cli::SetupHistoryCommand},
    {"compare", "Two runs side by side: new failures, fixes, pass->skip, appeared, slower, environment",
     vigil::cli::SetupCompareCommand},
    {"verdict", "Success, Unstable or Critical for a run, with known issues, quarantine and a baseline",
     vigil::cli::SetupVerdictCommand},
    {"bisect", "Find the commit that introduced (or fixed) an intermittent failure, each run as evidence",
     vigil::cli::SetupBisectCommand},
    {"build", "Build a kernel tree with the selftests' config fragments and vigil's VM fragment, recorded with its warnings",
     vigil::cli::SetupBuildCommand},
    {"watch", "Patchwork -> apply -> test (sandboxed) -> a check on every patch and a reply in the thread",
     vigil::cli::SetupWatchCommand},
    {"test-series", "Test one Patchwork series by hand with a watch pipeline", vigil::cli::SetupTestSeriesCommand},
    {"test-branch", "Test a git range with a watch pipeline, judged against its base", vigil::cli::SetupTestBranchCommand},
    {"series", "The series vigil watched or tested: state, conclusion, checks, e-mail", vigil::cli::SetupSeriesCommand},
    {"serve", "The dashboard: runs, tests' histories, flakes, crashes, builds and series as web pages and JSON",
     vigil::cli::SetupServeCommand},
    {"export", "The dashboard's pages as static files (export html DIR); a run as KCIDB JSON (export kcidb RUN)",
     vigil::cli::SetupExportCommand},
    {"group", "A run split across machines (vigil run --shard): its shards, and waiting for its end",
     vigil::cli::SetupGroupCommand},
    {"merge", "Join stores of shards run apart (a SQLite file each) into one, each group one run",
     vigil::cli::SetupMergeCommand},
    {"migrate", "Copy a whole store to another (SQLite to PostgreSQL and back), checked table by table",
     vigil::cli::SetupMigrateCommand},
    {"guest", "", vigil::cli::SetupGuestCommand},  // inside vigil's VMs; hidden
};

}  // namespace

namespace vigil::cli {
namespace {
std::string g_command_line;
}  // namespace

const std::string& CommandLine() { return g_command_line; }

void SetCommandLine(int argc, char** argv) {
  g_command_line.clear();
  for (int i = 0; i < argc; ++i) {
    if (i) g_command_line += ' ';
    g_command_line += ShellQuote(argv[i]);
  }
}

}  // namespace vigil::cli

int main(int argc, char** argv) {
  vigil::cli::SetCommandLine(argc, argv);
  CLI::App app{"vigil - CI engine for Linux kernel selftests", "vigil"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vigil 0.1.0");
  // Only the subcommand named on the command line gets its options: setting
  // up all of them took most of vigil's own start-up time (a `vigil parse`
  // of a small log). The others are listed, with their summaries, for
  // `vigil --help`; the global options take no values, so the first word
  // that is not an option names the subcommand.
  std::string_view named;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') {
      named = argv[i];
      break;
    }
  }
  bool known = named.empty();
  for (const auto& c : kCommands) known |= named == c.name;
  if (!known) {
    fmt::print(stderr, "vigil: unknown command '{}' (vigil --help lists the commands)\n",
               vigil::SanitizeForTerminal(named));
    return vigil::cli::kExitUsage;
  }
  std::vector<std::pair<CLI::App*, vigil::cli::Runner>> runners;
  for (const auto& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    if (*c.summary == '\0') sub->group("");  // hidden from --help
    if (named == c.name) runners.emplace_back(sub, c.setup(sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : vigil::cli::kExitUsage;
  }
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  return vigil::cli::kExitUsage;
}
