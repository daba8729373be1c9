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
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "console/detector.h"
#include "sys/process.h"
#include "model/records.h"
#include "vm/vm_options.h"

namespace vigil::vm {

// "auto": starts a tiny VM with KVM and a short deadline; TCG when it fails.
// Sets *why to what was seen.
std::string ProbeAccel(const std::string& kernel, const std::string& initramfs, std::string* why);

class VmRunner : public sys::ProcessRunner {
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
    return fatal_to_gone_ms_;
  }
  // Every kernel report seen, in order (for the run's summary).
  std::vector<console::Report> reports() const;

 private:
  struct Pending;
  Status BootOnce();
  Status EnsureUp();
  void ConsoleLoop(int fd, int generation);
  void ChannelLoop(int fd, int generation);
  void OnReport(console::Detector::Event e, const console::Report& r);
  void VmEnded(int generation, const std::string& why);
  void KillQemu();

  VmOptions options_;
  std::string initramfs_;
  std::string accel_;
  std::string rootfs_;
  std::string console_log_;
  std::vector<std::string> notes_;
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
  std::string qmp_path_;
  int console_file_ = -1;
  std::string qemu_stderr_;
  std::string console_tail_;
  uint32_t next_id_ = 1;
  std::map<uint32_t, Pending*> pending_;
  std::vector<uint32_t> report_tests_;  // running when the open report started
  std::vector<console::Report> all_reports_;
  std::unique_ptr<console::Detector> detector_;
  std::mutex detector_mu_;  // Feed (console thread) vs Quiet (watchdog)
  bool report_open_ = false;
  std::chrono::steady_clock::time_point last_console_;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point kill_deadline_{};
  std::chrono::steady_clock::time_point fatal_seen_{};
  std::vector<double> fatal_to_gone_ms_;
  std::vector<std::thread> threads_;
  std::thread watchdog_;
  std::atomic<bool> stopping_{false};
};

}  // namespace vigil::vm
