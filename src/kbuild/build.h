// A kernel build as vigil makes one: the configuration assembled from a base
// (defconfig, tinyconfig, ... or a file), vigil's VM fragment, the selftest
// collections' `config` files, the user's fragments and --set options and the
// variant's fragments, settled by `make olddefconfig` and checked (every
// option asked for and not got is reported); then, out of tree (O=) in an
// output directory of its own per tree and variant, the kernel image, the
// modules (installed to a staging directory), the UAPI headers and the
// selected kselftest collections built and installed against them. ccache is
// used when installed, with the build's timestamp, user and host fixed so
// that its hits survive across builds.
//
// The output is read as it comes: every compiler, linker, make, modpost and
// Kconfig diagnostic is parsed (diagnostics.h), the steps make runs are
// counted for the progress line, and the whole output is kept in a log in
// the output directory. No store here: the engine records the result.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kbuild/diagnostics.h"
#include "kbuild/kconfig.h"

namespace vigil::sys {
class Cancellation;
}

namespace vigil::kbuild {

// A set of config fragments known by name: normal (none), debug (the tree's
// kernel/configs/debug.config when it has one, and vigil's debug fragment),
// or one a variants file defines.
struct Variant {
  std::string name;
  bool tree_debug_config = false;        // include <tree>/kernel/configs/debug.config
  std::vector<std::string> builtin;      // vigil's own fragments by name ("debug")
  std::vector<std::string> fragments;    // fragment files
  std::vector<std::string> set;          // CONFIG_X=VALUE
};

// The fragments shipped in vigil (configs/*.config, built into the binary):
// "vm", "debug". Empty for an unknown name.
std::string_view BuiltinFragment(std::string_view name);

// normal and debug, or one of `file` (a TOML file of [variant.NAME] tables
// with `fragments` = [paths relative to the file], `set` = ["CONFIG_X=y"],
// `debug_config` = bool, `base` = "debug" to start from the debug variant).
// InvalidArgument for an unknown name (listing the known ones) or a bad file.
Result<Variant> FindVariant(std::string_view name, const std::string& variants_file = "");

struct BuildOptions {
  std::string tree;                      // kernel source tree (required)
  std::string output_dir;                // O=; "" DefaultOutputDir(tree, variant)
  std::string base_config = "defconfig";  // a make *config target, or a file
  Variant variant = {"normal", false, {}, {}, {}};
  bool vm_fragment = true;                // merge vigil's VM fragment
  std::vector<std::string> collections;   // selftest collections: config + build + install
  std::vector<std::string> config_files;  // --config FILE, in order
  std::vector<std::string> set;           // --set CONFIG_X=VALUE, in order
  int jobs = 0;                           // 0: the CPUs this process may use
  std::string cc;                         // "" gcc
  bool ccache = true;                     // when installed
  std::map<std::string, std::string> env; // extra environment (tests: CCACHE_DIR)
  bool kernel = true;                     // build the kernel (false: tests only)
  // Code from strangers (a patch series): every make runs under this argv
  // prefix (sys::SandboxPrefix), and with only the basics of vigil's
  // environment (PATH, HOME, LANG, LC_*, TERM, TMPDIR) plus `env`.
  std::vector<std::string> wrapper;
  bool clean_env = false;
  // The user the wrapper runs make as (-1: make runs as vigil). vigil then
  // does its own file work in the tree and the output directory as that
  // user (sys::FsIdentity), having read the user's own files (--config,
  // fragments, a base config file) first: what it writes there is that
  // user's, and a symlink make left there leads nowhere that user could not
  // go. Needs root.
  int owner_uid = -1, owner_gid = -1;
  const sys::Cancellation* cancel = nullptr;
};

// Where a tree's variant builds by default:
// $XDG_CACHE_HOME/vigil/build (or ~/.cache/vigil/build) / <tree name>-<hash of
// its real path> / <variant>.
std::string DefaultOutputDir(const std::string& tree, std::string_view variant);

// What went in and what came out.
struct BuildResult {
  enum class State { kBuilt, kFailed, kInterrupted };
  State state = State::kFailed;
  std::string failure;  // one line, when not built
  std::string output_dir;
  std::string commit, describe;  // "" outside git
  bool dirty = false;
  std::string config_hash;
  bool config_reused = false;  // the request and Kconfig files were those of the last build: kconfig not run
  std::string compiler;
  std::vector<ConfigMismatch> mismatches;
  std::vector<Diagnostic> diagnostics;
  uint64_t warnings = 0, errors = 0, dropped = 0;
  int64_t steps = 0;         // compile and link steps make printed (IsBuildStep); 0: nothing rebuilt
  int64_t duration_ms = 0;
  std::string failed_target;         // make's, when it failed
  std::string failed_command;        // the command that made it, when found
  std::vector<std::string> tail;     // the last lines of output, when it failed
  // What it made (absolute paths; "" when not made).
  std::string kernel, vmlinux, modules, headers, tests, config, log;
  std::string release;       // `make kernelrelease`
};

// What a build reports while it runs. Called on the building thread.
class BuildObserver {
 public:
  virtual ~BuildObserver() = default;
  // A phase starts: "config", "kernel", "modules", "headers", "kselftest".
  virtual void Phase(std::string_view /*name*/) {}
  // make printed a build step ("CC      kernel/sys.o"); `steps` so far.
  virtual void Step(std::string_view /*line*/, int64_t /*steps*/) {}
  // Every output line (for -v).
  virtual void Output(std::string_view /*line*/) {}
};

// The environment problems that stop a build before it starts: the programs
// and headers a kernel build needs that are missing, each named, with the
// apt-get line that installs them. OK when none.
Status CheckBuildEnvironment(const BuildOptions& options);

// Builds. An error Status only for what stops the build from being attempted
// (usage or environment: no tree, a tree configured in place, an output
// directory in use by another build, a collection that does not exist, a
// fragment that cannot be read); a build that fails is a result (kFailed).
Result<BuildResult> Build(const BuildOptions& options, BuildObserver& observer);

// git's argv for `args` in the tree (one the sandbox user owns is asked
// about without running anything its config names).
std::vector<std::string> GitArgv(const BuildOptions& o, std::vector<std::string> args);
// `ancestor` is `commit` or one of its ancestors in the tree's history;
// false when either is unknown (empty, not there).
bool IsAncestor(const BuildOptions& o, const std::string& ancestor, const std::string& commit);

// FNV-1a of the .config text without its comment lines (the header that
// names the kernel version and date).
std::string ConfigHash(std::string_view config_text);

// True for a line kbuild prints for a step in its quiet mode ("  CC      x.o").
bool IsStepLine(std::string_view line);
// True for a step line that makes something (CC, LD, AR, OBJCOPY, ...), not
// one of make's housekeeping (GEN Makefile, DESCEND, CALL, INSTALL, ...): a
// build that prints none rebuilt nothing.
bool IsBuildStep(std::string_view line);

}  // namespace vigil::kbuild
