#include "sys/process.h"

#include "sys/capped_output.h"

#include <dirent.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "sys/cancel.h"
#include "sys/cgroup.h"

namespace vigil::sys {
namespace {

using Clock = std::chrono::steady_clock;

// Processes whose process group is `pgid` (from /proc).
int CountGroup(pid_t pgid) {
  int n = 0;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc"), closedir);
  if (!dir) return 0;
  while (dirent* e = readdir(dir.get())) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char stat[512];
    ssize_t len = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (len <= 0) continue;
    stat[len] = '\0';
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
    const char* p = strrchr(stat, ')');
    char state;
    int ppid, pgrp;
    if (p && sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid && state != 'Z') ++n;
  }
  return n;
}

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// Signals the process group, and every process of the cgroup for SIGKILL.
// The child itself too: until its setsid() the group does not exist yet.
void SignalAll(pid_t pgid, int sig, TestCgroup* cg) {
  kill(-pgid, sig);
  kill(pgid, sig);
  if (cg && sig == SIGKILL) cg->KillAll();
}

[[noreturn]] void ChildFail(const char* what, const char* arg) {
  // Only async-signal-safe calls between fork and exec.
  char buf[512];
  const char* reason = strerrordesc_np(errno);  // a static string: safe after fork
  int n = snprintf(buf, sizeof buf, "vigil: %s \"%s\" failed: %s\n", what, arg, reason ? reason : "?");
  if (n > 0) (void)!write(2, buf, static_cast<size_t>(n));
  _exit(127);
}

}  // namespace

Result<ProcessResult> RunProcess(const ProcessOptions& o, OutputSink* sink) {
  if (o.argv.empty()) return Status::InvalidArgument("no program to run");
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : o.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  std::unique_ptr<TestCgroup> cg;
  if (!o.cgroup_name.empty()) {
    std::string why;
    cg = TestCgroup::Create(o.cgroup_name, &why);
  }

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::IOError(fmt::format("pipe: {}", std::strerror(errno)));
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

  Clock::time_point start = Clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    if (devnull >= 0) close(devnull);
    return Status::IOError(fmt::format("fork: {}", std::strerror(err)));
  }
  if (pid == 0) {
    if (cg) (void)!write(cg->procs_fd(), "0", 1);
    setsid();
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    if (devnull >= 0) dup2(devnull, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (o.oom_score_adj) {
      // (Digits by hand: nothing that may lock between fork and exec.)
      char adj[16];
      char* end = adj + sizeof adj;
      char* p = end;
      long v = *o.oom_score_adj;
      bool negative = v < 0;
      if (negative) v = -v;
      do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
      } while (v > 0 && p > adj + 1);
      if (negative) *--p = '-';
      int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        (void)!write(fd, p, static_cast<size_t>(end - p));
        close(fd);
      }
    }
    if (o.new_netns) {
      if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) ChildFail("unshare", "CLONE_NEWNET|CLONE_NEWNS");
      // Mounts made here stay here; /run/netns (where `ip netns add` pins
      // the namespaces it names) is a tmpfs that goes with this namespace.
      // Where that cannot be (no /run, e.g.), named namespaces are shared
      // as without the option.
      if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) == 0) {
        mkdir("/run/netns", 0755);
        (void)mount("vigil-netns", "/run/netns", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755");
      }
      // Bring the loopback interface up, as `ip netns exec` users expect.
      int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ifreq ifr{};
      memcpy(ifr.ifr_name, "lo", 3);
      if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) ChildFail("configure", "lo");
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) ChildFail("bring up", "lo");
      close(s);
    }
    if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) ChildFail("chdir to", o.cwd.c_str());
    execvpe(argv[0], argv.data(), envp.data());
    ChildFail("exec of", argv[0]);
  }
  close(fds[1]);
  if (devnull >= 0) close(devnull);
  int out_fd = fds[0];
  int pidfd = PidfdOpen(pid);

  ProcessResult r;
  r.used_cgroup = cg != nullptr;
  CappedOutput output(o.max_output_bytes);
  bool exited = false;
  int raw_status = 0;
  bool pipe_open = true;
  bool term_sent = false;
  Clock::time_point kill_at{};
  Clock::time_point drain_until{};
  std::string buf(64 << 10, '\0');

  auto reap = [&] {
    if (exited) return;
    pid_t w = waitpid(pid, &raw_status, WNOHANG);
    if (w == pid) {
      exited = true;
      r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
      // Nothing the test started may outlive it: its process group, and
      // with a cgroup also whatever left the group.
      if (cg) {
        r.leftovers_killed = cg->CountProcesses();
        kill(-pid, SIGKILL);
        cg->KillAll();
      } else {
        r.leftovers_killed = CountGroup(pid);
        kill(-pid, SIGKILL);
      }
      drain_until = Clock::now() + std::chrono::seconds(2);
    }
  };

  const Cancellation* cancel = o.cancel;
  bool kill_now_sent = false;
  while (!exited || pipe_open) {
    Clock::time_point now = Clock::now();
    if (!exited && cancel && cancel->stopping() && !term_sent) {
      // Cancelled: as a timeout, SIGTERM now and SIGKILL after the grace.
      r.cancelled = true;
      term_sent = true;
      SignalAll(pid, SIGTERM, nullptr);
      kill_at = now + o.kill_grace;
    }
    if (!exited && cancel && cancel->killing() && !kill_now_sent) {
      r.cancelled = true;
      kill_now_sent = true;
      kill_at = now;  // below: SIGKILL to the group and the cgroup
    }
    if (!exited && o.timeout.count() > 0 && !term_sent && now - start >= o.timeout) {
      r.timed_out = true;
      term_sent = true;
      SignalAll(pid, SIGTERM, nullptr);
      kill_at = now + o.kill_grace;
    }
    if (!exited && term_sent && now >= kill_at) {
      r.killed_after_grace = !kill_now_sent;
      SignalAll(pid, SIGKILL, cg.get());
      kill_at = now + std::chrono::hours(24);
    }
    if (exited && pipe_open && now >= drain_until) break;  // a writer we could not kill

    int wait_ms = 1000;
    if (!exited && o.timeout.count() > 0 && !term_sent) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout - (now - start)).count();
      wait_ms = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left, wait_ms)));
    } else if (!exited && term_sent) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - now).count();
      wait_ms = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left, wait_ms)));
    }
    pollfd pfds[3];
    int n = 0;
    if (pipe_open) pfds[n++] = {out_fd, POLLIN, 0};
    int pidfd_index = -1;
    if (!exited && pidfd >= 0) {
      pidfd_index = n;
      pfds[n++] = {pidfd, POLLIN, 0};
    }
    if (!exited && cancel && !kill_now_sent) {
      // Wakes at the next level of the cancellation (readable from then on).
      int fd = cancel->fd(term_sent ? Cancellation::Level::kKill : Cancellation::Level::kStop);
      if (fd >= 0) {
        pfds[n++] = {fd, POLLIN, 0};
      } else {
        wait_ms = std::min(wait_ms, 100);
      }
    }
    if (!exited && pidfd < 0) wait_ms = std::min(wait_ms, 20);  // no pidfd: poll waitpid
    int rc = poll(pfds, static_cast<nfds_t>(n), wait_ms);
    if (rc < 0 && errno != EINTR) break;
    if (pipe_open && n > 0 && pfds[0].fd == out_fd && rc > 0 && (pfds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = read(out_fd, buf.data(), buf.size());
      if (got > 0) {
        std::string_view chunk(buf.data(), static_cast<size_t>(got));
        output.Add(chunk);
        if (sink) sink->OnOutput(chunk);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        pipe_open = false;
      }
    }
    if (pidfd_index < 0 || (rc > 0 && pfds[pidfd_index].revents)) reap();
    if (!pipe_open) reap();
  }
  if (!exited) {
    // Only if poll failed: make sure the test is gone.
    SignalAll(pid, SIGKILL, cg.get());
    waitpid(pid, &raw_status, 0);
    r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  }
  if (pidfd >= 0) close(pidfd);
  close(out_fd);
  r.status = WaitStatus::FromRaw(raw_status);
  r.output_bytes = output.total();
  r.output = output.Take(&r.output_dropped);
  return r;
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

