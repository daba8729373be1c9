#include "judge/environment_check.h"

#include <cctype>

#include <fmt/format.h>

namespace vigil::judge {

const std::vector<BadTool>& KnownBadTools() {
  static const std::vector<BadTool> kTools = {
      {"ss", "iproute2", "6.7.0",
       "ss of iproute2 6.7.0 prints socket information differently (a regression fixed in later releases): "
       "selftests that read ss output (MPTCP's among them) fail or skip"},
  };
  return kTools;
}

std::string PackageVersion(const std::string& line, const std::string& package) {
  size_t at = line.find(package + "-");
  if (at == std::string::npos) at = line.find(package + " ");
  if (at == std::string::npos) return "";
  size_t i = at + package.size() + 1;
  if (i < line.size() && (line[i] == 'v' || line[i] == 'V')) ++i;
  size_t b = i;
  while (i < line.size() && (std::isdigit(static_cast<unsigned char>(line[i])) || line[i] == '.')) ++i;
  std::string v = line.substr(b, i - b);
  while (!v.empty() && v.back() == '.') v.pop_back();
  return v;
}

std::vector<std::string> EnvironmentWarnings(const model::Environment& env) {
  std::vector<std::string> out;
  for (const BadTool& b : KnownBadTools()) {
    auto it = env.tools.find(b.tool);
    if (it == env.tools.end()) continue;
    std::string v = PackageVersion(it->second, b.package);
    if (v == b.version || v.rfind(std::string(b.version) + ".", 0) == 0) {
      out.push_back(fmt::format("{} {} ({}): {}", b.package, v, b.tool, b.reason));
    }
  }
  return out;
}

}  // namespace vigil::judge
