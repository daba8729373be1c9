// What a VM for the tests is made of and how it is watched (vm/vm_runner.h).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace vigil::sys {
class Cancellation;
}

namespace vigil::vm {

struct VmOptions {
  std::string kernel;       // bzImage / vmlinuz
  std::string modules_dir;  // lib/modules/<release>; "" for none
  std::string accel = "auto";  // auto | kvm | tcg
  std::string kvm_device = "/dev/kvm";
  int cpus = 2;
  std::string memory = "2G";
  std::string append;       // more kernel command line
  bool panic_on_warn = false;
  bool panic_on_oops = false;
  std::string rootfs = "auto";  // auto | virtiofs | 9p
  std::string vigil_binary;     // the guest side (this binary, seen through the share)
  std::string guest_path;       // PATH in the guest
  std::string tests_dir;        // visible in the guest at the same path
  std::string work_dir;         // sockets, console log
  std::string cache_dir;        // initramfs images
  // Files the guest must not read through the root file system it shares
  // (a Patchwork token, the store): QEMU runs in a mount namespace of its
  // own where each reads as empty (needs root: unshare --mount). 9p only:
  // virtiofsd would serve the host's own view.
  std::vector<std::string> hidden;
  // QEMU runs as this user (-1: as vigil): the guest, whose root is mapped
  // to QEMU's own rights on the 9p share, reads only what that user can
  // (not /etc/shadow, not root's keys), as a sandboxed host test would.
  // Needs root and 9p, as `hidden` does; the sockets and the initramfs then
  // live in a directory of that user's.
  int run_uid = -1;
  int run_gid = -1;
  std::chrono::seconds boot_timeout{180};
  int boot_retries = 2;
  // When raised, a boot (the first, or after a crash) is given up at once
  // and not tried again. Not owned.
  const sys::Cancellation* cancel = nullptr;
  std::chrono::milliseconds fatal_grace{100};
  std::chrono::seconds hang_timeout{0};  // no console or result output for this long: hang
  std::chrono::milliseconds report_quiet{300};  // console silence that completes a report
};

}  // namespace vigil::vm
