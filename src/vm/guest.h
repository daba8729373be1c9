// The guest side of the VM runner: vigil itself, started by the VM's init
// from the host's root (shared read-only). It announces the guest's
// environment, then runs every program the host asks for with the same
// process supervision as on the host (RunProcess), streaming output and
// results back over the results channel.
#pragma once

#include <string>

namespace vigil::vm {

// Serves requests on the virtio-serial port `port` until the host says quit
// (or the port fails). Returns the exit code for the process.
int RunGuest(const std::string& port, const std::string& tool_path);

}  // namespace vigil::vm
