#include "vm/vm_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/json.h"
#include "base/clock.h"
#include "base/kernel_modules.h"
#include "base/text.h"
#include "runner/environment.h"
#include "sys/cancel.h"
#include "vm/channel.h"
#include "vm/initramfs.h"
#include "vm/qemu_command.h"
#include "vm/sysrq.h"

namespace vigil::vm {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// Starts a helper (QEMU, virtiofsd) in a process group of its own that dies
// with vigil: PR_SET_PDEATHSIG fires when the thread that forked it ends, so
// every helper is forked by one thread that lives as long as the process.
// Its standard input is `in_fd`, or /dev/null when that is -1.
pid_t ForkExec(const std::vector<std::string>& args, int in_fd, int out_fd, int err_fd) {
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
    if (in_fd >= 0) {
      dup2(in_fd, 0);
    } else if (devnull >= 0) {
      dup2(devnull, 0);
    }
    if (out_fd >= 0) dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  if (devnull >= 0) close(devnull);
  return pid;
}

pid_t Spawn(const std::vector<std::string>& args, int out_fd, int err_fd, int in_fd = -1) {
  struct Job {
    const std::vector<std::string>* args;
    int out_fd, err_fd, in_fd;
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
          j->pid = ForkExec(*j->args, j->in_fd, j->out_fd, j->err_fd);
          j->done = true;
        }
        jobs->clear();
        cv->notify_all();
      }
    }).detach();
  });
  Job job{&args, out_fd, err_fd, in_fd};
  std::unique_lock<std::mutex> lock(*mu);
  jobs->push_back(&job);
  cv->notify_all();
  cv->wait(lock, [&] { return job.done; });
  return job.pid;
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

Status CheckKvm(const std::string& device) {
  int fd = open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::IOError(fmt::format("cannot use KVM: {}: {}", device, std::strerror(errno)));
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    int e = errno;
    close(fd);
    return Status::IOError(version < 0 ? fmt::format("cannot use KVM: {} is not a KVM device ({})", device,
                                                         std::strerror(e))
                                           : fmt::format("cannot use KVM: {} speaks KVM API {}, not {}", device,
                                                         version, KVM_API_VERSION));
  }
  int vm = ioctl(fd, KVM_CREATE_VM, 0);
  int e = errno;
  close(fd);
  if (vm < 0) return Status::IOError(fmt::format("cannot use KVM: {}: cannot create a VM: {}", device, std::strerror(e)));
  close(vm);
  return Status::OK();
}

Status CheckVmOptions(const VmOptions& o) {
  if (!o.hidden.empty()) {
    if (o.rootfs != "9p") return Status::InvalidArgument("files are hidden from the guest only with --rootfs 9p");
    if (geteuid() != 0) return Status::InvalidArgument("hiding files from the guest needs root (unshare --mount)");
  }
  if (o.run_uid >= 0) {
    if (o.rootfs != "9p") return Status::InvalidArgument("QEMU runs as another user only with --rootfs 9p");
    if (geteuid() != 0) return Status::InvalidArgument("running QEMU as another user needs root");
    if (o.run_gid < 0) return Status::InvalidArgument("running QEMU as another user needs its group too");
  }
  if (access(o.kernel.c_str(), R_OK) != 0)
    return Status::NotFound(fmt::format("cannot read the kernel {}: {}", o.kernel, std::strerror(errno)));
  if (!o.modules_dir.empty()) {
    struct stat st {};
    if (stat(o.modules_dir.c_str(), &st) != 0)
      return Status::NotFound(fmt::format("--modules {}: {}", o.modules_dir, std::strerror(errno)));
    if (!S_ISDIR(st.st_mode))
      return Status::NotFound(fmt::format("--modules {}: {}", o.modules_dir, std::strerror(ENOTDIR)));
  }
  if (o.accel == "kvm") {
    Status kvm = CheckKvm(o.kvm_device);
    if (!kvm.ok()) return Status::IOError(fmt::format("--accel kvm: {} (--accel tcg or auto runs without it)", kvm.message()));
  }
  return Status::OK();
}

