#include "engine/machine.h"

#include <fmt/format.h>

#include "runner/environment.h"
#include "sys/cgroup.h"
#include "vm/vm_runner.h"

namespace vigil::engine {
namespace {

class HostMachine final : public Machine {
 public:
  explicit HostMachine(std::string path) : path_(std::move(path)) {}
  sys::ProcessRunner* runner() override { return nullptr; }
  model::Environment DetectEnvironment() override { return runner::DetectHostEnvironment(path_); }
  bool is_vm() const override { return false; }

 private:
  std::string path_;
};

class VmMachine final : public Machine {
 public:
  explicit VmMachine(std::unique_ptr<vm::VmRunner> vm) : vm_(std::move(vm)) {}
  sys::ProcessRunner* runner() override { return vm_.get(); }
  model::Environment DetectEnvironment() override { return vm_->environment(); }
  bool is_vm() const override { return true; }
  std::string console_log() const override { return vm_->console_log(); }
  std::string accel() const override { return vm_->accel(); }
  std::vector<std::string> Notes() const override {
    std::vector<std::string> out;
    for (double ms : vm_->fatal_to_gone_ms()) out.push_back(fmt::format("vm: fatal kernel report: QEMU gone {:.0f} ms after its first line", ms));
    if (vm_->boots() > 1) out.push_back(fmt::format("vm: {} boots (a fresh VM after each crash or hang)", vm_->boots()));
    return out;
  }

 private:
  std::unique_ptr<vm::VmRunner> vm_;
};

std::string CacheDir() {
  const char* xdg = getenv("XDG_CACHE_HOME");
  const char* home = getenv("HOME");
  return xdg && *xdg ? std::string(xdg) + "/vigil" : std::string(home && *home ? home : "/tmp") + "/.cache/vigil";
}

}  // namespace

Result<std::unique_ptr<Machine>> LaunchMachine(const MachineRequest& req,
                                               const std::function<void(const std::string&)>& note) {
  if (!req.vm) {
    if (req.use_cgroups) {
      int stale = sys::TestCgroup::CleanStale();
      if (stale > 0) note(fmt::format("killed {} processes left by an interrupted vigil", stale));
      // Said once, not found out test by test: without cgroups a daemon a
      // test started outlives it.
      if (std::string why = sys::TestCgroup::Unusable(); !why.empty()) {
        note(fmt::format("tests are not put in cgroups ({}): a process a test leaves running outside its process "
                         "group is not killed at its end (--no-cgroup: process groups only, without this note)",
                         why));
      }
    }
    return std::unique_ptr<Machine>(new HostMachine(req.guest_path));
  }
  const model::VmSpec& spec = *req.vm;
  vm::VmOptions vo;
  vo.kernel = spec.kernel;
  vo.modules_dir = spec.modules;
  vo.accel = spec.accel;
  vo.rootfs = spec.rootfs;
  vo.cpus = spec.cpus;
  vo.memory = spec.memory;
  vo.append = spec.append;
  vo.panic_on_warn = spec.panic_on_warn();
  vo.panic_on_oops = spec.panic_on_oops();
  vo.vigil_binary = sys::SelfExe();
  vo.guest_path = req.guest_path;
  vo.tests_dir = req.tests_dir;
  vo.work_dir = req.work_dir;
  vo.cache_dir = CacheDir();
  vo.hidden = req.hidden;
  vo.run_uid = req.run_uid;
  vo.run_gid = req.run_gid;
  vo.cancel = req.cancel;
  if (spec.hang_timeout > 0) vo.hang_timeout = std::chrono::seconds(spec.hang_timeout);
  // What is known wrong before a boot is said once, without booting.
  if (Status st = vm::CheckVmOptions(vo); !st.ok()) return Status(Status::InvalidArgument(st.message()));
  auto vm = std::make_unique<vm::VmRunner>(vo);
  note(fmt::format("booting {} in QEMU{}", vo.kernel, vo.modules_dir.empty() ? "" : " with modules from " + vo.modules_dir));
  Status st = vm->Start();
  for (const auto& n : vm->notes()) note(fmt::format("vm: {}", n));
  if (!st.ok()) return Status(Status::InvalidArgument(fmt::format("the VM did not boot: {}", st.message())));
  note(fmt::format("vm: {} up in {:.1f} s ({}), kernel {}, console {}", vm->environment().uname,
                   vm->first_boot_seconds(), vm->accel(), vm->environment().kernel_release, vm->console_log()));
  return std::unique_ptr<Machine>(new VmMachine(std::move(vm)));
}

}  // namespace vigil::engine
