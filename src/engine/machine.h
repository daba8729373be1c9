// Where the tests of a run execute: this host, or a QEMU VM booting the
// kernel under test. The run engine asks a MachineLauncher for one after it
// has read the plan; tests stand in a fake.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/records.h"
#include "model/vm_spec.h"
#include "sys/process.h"

namespace vigil::engine {

class Machine {
 public:
  virtual ~Machine() = default;
  // Runs the tests' programs; null: sys::RunProcess on this host.
  virtual sys::ProcessRunner* runner() = 0;
  // The run's environment record (kernel, machine, tool versions).
  virtual model::Environment DetectEnvironment() = 0;
  virtual bool is_vm() const = 0;
  // The kernel console's log file (a VM), "" on the host.
  virtual std::string console_log() const { return ""; }
  // "tcg" stretches every timeout unless --slowdown says otherwise.
  virtual std::string accel() const { return ""; }
  // Lines for the end of a run ("vm: 2 boots ..."), after the tests ran.
  virtual std::vector<std::string> Notes() const { return {}; }
};

struct MachineRequest {
  const model::VmSpec* vm = nullptr;  // null: this host
  std::string tests_dir;              // absolute; seen at the same path in a VM
  std::string work_dir;               // console log and sockets of a VM
  std::string guest_path;             // PATH in a VM's guest
  const sys::Cancellation* cancel = nullptr;  // stops a VM's boot; not owned
  bool use_cgroups = true;
  std::vector<std::string> hidden;    // files a VM's guest must not read (vm::VmOptions)
  int run_uid = -1;                   // QEMU's user and group (vm::VmOptions); -1: vigil's
  int run_gid = -1;
};

// Boots or prepares a machine; progress lines go to `note` as they happen.
using MachineLauncher =
    std::function<Result<std::unique_ptr<Machine>>(const MachineRequest&, const std::function<void(const std::string&)>& note)>;

// The real machines: this host (environment from the host's tools; stale
// test cgroups of an interrupted vigil cleaned) or vm::VmRunner.
Result<std::unique_ptr<Machine>> LaunchMachine(const MachineRequest& req,
                                               const std::function<void(const std::string&)>& note);

}  // namespace vigil::engine