std::string ProbeAccel(const std::string& kernel, const std::string& initramfs, std::string* why) {
  if (Status kvm = CheckKvm(); !kvm.ok()) {
    *why = std::string(kvm.message());
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
  auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  bool ok = false;
  while (SteadyClock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    int ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count());
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

namespace {

SupervisorOptions SupervisorOptionsOf(const VmOptions& o) {
  SupervisorOptions s;
  s.fatal_grace = o.fatal_grace;
  s.hang_timeout = o.hang_timeout;
  s.report_quiet = o.report_quiet;
  return s;
}

}  // namespace

VmRunner::VmRunner(VmOptions options)
    : options_(std::move(options)), supervisor_(SupervisorOptionsOf(options_), SystemClock::Get(), *this) {}

VmRunner::~VmRunner() { Shutdown(); }

Status VmRunner::Start() {
  // QEMU's and virtiofsd's sockets are made there: a Unix socket's path
  // holds 107 bytes ("vfs-9999.sock" and the slash: 14 of them).
  if (constexpr size_t kRoom = sizeof(sockaddr_un{}.sun_path) - 1 - 14; options_.work_dir.size() > kRoom) {
    return Status::InvalidArgument(fmt::format(
        "the VM's directory {} is too long for its sockets ({} bytes, at most {}): give a shorter --vm-dir",
        SanitizeForTerminal(options_.work_dir), options_.work_dir.size(), kRoom));
  }
  std::error_code ec;
  // A failure shows below: the console log cannot be opened.
  fs::create_directories(options_.work_dir, ec);
  if (Status ok = CheckVmOptions(options_); !ok.ok()) return ok;
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
  if (options_.run_uid >= 0) {
    // QEMU as another user: its sockets, and the initramfs it reads, in a
    // directory of that user's (vigil's own may be out of its reach).
    // Named with this vigil's pid: those of a vigil that is gone (killed
    // before its VM ended) are removed first.
    for (const auto& e : fs::directory_iterator("/tmp", ec)) {
      int pid = 0;
      std::string name = e.path().filename().string();
      if (sscanf(name.c_str(), "vigil-qemu-%d-", &pid) == 1 && pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
        std::error_code rm;
        fs::remove_all(e.path(), rm);
      }
    }
    ec.clear();
    std::string tmpl = fmt::format("/tmp/vigil-qemu-{}-XXXXXX", getpid());
    if (mkdtemp(tmpl.data()) == nullptr) return Status::IOError(fmt::format("mkdtemp: {}", std::strerror(errno)));
    qemu_dir_ = tmpl;
    std::string img = qemu_dir_ + "/initramfs.img";
    fs::copy_file(initramfs_, img, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IOError(fmt::format("cannot copy the initramfs to {}: {}", img, ec.message()));
    auto uid = static_cast<uid_t>(options_.run_uid);
    auto gid = static_cast<gid_t>(options_.run_gid);
    if (chown(qemu_dir_.c_str(), uid, gid) != 0 || chown(img.c_str(), uid, gid) != 0) {
      return Status::IOError(fmt::format("cannot give {} to uid {}: {}", qemu_dir_, uid, std::strerror(errno)));
    }
    qemu_initramfs_ = img;
  } else {
    qemu_initramfs_ = initramfs_;
  }
  if (options_.accel == "auto") {
    std::string why;
    accel_ = ProbeAccel(options_.kernel, initramfs_, &why);
    notes_.push_back(fmt::format("accelerator: {} ({})", accel_, why));
  } else {
    accel_ = options_.accel;
  }
  console_log_ = options_.work_dir + "/console.log";
  console_file_ = open(console_log_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (console_file_ < 0)
    return Status::IOError(fmt::format("cannot write {}: {}", console_log_, std::strerror(errno)));
  watchdog_ = std::thread([this] {
    while (!stopping_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::optional<Supervisor::SysrqAsk> ask;
      std::string qmp;
      int serial = -1;  // a copy: the VM may end meanwhile
      {
        std::lock_guard<std::mutex> lock(mu_);
        ask = supervisor_.Tick();
        qmp = qmp_path_;
        if (ask && serial_in_ >= 0) serial = fcntl(serial_in_, F_DUPFD_CLOEXEC, 0);
      }
      if (!ask) continue;
      // The VM hangs: sysrq through QMP takes seconds, the console keeps flowing.
      std::string how = SendSysrq(qmp, serial, ask->keys, [this] {
        std::lock_guard<std::mutex> lock(mu_);
        return supervisor_.SysrqHeard();
      });
      if (serial >= 0) close(serial);
      std::lock_guard<std::mutex> lock(mu_);
      supervisor_.SysrqSent(*ask, how);
    }
  });
  return EnsureUp();
}

bool VmRunner::Stopping() const { return options_.cancel && options_.cancel->stopping(); }

Status VmRunner::EnsureUp() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (up_) return Status::OK();
  }
  if (boot_failed_) return *boot_failed_;
  if (Stopping()) return Status::IOError("stopping: no VM booted");
  Status last;
  for (int attempt = 0; attempt <= options_.boot_retries; ++attempt) {
    last = BootOnce();
    if (last.ok()) return last;
    notes_.push_back(last.message());
    if (Stopping()) return last;  // not tried again, nor remembered as failed
  }
  boot_failed_ = Status::IOError(
      fmt::format("the VM could not be booted ({} tries): {}", options_.boot_retries + 1, last.message()));
  return *boot_failed_;
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
  }
  std::string dir = options_.work_dir;
  std::string sockets = qemu_dir_.empty() ? dir : qemu_dir_;  // where QEMU can make them
  std::string vfs_sock = fmt::format("{}/vfs-{}.sock", dir, gen);
  std::string ch_sock = fmt::format("{}/ch-{}.sock", sockets, gen);
  std::string err_path = fmt::format("{}/qemu-{}.err", dir, gen);
  std::string qmp_sock = fmt::format("{}/qmp-{}.sock", sockets, gen);
  unlink(qmp_sock.c_str());
  unlink(vfs_sock.c_str());
  unlink(ch_sock.c_str());
  auto start = SteadyClock::now();
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
  QemuBoot boot{accel_, rootfs_, qemu_initramfs_, vfs_sock, ch_sock, qmp_sock};
  std::vector<std::string> args = QemuArgv(options_, boot);
  if (!options_.hidden.empty() || options_.run_uid >= 0) {
    int kvm_gid = -1;
    struct stat kvm {};
    // The device's group, when that group may use it and is not root's
    // (which would open every file root's group can read to the guest).
    if (options_.run_uid >= 0 && accel_ == "kvm" && stat(options_.kvm_device.c_str(), &kvm) == 0 &&
        kvm.st_gid != 0 && (kvm.st_mode & S_IRGRP) && (kvm.st_mode & S_IWGRP)) {
      kvm_gid = static_cast<int>(kvm.st_gid);
    }
    std::vector<std::string> hide = HidingArgv(options_.hidden, options_.run_uid, options_.run_gid, kvm_gid);
    args.insert(args.begin(), hide.begin(), hide.end());
  }

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    KillAndReap(vfsd);
    return Status::IOError("pipe failed");
  }
  // The serial line's input: QEMU's standard input (-serial stdio), kept
  // open for sysrq keys; without it the VM still runs, with /dev/null. A
  // socket, not a pipe: a key written after QEMU died fails the write
  // (WriteAll's MSG_NOSIGNAL) instead of raising SIGPIPE, which ends vigil.
  int serial_in[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, serial_in) != 0) serial_in[0] = serial_in[1] = -1;
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t qemu = Spawn(args, fds[1], err, serial_in[0]);
  close(fds[1]);
  if (serial_in[0] >= 0) close(serial_in[0]);
  if (err >= 0) close(err);
  if (qemu < 0) {
    if (serial_in[1] >= 0) close(serial_in[1]);
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
    if (serial_in_ >= 0) close(serial_in_);
    serial_in_ = serial_in[1];
    qmp_path_ = qmp_sock;
    up_ = true;
    booting_ = true;
    supervisor_.VmStarted();
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
  // In slices: a run being stopped (SIGTERM) gives the boot up at once.
  bool ok = false;
  bool stopped = false;
  const auto boot_deadline = SteadyClock::now() + options_.boot_timeout;
  while (!(ok = hello_ || !up_ || generation_ != gen) && SteadyClock::now() < boot_deadline) {
    if ((stopped = Stopping())) break;
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  booting_ = false;
  if (ok && hello_ && up_) {
    double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
    if (boots_ == 1) first_boot_seconds_ = secs;
    return Status::OK();
  }
  std::string why = stopped ? std::string("stopped while the VM booted")
                   : !ok  ? fmt::format("no answer from the guest in {} s", options_.boot_timeout.count())
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
    std::lock_guard<std::mutex> lock(mu_);
    console_tail_.append(chunk);
    if (console_tail_.size() > 8192) console_tail_.erase(0, console_tail_.size() - 4096);
    supervisor_.OnConsole(chunk);
  }
  close(fd);
  {
    std::lock_guard<std::mutex> lock(mu_);
    supervisor_.ConsoleClosed();
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
    for (Frame& f : frames) {
      if (f.type != FrameType::kHello) continue;
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
        environment_.kernel_config =
            runner::KernelConfigHash(environment_.kernel_release, dir.empty() ? "." : dir);
      }
      hello_ = true;
      cv_.notify_all();
    }
    supervisor_.OnChannel(frames);
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
    if (serial_in_ >= 0) close(serial_in_);
    serial_in_ = -1;
  }
  // The console closed: QEMU is gone or going. Reap it before anyone hears.
  KillAndReap(qemu);
  auto gone = SystemClock::Get().Monotonic();
  if (ch >= 0) shutdown(ch, SHUT_RDWR);
  KillAndReap(vfsd);
  if (ch >= 0) close(ch);
  std::lock_guard<std::mutex> lock(mu_);
  up_ = false;
  supervisor_.VmGone(why, gone);
}

