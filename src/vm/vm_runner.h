// Runs a test plan's programs inside a QEMU VM booting the kernel under
// test. The host's root is shared read-only (virtiofsd, or virtio-9p), the
// guest side is vigil itself (vm/guest.h) and results travel on a
// virtio-serial port of their own (vm/channel.h). The console (ttyS0) is
// captured whole to a log and fed live to the crash detector: a fatal report
// kills QEMU at once (after a short grace for the rest of the report), the
// programs running get CRASH with the report, and the next program boots a
// fresh VM. Non-fatal reports go to the programs running when they started.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "console/detector.h"
#include "model/records.h"
#include "sys/process.h"
#include "vm/supervisor.h"
#include "vm/vm_options.h"

namespace vigil::vm {

// Whether `device` is a KVM this process can use: it opens read-write, it
// answers KVM_GET_API_VERSION with KVM_API_VERSION, and it creates a VM.
// The error names the device and what failed.
Status CheckKvm(const std::string& device = "/dev/kvm");

// What can be known wrong before a boot: the kernel unreadable, --modules
// not a directory, --accel kvm without a usable KVM (options.kvm_device).
Status CheckVmOptions(const VmOptions& options);

// "auto": starts a tiny VM with KVM and a short deadline; TCG when it fails.
// Sets *why to what was seen.
std::string ProbeAccel(const std::string& kernel, const std::string& initramfs, std::string* why);

// The threads and the I/O of a VM run: QEMU and virtiofsd, the console, the
// results channel and a watchdog; what they see goes to a Supervisor
// (vm/supervisor.h), which decides.
class VmRunner : public sys::ProcessRunner, private SupervisorActions {
 public:
  explicit VmRunner(VmOptions options);
  ~VmRunner() override;

  // Prepares the initramfs, picks the accelerator and boots the first VM.
  Status Start();
  Result<sys::ProcessResult> Run(const sys::ProcessOptions& options, sys::OutputSink* sink) override;
  // Asks the guest to finish and waits for QEMU to end.
  void Shutdown();

  const model::Environment& environment() const { return environment_; }
  const std::string& console_log() const { return console_log_; }
  const std::string& accel() const { return accel_; }
  const std::vector<std::string>& notes() const { return notes_; }
  int boots() const { return boots_; }
  double first_boot_seconds() const { return first_boot_seconds_; }
  // For each fatal report: ms from its first line on the console to QEMU gone.
  std::vector<double> fatal_to_gone_ms() const {
    std::lock_guard<std::mutex> lock(mu_);
    return supervisor_.fatal_to_gone_ms();
  }
  // Every kernel report seen, in order (for the run's summary).
  std::vector<console::Report> reports() const;

 private:
  Status BootOnce();
  Status EnsureUp();
  void ConsoleLoop(int fd, int generation);
  void ChannelLoop(int fd, int generation);
  void VmEnded(int generation, const std::string& why);
  void KillQemu();
  bool Stopping() const;  // options_.cancel raised
  // SupervisorActions, called with mu_ held.
  void KillVm() override { KillQemu(); }
  void VmHung() override { up_ = false; }
  void Wake() override { cv_.notify_all(); }

  VmOptions options_;
  std::string initramfs_;
  std::string qemu_initramfs_;  // the one QEMU reads: a copy in qemu_dir_ when it runs as another user
  std::string qemu_dir_;        // QEMU's sockets when it runs as another user; removed at the end
  std::string accel_;
  std::string rootfs_;
  std::string console_log_;
  std::vector<std::string> notes_;
  // Set when a VM could not be booted again after its retries: every later
  // test fails at once with it instead of trying again (3 boots of up to
  // minutes each, for every test left).
  std::optional<Status> boot_failed_;
  model::Environment environment_;
  int boots_ = 0;
  double first_boot_seconds_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool up_ = false;
  bool booting_ = false;
  bool hello_ = false;
  int generation_ = 0;
  pid_t qemu_pid_ = -1;
  pid_t virtiofsd_pid_ = -1;
  int channel_fd_ = -1;
  int serial_in_ = -1;  // QEMU's standard input: the serial line's input (sysrq keys)
  std::string qmp_path_;
  int console_file_ = -1;
  std::string qemu_stderr_;
  std::string console_tail_;
  Supervisor supervisor_;  // guarded by mu_
  std::vector<std::thread> threads_;
  std::thread watchdog_;
  std::atomic<bool> stopping_{false};
};

}  // namespace vigil::vm
