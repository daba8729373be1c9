#include "model/vm_spec.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/json.h"

namespace vigil::model {

std::string VmSpec::ToJson() const {
  // Paths and the command line come back byte for byte.
  nlohmann::json j = {{"version", kVersion},        {"kernel", BytesToJson(kernel)},
                      {"modules", BytesToJson(modules)}, {"accel", accel},
                      {"rootfs", rootfs},           {"cpus", cpus},
                      {"memory", memory},           {"append", BytesToJson(append)},
                      {"panic_on", panic_on},       {"hang_timeout", hang_timeout}};
  if (slowdown) j["slowdown"] = *slowdown;
  return DumpJson(j);
}

Result<VmSpec> VmSpec::FromJson(const std::string& json) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return Status::Corruption("the run's VM record is not a JSON object");
  VmSpec s;
  try {
    int version = j.value("version", 1);  // schema 5 stored no version
    if (version > kVersion) {
      return Status::InvalidArgument(
          fmt::format("the run's VM record has version {} (this vigil reads up to {})", version, kVersion));
    }
    auto bytes = [&](const char* key) { return j.contains(key) ? BytesFromJson(j[key]).value_or("") : ""; };
    s.kernel = bytes("kernel");
    s.modules = bytes("modules");
    s.accel = j.value("accel", s.accel);
    s.rootfs = j.value("rootfs", s.rootfs);
    s.cpus = j.value("cpus", s.cpus);
    s.memory = j.value("memory", s.memory);
    s.append = bytes("append");
    s.panic_on = j.value("panic_on", "");
    s.hang_timeout = j.value("hang_timeout", 0);
    if (j.contains("slowdown")) s.slowdown = j.value("slowdown", 1.0);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(fmt::format("the run's VM record: {}", e.what()));
  }
  return s;
}

}  // namespace vigil::model
