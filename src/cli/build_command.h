// What vigil build and the commands that build (vigil run --build) share:
// the build flags, the progress shown while it runs and what is printed
// after it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/status.h"
#include "engine/kernel_build.h"
#include "store/store.h"

namespace vigil::sys {
class Cancellation;
}

namespace vigil::cli {

struct BuildFlags {
  std::string tree;
  std::string base_config = "defconfig";
  std::vector<std::string> config_files, set;
  std::string variant = "normal";
  std::string variants_file;
  std::string output_dir;
  int jobs = 0;
  std::string cc;
  bool no_ccache = false;
  bool no_vm_fragment = false;
  std::string compare_to;
};

// The build options (all but the tree), in option group `group`. In vigil
// run, whose -j, --config and --output mean other things, make's -j is
// --build-jobs, a fragment --fragment and the output --build-output.
void AddBuildOptions(CLI::App* app, BuildFlags* f, const std::string& group, bool in_run);
// The flags as kbuild options; InvalidArgument for a bad variant or --set.
Result<kbuild::BuildOptions> BuildOptionsOf(const BuildFlags& f, const std::vector<std::string>& collections,
                                            const sys::Cancellation* cancel);
// The progress of builds on stdout: a live line on a terminal, a line per
// phase off one; with `verbose` every output line.
std::unique_ptr<kbuild::BuildObserver> MakeBuildPrinter(bool verbose);
// Builds and records, with the progress shown.
Result<engine::BuildOutcome> RunBuild(store::Store& db, const engine::BuildRequest& request, bool verbose);
// The result: artifacts, or the failure with its diagnostics (at most
// `max_diagnostics`), dropped options, new warnings; with `run_hint` the
// vigil run command that boots it.
void PrintBuild(const engine::BuildOutcome& outcome, size_t max_diagnostics, bool run_hint);
// The build as JSON (format_version 1).
std::string BuildJson(const engine::BuildOutcome& outcome);

}  // namespace vigil::cli
