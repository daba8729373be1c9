// A kernel's module tree (lib/modules/RELEASE of an unpacked package), as
// the VM runner (boot modules) and the stack decoder (a frame's .ko) read it.
#pragma once

#include <map>
#include <set>
#include <string>

namespace vigil {

// "nf-nat.ko.xz" or "nf-nat" -> "nf_nat": the kernel treats - and _ alike.
std::string KernelModuleName(const std::string& file_or_name);

// Every module file of the tree by name (.ko, .ko.xz, .ko.zst, .ko.gz); an
// uncompressed .ko wins over a compressed copy of the same module.
std::map<std::string, std::string> IndexModules(const std::string& modules_dir);

// The modules built into the kernel (the tree's modules.builtin).
std::set<std::string> BuiltinModules(const std::string& modules_dir);

}  // namespace vigil
