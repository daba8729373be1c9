// The command lines of one VM boot, built from the options alone (no I/O):
// QEMU's, virtiofsd's and the kernel's, and the accelerator probe's.
#pragma once

#include <string>
#include <vector>

#include "vm/vm_options.h"

namespace vigil::vm {

// What one boot needs besides the options: the choices made and the paths.
struct QemuBoot {
  std::string accel;            // kvm | tcg
  std::string rootfs;           // virtiofs | 9p
  std::string initramfs;
  std::string virtiofs_socket;  // virtiofsd's socket (virtiofs only)
  std::string channel_socket;   // the results channel (vm/channel.h)
  std::string qmp_socket;       // QEMU's monitor (sysrq on a hang)
};

// The guest kernel's command line: serial console, no reboot on panic,
// sysrq, the panic_on_warn / oops=panic options, what the guest side of
// vigil needs (vigil.*) and options.append last.
std::string KernelCommandLine(const VmOptions& options, const std::string& rootfs);

// QEMU's argv for one boot, argv[0] included.
std::vector<std::string> QemuArgv(const VmOptions& options, const QemuBoot& boot);

// virtiofsd's argv: the host's root, shared at `socket`.
std::vector<std::string> VirtiofsdArgv(const std::string& socket);

// The accelerator probe's QEMU argv: a tiny KVM guest on the serial console.
// The argv prefix that runs QEMU with `hidden` (absolute paths) bound over
// by /dev/null in a mount namespace of its own: unshare(1) and sh exec into
// QEMU, so its pid stays the one vigil started. With run_uid >= 0, setpriv
// then makes QEMU that user and group (supplementary groups: only
// `kvm_gid`, when >= 0, for /dev/kvm).
std::vector<std::string> HidingArgv(const std::vector<std::string>& hidden, int run_uid = -1, int run_gid = -1,
                                    int kvm_gid = -1);

std::vector<std::string> ProbeQemuArgv(const std::string& kernel, const std::string& initramfs);

}  // namespace vigil::vm
