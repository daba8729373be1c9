#include "model/records.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "base/json.h"

namespace vigil::model {

std::string Environment::Fingerprint() const {
  nlohmann::json j = {{"kernel_release", kernel_release}, {"uname", uname}, {"arch", arch},
                      {"cpus", cpus}, {"memory_kb", memory_kb / (64 * 1024)},  // tolerate small drifts
                      {"where", where}, {"accel", accel}, {"tools", tools}};
  if (!kernel_config.empty()) j["kernel_config"] = kernel_config;  // fingerprints of older runs stay
  return fmt::format("{:016x}", Fnv1a(DumpJson(j)));
}

}  // namespace vigil::model
