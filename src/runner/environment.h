// What the tests ran on: kernel, machine, and the versions of the tools the
// networking selftests depend on (a new iproute2 breaks scripts as surely
// as a kernel change).
#pragma once

#include <string>
#include <vector>

#include "model/records.h"

namespace vigil::runner {

// Tools whose versions are recorded when present: name and version flag.
struct ToolProbe {
  const char* name;
  const char* flag;
};
const std::vector<ToolProbe>& DefaultToolProbes();

// Reads this host's environment; `path` is the PATH tools are looked up in.
model::Environment DetectHostEnvironment(const std::string& path);

// A hash of a kernel's configuration: /proc/config.gz when `release` is the
// running kernel's and it has one, else `boot_dir`/config-`release`; "" when
// neither is readable. Two kernels built alike hash alike.
std::string KernelConfigHash(const std::string& release, const std::string& boot_dir = "/boot");

}  // namespace vigil::runner
