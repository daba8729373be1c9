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

std::string_view OriginKind(std::string_view source) {
  return source.rfind("branch:", 0) == 0 ? "branch" : "series";
}

std::vector<SeriesRun> SeriesRuns(std::string_view result_json) {
  std::vector<SeriesRun> out;
  nlohmann::json r = nlohmann::json::parse(result_json, nullptr, false);
  if (!r.is_object()) return out;
  auto add = [&out](const nlohmann::json& o, const char* key, const char* role) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_number_integer() || it->get<int64_t>() <= 0) return;
    int64_t id = it->get<int64_t>();
    for (const auto& e : out) {
      if (e.run == id && e.role == role) return;
    }
    out.push_back({id, role});
  };
  add(r, "run", "tested");
  add(r, "base_run", "base");
  auto variants = r.find("variants");
  if (variants != r.end() && variants->is_array()) {
    for (const auto& v : *variants) {
      if (!v.is_object()) continue;
      add(v, "run", "tested");
      add(v, "base_run", "base");
    }
  }
  return out;
}

}  // namespace vigil::model
