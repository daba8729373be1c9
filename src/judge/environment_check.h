// Tool versions known to break selftests, shipped with vigil and matched
// against a run's environment (the versions `vigil run` recorded).
#pragma once

#include <string>
#include <vector>

#include "model/records.h"

namespace vigil::judge {

struct BadTool {
  const char* tool;     // key in the environment's tools ("ss")
  const char* package;  // what its version line names ("iproute2")
  const char* version;  // "6.7.0"
  const char* reason;
};

const std::vector<BadTool>& KnownBadTools();

// The version of `package` in a tool's version line: "ss utility,
// iproute2-6.7.0" -> "6.7.0"; "" when absent.
std::string PackageVersion(const std::string& version_line, const std::string& package);

// One warning per known-bad tool version found in `env`.
std::vector<std::string> EnvironmentWarnings(const model::Environment& env);

}  // namespace vigil::judge
