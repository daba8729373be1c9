#include "vm/vm_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/kernel_modules.h"
#include "runner/environment.h"
#include "vm/channel.h"
#include "vm/initramfs.h"
#include "vm/qemu_command.h"

namespace vigil::vm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Starts a helper (QEMU, virtiofsd) in a process group of its own that dies
// with vigil: PR_SET_PDEATHSIG fires when the thread that forked it ends, so
// every helper is forked by one thread that lives as long as the process.
pid_t ForkExec(const std::vector<std::string>& args, int out_fd, int err_fd) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // vigil is already gone
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (devnull >= 0) dup2(devnull, 0);
    if (out_fd >= 0) dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  if (devnull >= 0) close(devnull);
  return pid;
}

pid_t Spawn(const std::vector<std::string>& args, int out_fd, int err_fd) {
  struct Job {
    const std::vector<std::string>* args;
    int out_fd, err_fd;
    pid_t pid = -1;
    bool done = false;
  };
  // Never destroyed: the spawner thread waits on them until the process ends
  // (destroying a condition variable with a waiter blocks exit()).
  static auto* mu = new std::mutex;
  static auto* cv = new std::condition_variable;
  static auto* jobs = new std::vector<Job*>;
  static std::once_flag started;
  std::call_once(started, [] {
    std::thread([] {
      std::unique_lock<std::mutex> lock(*mu);
      while (true) {
        cv->wait(lock, [] { return !jobs->empty(); });
        for (Job* j : *jobs) {
          j->pid = ForkExec(*j->args, j->out_fd, j->err_fd);
          j->done = true;
        }
        jobs->clear();
        cv->notify_all();
      }
    }).detach();
  });
  Job job{&args, out_fd, err_fd};
  std::unique_lock<std::mutex> lock(*mu);
  jobs->push_back(&job);
  cv->notify_all();
  cv->wait(lock, [&] { return job.done; });
  return job.pid;
}

int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    close(fd);
    return -1;
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads from fd until `want` appears or `ms` pass.
bool ReadUntil(int fd, const std::string& want, int ms, std::string* got) {
  auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    got->append(buf, static_cast<size_t>(n));
    if (got->find(want) != std::string::npos) return true;
  }
  return false;
}

// Sends magic sysrq keys to the guest through QEMU's QMP socket (PS/2
// keyboard), e.g. "w" (blocked tasks) and "t" (all tasks).
bool QmpSysrq(const std::string& qmp_path, const std::vector<std::string>& keys, int pause_ms) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (qmp_path.size() >= sizeof addr.sun_path) {
    close(fd);
    return false;
  }
  memcpy(addr.sun_path, qmp_path.c_str(), qmp_path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return false;
  }
  std::string got;
  bool ok = ReadUntil(fd, "\"QMP\"", 2000, &got);
  ok = ok && vm::WriteAll(fd, "{\"execute\":\"qmp_capabilities\"}\n") && ReadUntil(fd, "\"return\"", 2000, &got);
  for (const auto& k : keys) {
    got.clear();
    std::string cmd = fmt::format(
        "{{\"execute\":\"human-monitor-command\",\"arguments\":{{\"command-line\":\"sendkey alt-sysrq-{}\"}}}}\n", k);
    ok = ok && vm::WriteAll(fd, cmd) && ReadUntil(fd, "\"return\"", 2000, &got);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
  close(fd);
  return ok;
}

bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  int st;
  return waitpid(pid, &st, WNOHANG) == 0;
}

void KillAndReap(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

std::string ReadFileTail(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = std::move(ss).str();
  return s.size() > max ? s.substr(s.size() - max) : s;
}

bool KernelHasVirtiofs(const std::string& modules_dir) {
  return BuiltinModules(modules_dir).count("virtiofs") || IndexModules(modules_dir).count("virtiofs");
}

}  // namespace

struct VmRunner::Pending {
  sys::OutputSink* sink = nullptr;
  size_t max_output = 16 << 20;
  bool ended = false;  // its end came while a kernel report it may own was open
  bool done = false;
  sys::ProcessResult result;
  std::vector<console::Report> reports;
};

