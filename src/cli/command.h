// One file per subcommand. Each Setup function adds the subcommand's options
// to `app` and returns what to run once the command line is parsed; the int
// it returns is the process exit code.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace vigil::cli {

using Runner = std::function<int()>;

Runner SetupParseCommand(CLI::App* app);
Runner SetupRunCommand(CLI::App* app);
Runner SetupScanCommand(CLI::App* app);
Runner SetupDecodeCommand(CLI::App* app);
Runner SetupGuestCommand(CLI::App* app);
Runner SetupFlakesCommand(CLI::App* app);
Runner SetupHistoryCommand(CLI::App* app);
Runner SetupCompareCommand(CLI::App* app);
Runner SetupVerdictCommand(CLI::App* app);
Runner SetupBisectCommand(CLI::App* app);
Runner SetupBuildCommand(CLI::App* app);
Runner SetupWatchCommand(CLI::App* app);
Runner SetupTestSeriesCommand(CLI::App* app);
Runner SetupTestBranchCommand(CLI::App* app);
Runner SetupSeriesCommand(CLI::App* app);
Runner SetupServeCommand(CLI::App* app);
Runner SetupExportCommand(CLI::App* app);
Runner SetupGroupCommand(CLI::App* app);
Runner SetupMergeCommand(CLI::App* app);
Runner SetupMigrateCommand(CLI::App* app);
// vigil export kcidb, a subcommand of vigil export: its runner (-1 when
// another subcommand was given).
Runner AddKcidbExport(CLI::App* export_app);

// The command line vigil was started with, shell-quoted (set by main).
const std::string& CommandLine();
void SetCommandLine(int argc, char** argv);

// When `head` (the first bytes read of `input`, a file or "-") starts with a
// gzip, xz or zstd magic number: the error to print, saying how to
// decompress it; else "".
std::string CompressedInput(const char* command, std::string_view head, const std::string& input);

// Exit code for usage errors and unreadable input, shared by all commands.
inline constexpr int kExitUsage = 2;

}  // namespace vigil::cli
