#include "base/kernel_modules.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace vigil {

namespace fs = std::filesystem;

std::string KernelModuleName(const std::string& file_or_name) {
  size_t ko = file_or_name.find(".ko");
  std::string name = ko == std::string::npos ? file_or_name : file_or_name.substr(0, ko);
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

std::map<std::string, std::string> IndexModules(const std::string& modules_dir) {
  std::map<std::string, std::string> out;
  if (modules_dir.empty()) return out;
  std::error_code ec;
  // A module that is a link out of the tree is not taken: the tree may have
  // been written by a stranger's build, and what it names is copied into the
  // VM's initramfs by vigil, which may read more than that build could.
  std::string root = fs::weakly_canonical(modules_dir, ec).string() + "/";
  for (auto it = fs::recursive_directory_iterator(modules_dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (it->is_symlink(ec)) {
      std::error_code ec2;
      std::string target = fs::canonical(it->path(), ec2).string();
      if (ec2 || target.rfind(root, 0) != 0) continue;
    }
    std::string name = it->path().filename().string();
    for (const char* ext : {".ko", ".ko.xz", ".ko.zst", ".ko.gz"}) {
      size_t n = std::strlen(ext);
      if (name.size() > n && name.compare(name.size() - n, n, ext) == 0) {
        auto [pos, inserted] = out.emplace(KernelModuleName(name), it->path().string());
        if (!inserted && std::strcmp(ext, ".ko") == 0) pos->second = it->path().string();
      }
    }
  }
  return out;
}

std::set<std::string> BuiltinModules(const std::string& modules_dir) {
  std::set<std::string> out;
  std::ifstream b(modules_dir + "/modules.builtin");
  for (std::string l; std::getline(b, l);) out.insert(KernelModuleName(fs::path(l).filename().string()));
  return out;
}

}  // namespace vigil