std::string ProbeAccel(const std::string& kernel, const std::string& initramfs, std::string* why) {
  if (access("/dev/kvm", R_OK | W_OK) != 0) {
    *why = "no usable /dev/kvm";
    return "tcg";
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return "tcg";
  pid_t pid = Spawn(ProbeQemuArgv(kernel, initramfs), fds[1], fds[1]);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    *why = "cannot start qemu-system-x86_64";
    return "tcg";
  }
  std::string seen;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  bool ok = false;
  while (Clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (poll(&p, 1, std::max(ms, 1)) <= 0) continue;
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
    if (seen.find("vigil-probe-ok") != std::string::npos) {
      ok = true;
      break;
    }
    if (seen.size() > (1 << 20)) seen.erase(0, seen.size() - 4096);
  }
  close(fds[0]);
  KillAndReap(pid);
  if (ok) {
    *why = "a KVM guest booted";
    return "kvm";
  }
  *why = seen.empty() ? "a KVM guest printed nothing in 10 s" : "a KVM guest did not finish booting in 10 s";
  return "tcg";
}

VmRunner::VmRunner(VmOptions options) : options_(std::move(options)) {}

VmRunner::~VmRunner() { Shutdown(); }

Status VmRunner::Start() {
  std::error_code ec;
  fs::create_directories(options_.work_dir, ec);
  if (access(options_.kernel.c_str(), R_OK) != 0)
    return Status::NotFound(fmt::format("cannot read the kernel {}: {}", options_.kernel, std::strerror(errno)));
  rootfs_ = options_.rootfs;
  if (rootfs_ == "auto") {
    // Debian's cloud kernels have virtiofs and no 9p.
    rootfs_ = options_.modules_dir.empty() || KernelHasVirtiofs(options_.modules_dir) ? "virtiofs" : "9p";
  }
  InitramfsSpec spec;
  spec.kernel_release = KernelReleaseOf(options_.kernel);
  spec.modules_dir = options_.modules_dir;
  spec.cache_dir = options_.cache_dir;
  if (rootfs_ == "virtiofs") {
    spec.modules.insert(spec.modules.end(), {"fuse", "virtiofs"});
  } else {
    spec.modules.insert(spec.modules.end(), {"netfs", "9pnet", "9pnet_virtio", "9p"});
  }
  auto ir = BuildInitramfs(spec);
  if (!ir.ok()) return ir.status();
  initramfs_ = ir->path;
  for (const auto& n : ir->notes) notes_.push_back(n);
  if (options_.accel == "auto") {
    std::string why;
    accel_ = ProbeAccel(options_.kernel, initramfs_, &why);
    notes_.push_back(fmt::format("accelerator: {} ({})", accel_, why));
  } else {
    accel_ = options_.accel;
  }
  console_log_ = options_.work_dir + "/console.log";
  console_file_ = open(console_log_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (console_file_ < 0) return Status::IOError(fmt::format("cannot write {}: {}", console_log_, std::strerror(errno)));
  detector_ = std::make_unique<console::Detector>();
  detector_->set_listener([this](console::Detector::Event e, const console::Report& r) { OnReport(e, r); });
  watchdog_ = std::thread([this] {
    while (!stopping_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::unique_lock<std::mutex> lock(mu_);
      auto now = Clock::now();
      if (report_open_ && now - last_console_ > options_.report_quiet) {
        // The console went quiet: the open report is complete.
        lock.unlock();
        {
          std::lock_guard<std::mutex> d(detector_mu_);
          detector_->Quiet();
        }
        lock.lock();
      }
      if (kill_deadline_ != Clock::time_point{} && now >= kill_deadline_) {
        kill_deadline_ = {};
        KillQemu();
      }
      bool any_running = false;
      for (auto& [id, p] : pending_) any_running |= !p->done;
      if (options_.hang_timeout.count() > 0 && up_ && any_running && now - last_activity_ > options_.hang_timeout) {
        // No console and no result output: the kernel hangs. Ask it for the
        // blocked tasks and all tasks (sysrq w, t), keep what it prints, then
        // kill it; the tests that were running time out with the dump.
        int gen = generation_;
        std::string qmp = qmp_path_;
        off_t from = lseek(console_file_, 0, SEEK_CUR);
        lock.unlock();
        bool sent = QmpSysrq(qmp, {"w", "t"}, 1500);
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        lock.lock();
        if (gen != generation_) continue;
        off_t to = lseek(console_file_, 0, SEEK_CUR);
        std::string dump;
        if (to > from) {
          size_t len = std::min<size_t>(static_cast<size_t>(to - from), 512 << 10);
          dump.resize(len);
          ssize_t n = pread(console_file_, dump.data(), len, from);
          dump.resize(n > 0 ? static_cast<size_t>(n) : 0);
        }
        for (auto& [id, p] : pending_) {
          if (p->done) continue;
          p->result.timed_out = true;
          p->result.status = sys::WaitStatus::Signaled(SIGKILL);
          p->done = true;
          p->result.output += fmt::format(
              "\nvigil: no console or test output for {} s: the VM hangs; {}, then killed\n",
              options_.hang_timeout.count(), sent ? "sysrq w and t asked for its tasks" : "sysrq could not be sent");
          if (!dump.empty()) p->result.output += "---- console after sysrq w, t ----\n" + dump;
        }
        up_ = false;  // the next test boots a fresh VM
        cv_.notify_all();
        KillQemu();
      }
    }
  });
  return EnsureUp();
}

Status VmRunner::EnsureUp() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (up_) return Status::OK();
  }
  Status last;
  for (int attempt = 0; attempt <= options_.boot_retries; ++attempt) {
    last = BootOnce();
    if (last.ok()) return last;
    notes_.push_back(last.message());
  }
  return last;
}

