// What runs the test at one commit of a bisection and says pass, fail or
// skip: a shell command with git bisect run's exit codes, or one vigil test
// (a `vigil run` whose records are read back from its store).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "bisect/search.h"
#include "sys/cancel.h"

namespace vigil::engine {

struct ProbeRun {
  bisect::Outcome outcome = bisect::Outcome::kPass;
  std::optional<int> exit_code;
  int64_t duration_ms = 0;
};

class Probe {
 public:
  virtual ~Probe() = default;
  // Builds what `worktree` holds (checked out at `commit`); false when it
  // cannot be built, which makes the commit untestable.
  virtual bool Build(const std::string& worktree, const std::string& commit) = 0;
  // One run of the test at `commit` in `worktree`; an error ends the
  // bisection (the runs so far stay recorded: it resumes).
  virtual Result<ProbeRun> Run(const std::string& worktree, const std::string& commit) = 0;
};

struct ProbeOptions {
  std::string build;                 // shell command run after each checkout; "" none
  std::vector<std::string> command;  // the test command, or empty for ...
  std::string vigil_test;            // ... this vigil test (COLLECTION:TEST[:SUBTEST])
  std::string tests_dir;             // its kselftest tree (relative to the worktree)
  std::string kernel;                // boot this kernel (relative to the worktree)
  std::string crash_title;           // count only kernel reports with this title glob
  std::string vigil_exe;             // the vigil that runs it; "" this one
  // Raised: the build or test running is terminated as on a timeout (not
  // recorded with the bisection).
  const sys::Cancellation* cancel = nullptr;
};

// The command probe (exit 0 pass, 125 skip, 1-127 fail, >= 128 or a signal:
// abort) or, with a vigil test, the vigil run probe (only the named test or
// subtest, or the crash title, counts; no result for it: skip).
std::unique_ptr<Probe> MakeProbe(ProbeOptions options);

}  // namespace vigil::engine
