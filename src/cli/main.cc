// vigil: CI engine for Linux kernel selftests. main() only parses global
// options and hands over to the subcommand named on the command line.
#include <cstdio>
#include <string>
#include <vector>

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
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigil - CI engine for Linux kernel selftests", "vigil"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "vigil 0.1.0");
  std::vector<std::pair<CLI::App*, vigil::cli::Runner>> runners;
  for (const auto& c : kCommands) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    runners.emplace_back(sub, c.setup(sub));
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