Status VmRunner::BootOnce() {
  // The previous VM's threads finish (and reap it) first.
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  int gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gen = ++generation_;
    hello_ = false;
    report_open_ = false;
  }
  std::string dir = options_.work_dir;
  std::string vfs_sock = fmt::format("{}/vfs-{}.sock", dir, gen);
  std::string ch_sock = fmt::format("{}/ch-{}.sock", dir, gen);
  std::string err_path = fmt::format("{}/qemu-{}.err", dir, gen);
  std::string qmp_sock = fmt::format("{}/qmp-{}.sock", dir, gen);
  unlink(qmp_sock.c_str());
  unlink(vfs_sock.c_str());
  unlink(ch_sock.c_str());
  auto start = Clock::now();
  pid_t vfsd = -1;
  if (rootfs_ == "virtiofs") {
    int log = open((dir + "/virtiofsd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    vfsd = Spawn(VirtiofsdArgv(vfs_sock), log, log);
    if (log >= 0) close(log);
    if (vfsd < 0) return Status::IOError("cannot start /usr/lib/qemu/virtiofsd (install qemu-system-common)");
    for (int i = 0; i < 500 && access(vfs_sock.c_str(), F_OK) != 0; ++i) {
      if (!Alive(vfsd)) break;
      usleep(10000);
    }
    if (access(vfs_sock.c_str(), F_OK) != 0) {
      KillAndReap(vfsd);
      return Status::IOError("virtiofsd did not start: " + ReadFileTail(dir + "/virtiofsd.log", 2000));
    }
  }
  QemuBoot boot{accel_, rootfs_, initramfs_, vfs_sock, ch_sock, qmp_sock};
  std::vector<std::string> args = QemuArgv(options_, boot);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    KillAndReap(vfsd);
    return Status::IOError("pipe failed");
  }
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t qemu = Spawn(args, fds[1], err);
  close(fds[1]);
  if (err >= 0) close(err);
  if (qemu < 0) {
    close(fds[0]);
    KillAndReap(vfsd);
    return Status::IOError("cannot start qemu-system-x86_64 (install qemu-system-x86)");
  }
  std::string banner = fmt::format("---- vigil: boot {} of {} ({}, {}) ----\n", gen, options_.kernel, accel_, rootfs_);
  (void)!write(console_file_, banner.data(), banner.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    qemu_pid_ = qemu;
    virtiofsd_pid_ = vfsd;
    qmp_path_ = qmp_sock;
    up_ = true;
    booting_ = true;
    last_activity_ = Clock::now();
    ++boots_;
  }
  threads_.emplace_back([this, fd = fds[0], gen] { ConsoleLoop(fd, gen); });
  // QEMU makes the channel socket as it starts.
  int ch = -1;
  for (int i = 0; i < 1000 && ch < 0; ++i) {
    ch = ConnectUnix(ch_sock);
    if (ch < 0) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!up_ || generation_ != gen) break;
    }
    if (ch < 0) usleep(10000);
  }
  if (ch >= 0) {
    std::lock_guard<std::mutex> lock(mu_);
    channel_fd_ = ch;
    threads_.emplace_back([this, ch, gen] { ChannelLoop(ch, gen); });
  }
  std::unique_lock<std::mutex> lock(mu_);
  bool ok = cv_.wait_for(lock, options_.boot_timeout, [&] { return hello_ || !up_ || generation_ != gen; });
  booting_ = false;
  if (ok && hello_ && up_) {
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    if (boots_ == 1) first_boot_seconds_ = secs;
    return Status::OK();
  }
  std::string why = !ok ? fmt::format("no answer from the guest in {} s", options_.boot_timeout.count())
                        : "the VM ended before the guest started";
  KillQemu();
  lock.unlock();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  std::string tail = console_tail_;
  std::string qerr = ReadFileTail(err_path, 4000);
  return Status::IOError(fmt::format("boot {} failed: {}{}{}{}{}", gen, why, qerr.empty() ? "" : "\nqemu said: ", qerr,
                                     tail.empty() ? "" : "\nconsole tail:\n", tail));
}

