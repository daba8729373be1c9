#include "runner/environment.h"

#include <fstream>
#include <sstream>

#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <future>

#include <fmt/format.h>

#include "base/hash.h"
#include "sys/process.h"

namespace vigil::runner {

const std::vector<ToolProbe>& DefaultToolProbes() {
  static const std::vector<ToolProbe> probes = {
      {"ip", "-V"},          {"ss", "-V"},           {"tc", "-V"},
      {"iptables", "-V"},    {"nft", "-v"},          {"ethtool", "--version"},
      {"packetdrill", "--version"}, {"socat", "-V"}, {"tcpdump", "--version"},
  };
  return probes;
}

namespace {

bool ReadAll(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return static_cast<bool>(f) || f.eof();
}

}  // namespace

std::string KernelConfigHash(const std::string& release, const std::string& boot_dir) {
  std::string data, source;
  utsname u{};
  bool running = uname(&u) == 0 && release == u.release;
  if (running && ReadAll("/proc/config.gz", &data) && !data.empty()) {
    source = "proc";
  } else if (!release.empty() && ReadAll(boot_dir + "/config-" + release, &data) && !data.empty()) {
    source = "file";
  } else {
    return "";
  }
  return fmt::format("{}:{:016x}", source, Fnv1a(data));
}

model::Environment DetectHostEnvironment(const std::string& path) {
  model::Environment env;
  utsname u{};
  if (uname(&u) == 0) {
    env.kernel_release = u.release;
    env.uname = fmt::format("{} {} {} {}", u.sysname, u.release, u.version, u.machine);
    env.arch = u.machine;
  }
  env.cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  struct sysinfo si {};
  if (sysinfo(&si) == 0) env.memory_kb = static_cast<int64_t>(si.totalram) * si.mem_unit / 1024;
  env.where = "host";
  env.kernel_config = KernelConfigHash(env.kernel_release);
  // The probes run side by side: they are a fixed cost of every run.
  std::vector<std::future<std::pair<std::string, std::string>>> probes;
  for (const auto& probe : DefaultToolProbes()) {
    probes.push_back(std::async(std::launch::async, [probe, path]() -> std::pair<std::string, std::string> {
      sys::ProcessOptions o;
      o.argv = {probe.name, probe.flag};
      o.env = {"PATH=" + path, "LC_ALL=C"};
      o.timeout = std::chrono::milliseconds(3000);
      o.kill_grace = std::chrono::milliseconds(200);
      o.max_output_bytes = 4096;
      auto r = sys::RunProcess(o);
      if (!r.ok() || !r->status.exited() || r->status.exit_code() == 127) return {};
      std::string_view out = r->output;
      // The first line that mentions a version; else the first line.
      std::string_view pick;
      while (!out.empty()) {
        size_t nl = out.find('\n');
        std::string_view line = out.substr(0, nl);
        if (pick.empty() && !line.empty()) pick = line;
        if (line.find_first_of("0123456789") != std::string_view::npos) {
          pick = line;
          break;
        }
        if (nl == std::string_view::npos) break;
        out.remove_prefix(nl + 1);
      }
      return {probe.name, std::string(pick.substr(0, 200))};
    }));
  }
  for (auto& p : probes) {
    auto [name, version] = p.get();
    if (!name.empty() && !version.empty()) env.tools[name] = version;
  }
  return env;
}

}  // namespace vigil::runner