Result<sys::ProcessResult> VmRunner::Run(const sys::ProcessOptions& options, sys::OutputSink* sink) {
  // Boots are one at a time; a crashed VM is replaced before the next test.
  static std::mutex boot_mu;
  std::unique_lock<std::mutex> lock(mu_, std::defer_lock);
  for (int waits = 0;; ++waits) {
    {
      std::lock_guard<std::mutex> boot(boot_mu);
      Status st = EnsureUp();
      if (!st.ok()) return st;
    }
    lock.lock();
    // A VM on its way out (a panic read, a hang being dumped) would end a
    // test begun now with it, as if that test had crashed or hung: wait
    // for it to go, then boot the next.
    const bool stopping = options.cancel && options.cancel->stopping();
    if (!up_ || !supervisor_.dying() || waits >= 3 || stopping) break;
    const int gen = generation_;
    const auto until = SteadyClock::now() + std::chrono::seconds(60);
    while (up_ && generation_ == gen && SteadyClock::now() < until && !(options.cancel && options.cancel->stopping())) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    lock.unlock();
  }
  auto start = SteadyClock::now();
  if (!up_ || channel_fd_ < 0) return Status::IOError("the VM is not running");
  // The guest ends the test at its timeout; a VM that has not sent its end
  // well after that is wedged (hard lockup, a task stuck in D state), even
  // when nothing asked for hang detection.
  std::chrono::milliseconds deadline(0);
  if (options.timeout.count() > 0) {
    deadline = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout + options.kill_grace) +
               std::chrono::milliseconds(60000) +
               std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout) / 4;
  }
  uint32_t id = supervisor_.Begin(sink, options.max_output_bytes, deadline);
  if (!WriteAll(channel_fd_, EncodeFrame(FrameType::kRequest, id, DumpJson(OptionsToJson(options))))) {
    supervisor_.Abandon(id);
    return Status::IOError("cannot write to the VM's results channel");
  }
  // A cancelled run (options.cancel) ends the VM: QEMU is killed, which
  // ends every program in the guest; virtiofsd goes with it (VmEnded).
  bool cancelled = false;
  while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return supervisor_.Done(id); })) {
    if (!cancelled && options.cancel && options.cancel->stopping()) {
      cancelled = true;
      KillQemu();
    }
  }
  sys::ProcessResult r = supervisor_.Take(id);
  if (cancelled || (r.vm_died && options.cancel && options.cancel->stopping())) r.cancelled = true;
  if (r.vm_died || r.timed_out) {
    r.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
  }
  // The output went to the sink as it came; keep its tail for the summary.
  return r;
}

std::vector<console::Report> VmRunner::reports() const {
  std::lock_guard<std::mutex> lock(mu_);
  return supervisor_.reports();
}

void VmRunner::Shutdown() {
  if (stopping_.exchange(true)) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (up_ && channel_fd_ >= 0) {
      // Unheard, it changes nothing: QEMU is killed below after the wait.
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
  if (serial_in_ >= 0) {
    close(serial_in_);
    serial_in_ = -1;
  }
  if (!qemu_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(qemu_dir_, ec);
    qemu_dir_.clear();
  }
}

}  // namespace vigil::vm