std::string HostName() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) return "";
  return host;
}

namespace {

// Field 22 of /proc/PID/stat (starttime), 0 when the process is not there.
uint64_t ProcessStartTime(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char stat[1024];
  ssize_t len = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (len <= 0) return 0;
  stat[len] = '\0';
  const char* p = strrchr(stat, ')');  // comm may hold spaces and parentheses
  if (!p) return 0;
  // After the comm: field 3 (state) ... field 22 (starttime).
  int field = 2;
  for (const char* c = p + 1; *c; ++c) {
    if (*c != ' ') continue;
    if (++field == 22) return strtoull(c + 1, nullptr, 10);
  }
  return 0;
}

struct ParsedOwner {
  std::string host;
  long long pid = 0;
  unsigned long long start = 0;
};

bool ParseOwner(const std::string& owner, ParsedOwner* out) {
  size_t b = owner.rfind(' ');
  if (b == std::string::npos || b == 0) return false;
  size_t a = owner.rfind(' ', b - 1);
  if (a == std::string::npos) return false;
  char* end = nullptr;
  out->pid = strtoll(owner.c_str() + a + 1, &end, 10);
  if (end != owner.c_str() + b || out->pid <= 0) return false;
  out->start = strtoull(owner.c_str() + b + 1, &end, 10);
  if (*end != '\0') return false;
  out->host = owner.substr(0, a);
  return true;
}

}  // namespace

std::string SelfOwner() {
  return fmt::format("{} {} {}", HostName(), getpid(), ProcessStartTime(getpid()));
}

OwnerState CheckOwner(const std::string& owner) {
  ParsedOwner o;
  if (!ParseOwner(owner, &o)) return OwnerState::kGone;
  if (o.host != HostName()) return OwnerState::kElsewhere;
  if (o.pid > INT32_MAX) return OwnerState::kGone;
  uint64_t start = ProcessStartTime(static_cast<pid_t>(o.pid));
  return start != 0 && start == o.start ? OwnerState::kAlive : OwnerState::kGone;
}

int OwnerPid(const std::string& owner) {
  ParsedOwner o;
  return ParseOwner(owner, &o) && o.pid <= INT32_MAX ? static_cast<int>(o.pid) : 0;
}

std::string OwnerHost(const std::string& owner) {
  ParsedOwner o;
  return ParseOwner(owner, &o) ? o.host : "";
}

std::string SelfExe() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  return n > 0 ? std::string(exe, static_cast<size_t>(n)) : "vigil";
}

Result<std::string> CommandOutput(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                  size_t max_output) {
  ProcessOptions o;
  o.argv = argv;
  o.timeout = timeout;
  o.max_output_bytes = max_output;
  o.env = CurrentEnvironment();
  auto r = RunProcess(o);
  if (!r.ok()) return r.status();
  if (!r->status.exited() || r->status.exit_code() != 0 || r->output_dropped) {
    std::string out = r->output.substr(0, 300);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return Status::IOError(fmt::format("{} failed ({}): {}", argv.empty() ? "" : argv[0],
                                       r->output_dropped ? "too much output" : r->status.ToString(), out));
  }
  return std::move(r->output);
}

}  // namespace vigil::sys