void VmRunner::ConsoleLoop(int fd, int generation) {
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view chunk(buf, static_cast<size_t>(n));
    (void)!write(console_file_, chunk.data(), chunk.size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_activity_ = last_console_ = Clock::now();
      console_tail_.append(chunk);
      if (console_tail_.size() > 8192) console_tail_.erase(0, console_tail_.size() - 4096);
    }
    std::lock_guard<std::mutex> d(detector_mu_);
    detector_->Feed(chunk);
  }
  close(fd);
  {
    std::lock_guard<std::mutex> d(detector_mu_);
    detector_->Quiet();  // the VM is gone: an open report is complete
  }
  VmEnded(generation, "console closed");
}

void VmRunner::ChannelLoop(int fd, int generation) {
  FrameReader reader;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::vector<Frame> frames;
    if (!reader.Feed(std::string_view(buf, static_cast<size_t>(n)), &frames).ok()) break;
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) break;
    last_activity_ = Clock::now();
    for (Frame& f : frames) {
      if (f.type == FrameType::kHello) {
        try {
          environment_ = EnvironmentFromJson(nlohmann::json::parse(f.payload));
        } catch (const std::exception&) {
        }
        environment_.where = "vm";
        environment_.accel = accel_;
        if (environment_.kernel_config.empty()) {
          // The guest has no /proc/config.gz: the config file beside the image
          // (an unpacked Debian package has boot/config-RELEASE).
          std::string dir = std::filesystem::path(options_.kernel).parent_path().string();
          environment_.kernel_config = runner::KernelConfigHash(environment_.kernel_release, dir.empty() ? "." : dir);
        }
        hello_ = true;
        cv_.notify_all();
        continue;
      }
      auto it = pending_.find(f.id);
      if (it == pending_.end() || it->second->done) continue;
      if (f.type == FrameType::kOutput) {
        if (it->second->sink) it->second->sink->OnOutput(f.payload);
        // Kept (capped) for the summary and the environment checks, as on the host.
        std::string& out = it->second->result.output;
        if (out.size() < it->second->max_output) out.append(f.payload, 0, it->second->max_output - out.size());
      } else if (f.type == FrameType::kEnd) {
        try {
          // The guest's result, with the output kept here as it came.
          sys::ProcessResult r = ResultFromJson(nlohmann::json::parse(f.payload));
          r.output = std::move(it->second->result.output);
          it->second->result = std::move(r);
        } catch (const std::exception&) {
          it->second->result.status = sys::WaitStatus::Exited(127);
        }
        bool owns_open_report = report_open_ && std::find(report_tests_.begin(), report_tests_.end(), f.id) !=
                                                     report_tests_.end();
        if (owns_open_report) {
          it->second->ended = true;  // done when the report completes
        } else {
          it->second->done = true;
          cv_.notify_all();
        }
      }
    }
  }
}

