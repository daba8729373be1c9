// How a process ended: exited with a code, or killed by a signal.
#pragma once

#include <string>

namespace vigil::sys {

class WaitStatus {
 public:
  WaitStatus() = default;
  // From the status word of waitpid().
  static WaitStatus FromRaw(int raw);
  static WaitStatus Exited(int code) { return WaitStatus(code, 0); }
  static WaitStatus Signaled(int sig) { return WaitStatus(-1, sig); }

  bool exited() const { return signal_ == 0; }
  int exit_code() const { return code_; }  // meaningful when exited()
  int signal() const { return signal_; }   // 0 unless killed by a signal
  // "exit 0", "exit 4", "killed by SIGKILL".
  std::string ToString() const;

 private:
  WaitStatus(int code, int sig) : code_(code), signal_(sig) {}
  int code_ = 0;
  int signal_ = 0;
};

}  // namespace vigil::sys
