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
  auto id_of = [](const nlohmann::json& o, const char* key) -> int64_t {
    auto it = o.find(key);
    if (it == o.end() || !it->is_number_integer() || it->get<int64_t>() <= 0) return 0;
    return it->get<int64_t>();
  };
  auto add = [&out](int64_t id, const char* role, int64_t base) {
    if (id == 0) return;
    for (auto& e : out) {
      if (e.run != id || e.role != role) continue;
      if (e.base == 0) e.base = base;
      return;
    }
    out.push_back({id, role, base});
  };
  // The series' own runs, then each variant's.
  auto add_object = [&](const nlohmann::json& o) {
    int64_t base = id_of(o, "base_run");
    add(id_of(o, "run"), "tested", base);
    add(base, "base", 0);
  };
  add_object(r);
  auto variants = r.find("variants");
  if (variants != r.end() && variants->is_array()) {
    for (const auto& v : *variants) {
      if (v.is_object()) add_object(v);
    }
  }
  return out;
}

}  // namespace vigil::model
