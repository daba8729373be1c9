// What a VM run boots: the kernel under test and how QEMU runs it. Stored
// with the run (versioned JSON) so that `vigil run --resume` boots the same.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"

namespace vigil::model {

struct VmSpec {
  static constexpr int kVersion = 1;

  std::string kernel;   // absolute path of the bzImage / vmlinuz
  std::string modules;  // absolute lib/modules/<release>, "" for none
  std::string accel = "auto";   // auto | kvm | tcg
  std::string rootfs = "auto";  // auto | virtiofs | 9p
  int cpus = 2;
  std::string memory = "2G";
  std::string append;
  std::string panic_on;  // "", "warn", "oops", "warn,oops"
  int hang_timeout = 0;  // seconds, 0: off
  // Set only when the user chose it: a resumed run keeps it.
  std::optional<double> slowdown;

  bool panic_on_warn() const { return panic_on.find("warn") != std::string::npos; }
  bool panic_on_oops() const { return panic_on.find("oops") != std::string::npos; }

  // {"version": 1, "kernel": ..., ...}.
  std::string ToJson() const;
  // Reads what ToJson wrote, and the unversioned JSON of schema-5 stores;
  // Corruption when it is not a JSON object, InvalidArgument for a newer version.
  static Result<VmSpec> FromJson(const std::string& json);
};

}  // namespace vigil::model
