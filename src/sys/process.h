// Running one test program under supervision: its own session and process
// group, stdout and stderr merged into one pipe read live, a timeout that
// sends SIGTERM to the whole group and SIGKILL after a grace period, a cap on
// the output kept, and, when the test is done, nothing it started left alive
// (its process group, and its cgroup when cgroup v2 is usable).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/kernel_report.h"
#include "sys/wait_status.h"

namespace vigil::sys {

class Cancellation;

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::string cwd;                // empty: inherit
  std::vector<std::string> env;   // the whole environment, "NAME=value"
  std::chrono::milliseconds timeout{0};      // 0: none
  std::chrono::milliseconds kill_grace{3000};  // SIGTERM to SIGKILL
  size_t max_output_bytes = 16 << 20;  // kept: the first and last halves
  std::string cgroup_name;  // non-empty: run in a cgroup of that name if possible
  // A fresh network namespace with lo up (needs CAP_SYS_ADMIN), and a mount
  // namespace of its own with an empty /run/netns: the namespaces the program
  // names (`ip netns add`) live and die with it, whatever ends it.
  bool new_netns = false;
  // Set in the program before it starts (/proc/self/oom_score_adj): the
  // VM's guest, which the OOM killer must spare, gives its tests 0 back.
  std::optional<int> oom_score_adj;
  // When raised: terminate the program as on a timeout (SIGTERM to its group,
  // SIGKILL after the grace); at its kill level, SIGKILL at once. Not owned;
  // stays on this side (never sent to a VM's guest).
  const Cancellation* cancel = nullptr;
};

// Receives the output as it arrives (on the calling thread).
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void OnOutput(std::string_view bytes) = 0;
};

struct ProcessResult {
  WaitStatus status;
  bool timed_out = false;       // the timeout fired (SIGTERM, maybe SIGKILL)
  bool killed_after_grace = false;  // it ignored SIGTERM
  bool cancelled = false;       // ended by options.cancel, not by itself
  int64_t duration_ms = 0;
  std::string output;           // capped; see output_dropped
  uint64_t output_bytes = 0;    // everything it printed
  uint64_t output_dropped = 0;  // bytes not kept in `output`
  int leftovers_killed = 0;     // processes still alive after it exited, killed
  bool used_cgroup = false;
  // In a VM: kernel reports that appeared while it ran, and whether the
  // kernel died under it (the program's end was never seen).
  std::vector<model::KernelReport> kernel_reports;
  bool vm_died = false;
};

// Runs the program and waits for it and everything it started. Fails only
// when the program could not be started at all (pipe, fork); a program that
// cannot be executed exits 127 with the reason in its output.
Result<ProcessResult> RunProcess(const ProcessOptions& options, OutputSink* sink = nullptr);

// This process's environment, "NAME=value" each.
std::vector<std::string> CurrentEnvironment();

// This machine's host name (gethostname), "" when unknown.
std::string HostName();

// This process as the owner of a run: "HOST PID START", START being its
// start time (clock ticks after boot, /proc/PID/stat), so that a pid used
// again by another program is not taken for it.
std::string SelfOwner();

enum class OwnerState {
  kAlive,      // that process is running on this host
  kGone,       // it is not (or the owner is empty or unreadable)
  kElsewhere,  // another host's: whether it runs cannot be told from here
};
OwnerState CheckOwner(const std::string& owner);
// The pid and host of an owner string (0 and "" when unreadable).
int OwnerPid(const std::string& owner);
std::string OwnerHost(const std::string& owner);

// The running executable's path (/proc/self/exe), "vigil" when unknown.
std::string SelfExe();

// Runs a helper program (git, modinfo, addr2line, xz, ...) with this
// process's environment and returns what it printed when it exits 0; else
// an IOError naming it with the start of its output. Output beyond
// `max_output` is an error too, never silently cut.
Result<std::string> CommandOutput(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout = std::chrono::milliseconds(60000),
                                  size_t max_output = 64 << 20);

// Where programs run: this host (RunProcess) or elsewhere (a VM's guest).
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  virtual Result<ProcessResult> Run(const ProcessOptions& options, OutputSink* sink) = 0;
};

}  // namespace vigil::sys
