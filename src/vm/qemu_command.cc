#include "vm/qemu_command.h"

#include <filesystem>

#include <fmt/format.h>

namespace vigil::vm {

std::string KernelCommandLine(const VmOptions& options, const std::string& rootfs) {
  std::string cmdline = "console=ttyS0 panic=-1 sysrq_always_enabled";
  if (options.panic_on_warn) cmdline += " panic_on_warn=1";
  if (options.panic_on_oops) cmdline += " oops=panic";
  cmdline += fmt::format(" vigil.bin={} vigil.rootfs={} vigil.path={}", options.vigil_binary, rootfs,
                         options.guest_path);
  if (!options.modules_dir.empty()) cmdline += " vigil.modules=" + options.modules_dir;
  // Kept visible in the guest even when they live under /tmp, /root, ...
  std::vector<std::string> keep = {std::filesystem::path(options.vigil_binary).parent_path().string()};
  if (!options.tests_dir.empty()) keep.push_back(options.tests_dir);
  if (!options.modules_dir.empty()) keep.push_back(options.modules_dir);
  std::string keep_arg;
  for (const auto& k : keep) keep_arg += (keep_arg.empty() ? "" : ",") + k;
  cmdline += " vigil.keep=" + keep_arg;
  if (!options.append.empty()) cmdline += " " + options.append;
  return cmdline;
}

std::vector<std::string> QemuArgv(const VmOptions& options, const QemuBoot& boot) {
  const std::string& mem = options.memory;
  std::vector<std::string> args = {"qemu-system-x86_64", "-accel", boot.accel, "-m", mem, "-smp",
                                   std::to_string(options.cpus), "-display", "none", "-no-reboot",
                                   "-serial", "stdio", "-monitor", "none", "-nic", "none"};
  if (boot.accel == "kvm") args.insert(args.end(), {"-cpu", "host"});
  if (boot.rootfs == "virtiofs") {
    args.insert(args.end(), {"-object", fmt::format("memory-backend-memfd,id=mem,size={},share=on", mem),
                             "-numa", "node,memdev=mem", "-chardev",
                             fmt::format("socket,id=vfs,path={}", boot.virtiofs_socket), "-device",
                             "vhost-user-fs-pci,chardev=vfs,tag=vigilroot"});
  } else {
    args.insert(args.end(), {"-fsdev", "local,id=fs0,path=/,security_model=none,readonly=on", "-device",
                             "virtio-9p-pci,fsdev=fs0,mount_tag=vigilroot"});
  }
  args.insert(args.end(), {"-qmp", fmt::format("unix:{},server=on,wait=off", boot.qmp_socket)});
  args.insert(args.end(), {"-device", "virtio-serial-pci", "-chardev",
                           fmt::format("socket,id=ch,path={},server=on,wait=off", boot.channel_socket),
                           "-device", "virtserialport,chardev=ch,name=vigil"});
  args.insert(args.end(), {"-kernel", options.kernel, "-initrd", boot.initramfs, "-append",
                           KernelCommandLine(options, boot.rootfs)});
  return args;
}

std::vector<std::string> VirtiofsdArgv(const std::string& socket) {
  return {"/usr/lib/qemu/virtiofsd", "--socket-path=" + socket, "-o", "source=/", "-o", "cache=always",
          "-o", "sandbox=chroot"};
}

std::vector<std::string> HidingArgv(const std::vector<std::string>& hidden, int run_uid, int run_gid, int kvm_gid) {
  std::vector<std::string> argv = {
      "unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
      "while [ \"$1\" != -- ]; do mount --bind -o ro /dev/null \"$1\" || exit 125; shift; done; shift; exec \"$@\"",
      "vigil-hide"};
  argv.insert(argv.end(), hidden.begin(), hidden.end());
  argv.push_back("--");
  if (run_uid >= 0) {
    argv.insert(argv.end(), {"setpriv", fmt::format("--reuid={}", run_uid), fmt::format("--regid={}", run_gid),
                             kvm_gid >= 0 ? fmt::format("--groups={}", kvm_gid) : std::string("--clear-groups"),
                             "--"});
  }
  return argv;
}

std::vector<std::string> ProbeQemuArgv(const std::string& kernel, const std::string& initramfs) {
  return {"qemu-system-x86_64", "-accel", "kvm", "-m", "256", "-smp", "1", "-display", "none",
          "-no-reboot", "-serial", "stdio", "-monitor", "none", "-nic", "none", "-kernel", kernel,
          "-initrd", initramfs, "-append", "console=ttyS0 panic=-1 vigil.probe=1"};
}

}  // namespace vigil::vm