void VmRunner::OnReport(console::Detector::Event e, const console::Report& r) {
  std::lock_guard<std::mutex> lock(mu_);
  switch (e) {
    case console::Detector::Event::kStarted:
      report_open_ = true;
      report_tests_.clear();
      for (auto& [id, p] : pending_)
        if (!p->done) report_tests_.push_back(id);
      break;
    case console::Detector::Event::kFatal:
      // The kernel is dying: give the rest of the report a moment, then kill.
      kill_deadline_ = Clock::now() + options_.fatal_grace;
      if (fatal_seen_ == Clock::time_point{}) fatal_seen_ = Clock::now();
      break;
    case console::Detector::Event::kCompleted:
      report_open_ = false;
      all_reports_.push_back(r);
      for (uint32_t id : report_tests_) {
        auto it = pending_.find(id);
        if (it == pending_.end()) continue;
        it->second->reports.push_back(r);
        if (it->second->ended) it->second->done = true;
      }
      cv_.notify_all();
      if (r.fatal) {
        kill_deadline_ = {};
        KillQemu();
      }
      break;
  }
}

void VmRunner::KillQemu() {
  // mu_ held.
  if (qemu_pid_ > 0) kill(qemu_pid_, SIGKILL);
}

void VmRunner::VmEnded(int generation, const std::string& why) {
  pid_t qemu, vfsd;
  int ch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_) return;
    up_ = false;  // the next test boots a fresh VM
    qemu = qemu_pid_;
    vfsd = virtiofsd_pid_;
    ch = channel_fd_;
    qemu_pid_ = virtiofsd_pid_ = -1;
    channel_fd_ = -1;
  }
  // The console closed: QEMU is gone or going. Reap it before anyone hears.
  KillAndReap(qemu);
  auto gone = Clock::now();
  if (ch >= 0) shutdown(ch, SHUT_RDWR);
  KillAndReap(vfsd);
  if (ch >= 0) close(ch);
  std::lock_guard<std::mutex> lock(mu_);
  up_ = false;
  kill_deadline_ = {};
  if (fatal_seen_ != Clock::time_point{}) {
    // From the panic's first line read off the console to QEMU reaped.
    fatal_to_gone_ms_.push_back(std::chrono::duration<double, std::milli>(gone - fatal_seen_).count());
    fatal_seen_ = {};
  }
  for (auto& [id, p] : pending_) {
    if (p->done) continue;
    p->result.vm_died = true;
    p->result.status = sys::WaitStatus::Signaled(SIGKILL);
    p->result.output += fmt::format("vigil: the VM ended while this ran ({})\n", why);
    p->done = true;
  }
  cv_.notify_all();
}

Result<sys::ProcessResult> VmRunner::Run(const sys::ProcessOptions& options, sys::OutputSink* sink) {
  // Boots are one at a time; a crashed VM is replaced before the next test.
  static std::mutex boot_mu;
  {
    std::lock_guard<std::mutex> boot(boot_mu);
    Status st = EnsureUp();
    if (!st.ok()) return st;
  }
  Pending p;
  p.sink = sink;
  p.max_output = options.max_output_bytes;
  auto start = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  if (!up_ || channel_fd_ < 0) return Status::IOError("the VM is not running");
  uint32_t id = next_id_++;
  pending_[id] = &p;
  last_activity_ = Clock::now();
  if (!WriteAll(channel_fd_, EncodeFrame(FrameType::kRequest, id, OptionsToJson(options).dump()))) {
    pending_.erase(id);
    return Status::IOError("cannot write to the VM's results channel");
  }
  cv_.wait(lock, [&] { return p.done; });
  pending_.erase(id);
  sys::ProcessResult r = std::move(p.result);
  r.kernel_reports = std::move(p.reports);
  if (r.vm_died || r.timed_out) {
    r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  }
  // The output went to the sink as it came; keep its tail for the summary.
  return r;
}

std::vector<console::Report> VmRunner::reports() const {
  std::lock_guard<std::mutex> lock(mu_);
  return all_reports_;
}

void VmRunner::Shutdown() {
  if (stopping_.exchange(true)) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (up_ && channel_fd_ >= 0) {
      WriteAll(channel_fd_, EncodeFrame(FrameType::kQuit, 0, ""));
      // The guest syncs and powers off; QEMU ends.
      cv_.wait_for(lock, std::chrono::seconds(20), [&] { return !up_; });
    }
    KillQemu();
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  if (watchdog_.joinable()) watchdog_.join();
  if (console_file_ >= 0) {
    close(console_file_);
    console_file_ = -1;
  }
}

}  // namespace vigil::vm
