#include "sys/wait_status.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <fmt/format.h>

namespace vigil::sys {

WaitStatus WaitStatus::FromRaw(int raw) {
  if (WIFEXITED(raw)) return Exited(WEXITSTATUS(raw));
  if (WIFSIGNALED(raw)) return Signaled(WTERMSIG(raw));
  return Signaled(SIGKILL);  // stopped/continued are not final; treat as killed
}

std::string WaitStatus::ToString() const {
  if (exited()) return fmt::format("exit {}", code_);
  const char* abbrev = sigabbrev_np(signal_);
  return abbrev ? fmt::format("killed by SIG{}", abbrev) : fmt::format("killed by signal {}", signal_);
}

}  // namespace vigil::sys
