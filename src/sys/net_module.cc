#include "sys/net_module.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "sys/process.h"

namespace vigil::sys {
namespace {

struct Loaded {
  void* handle = nullptr;
  Status status;
};

const Loaded& Module() {
  static Loaded loaded;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string path = NetModulePath();
    // RTLD_NOW: a module from another build fails here, with the missing
    // symbol named, rather than in the middle of a command.
    loaded.handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!loaded.handle) {
      const char* why = dlerror();
      loaded.status = Status::IOError(fmt::format(
          "cannot load vigil's network module {} (needed for HTTP, SMTP, PostgreSQL and vigil serve; it is built "
          "with vigil and must stay beside it): {}",
          path, why ? why : "unknown error"));
    }
  });
  return loaded;
}

}  // namespace

std::string NetModulePath() {
  return (std::filesystem::path(SelfExe()).parent_path() / "vigil-net.so").string();
}

Result<void*> NetSymbol(const char* name) {
  const Loaded& m = Module();
  if (!m.handle) return m.status;
  dlerror();
  void* p = dlsym(m.handle, name);
  if (!p) {
    const char* why = dlerror();
    return Status::IOError(fmt::format("vigil's network module {} has no {}: {}", NetModulePath(), name,
                                       why ? why : "not found"));
  }
  return p;
}

}  // namespace vigil::sys
