#include "sys/cancel.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace vigil::sys {

Cancellation::Cancellation() {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  kill_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

Cancellation::~Cancellation() {
  if (stop_fd_ >= 0) close(stop_fd_);
  if (kill_fd_ >= 0) close(kill_fd_);
}

void Cancellation::Request(int signo) {
  int expected = 0;
  if (signo != 0) signal_.compare_exchange_strong(expected, signo);
  int level = level_.load();
  while (level < 2 && !level_.compare_exchange_weak(level, level + 1)) {
  }
  if (level >= 2) return;
  // Never read: the descriptor stays readable from now on.
  uint64_t one = 1;
  int fd = level == 0 ? stop_fd_ : kill_fd_;
  if (fd >= 0) (void)!write(fd, &one, sizeof one);
}

int Cancellation::ExitCode() const {
  int s = signal_.load();
  return 128 + (s > 0 ? s : SIGINT);
}

namespace {

// SIGINT, SIGTERM and SIGHUP, but not those this process was started with
// ignored (nohup's SIGHUP, SIGINT of a background job): they stay ignored.
sigset_t CancelSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaddset(&set, sig);
  }
  return set;
}

}  // namespace

SignalCanceller::SignalCanceller(Cancellation& cancel, std::function<void(int, Cancellation::Level)> on_signal,
                                 int force_exit_after_ms)
    : cancel_(cancel), on_signal_(std::move(on_signal)), force_exit_after_ms_(force_exit_after_ms) {
  sigset_t set = CancelSignals();
  signals_ = set;
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  quit_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (signal_fd_ < 0 || quit_fd_ < 0) {
    // Without them the default actions stay: vigil ends at the first signal.
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    return;
  }
  thread_ = std::thread([this] { Loop(); });
}

SignalCanceller::~SignalCanceller() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(quit_fd_, &one, sizeof one);
    thread_.join();
  }
  if (signal_fd_ >= 0) close(signal_fd_);
  if (quit_fd_ >= 0) close(quit_fd_);
  // A signal that came after the run ended keeps its default meaning.
  pthread_sigmask(SIG_UNBLOCK, &signals_, nullptr);
}

void SignalCanceller::Loop() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point exit_at{};
  bool exit_armed = false;
  while (true) {
    int timeout = -1;
    if (exit_armed) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(exit_at - Clock::now()).count();
      if (left <= 0) _exit(cancel_.ExitCode());  // the kill did not end the process in time
      timeout = static_cast<int>(left);
    }
    pollfd p[2] = {{signal_fd_, POLLIN, 0}, {quit_fd_, POLLIN, 0}};
    int rc = poll(p, 2, timeout);
    if (rc < 0 && errno != EINTR) return;
    if (rc <= 0) continue;
    if (p[1].revents) return;
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      cancel_.Request(static_cast<int>(info.ssi_signo));
      Cancellation::Level level = cancel_.level();
      if (on_signal_) on_signal_(static_cast<int>(info.ssi_signo), level);
      if (level == Cancellation::Level::kKill && !exit_armed) {
        exit_armed = true;
        exit_at = Clock::now() + std::chrono::milliseconds(force_exit_after_ms_);
      }
    }
  }
}

}  // namespace vigil::sys
