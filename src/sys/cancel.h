// Cancelling a run from outside: a Cancellation is raised (by a signal
// watcher, or by a test) and observed by whoever is running things — the
// engine stops starting work, RunProcess terminates the program's group as on
// a timeout. The first request asks to stop; a second one asks to kill at
// once. Each level has a descriptor that becomes readable when it is reached,
// so a poll() loop wakes without polling a flag.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace vigil::sys {

class Cancellation {
 public:
  enum class Level { kNone, kStop, kKill };

  Cancellation();
  ~Cancellation();
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  // Raises the level by one (none -> stop -> kill). `signo` is the signal
  // that asked (0: not a signal); the first one is kept. Async-signal-safe
  // apart from nothing: atomics and write(2) only.
  void Request(int signo = 0);

  Level level() const { return static_cast<Level>(level_.load()); }
  bool stopping() const { return level() != Level::kNone; }
  bool killing() const { return level() == Level::kKill; }
  // The first signal that asked (0 when none did).
  int signal() const { return signal_.load(); }
  // 128 + the first signal (as a shell reports a death by it), 130 without one.
  int ExitCode() const;

  // Readable once the level is at least `level` (kStop or kKill); -1 if the
  // descriptors could not be made (then callers fall back to polling level()).
  int fd(Level level) const { return level == Level::kKill ? kill_fd_ : stop_fd_; }

 private:
  std::atomic<int> level_{0};
  std::atomic<int> signal_{0};
  int stop_fd_ = -1;
  int kill_fd_ = -1;
};

// Turns SIGINT, SIGTERM and SIGHUP into requests on a Cancellation (those
// this process was started with ignored stay ignored: nohup). Blocks
// those signals in the calling thread (so construct it before any other
// thread starts: the threads inherit the mask; programs started by
// RunProcess get an empty mask) and reads them from a signalfd on a thread
// of its own. `on_signal(signo, level)` is called on that thread after each
// request (e.g. to print what happens next). After the kill level, if the
// process is still there `force_exit_after_ms` later, it _exit()s with the
// cancellation's exit code. The destructor stops the thread and restores
// the signal mask.
class SignalCanceller {
 public:
  SignalCanceller(Cancellation& cancel, std::function<void(int, Cancellation::Level)> on_signal,
                  int force_exit_after_ms = 5000);
  ~SignalCanceller();
  SignalCanceller(const SignalCanceller&) = delete;
  SignalCanceller& operator=(const SignalCanceller&) = delete;

 private:
  void Loop();
  Cancellation& cancel_;
  std::function<void(int, Cancellation::Level)> on_signal_;
  int force_exit_after_ms_;
  sigset_t signals_{};
  int signal_fd_ = -1;
  int quit_fd_ = -1;
  std::thread thread_;
};

}  // namespace vigil::sys
