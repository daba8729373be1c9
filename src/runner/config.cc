#include "runner/config.h"

#include <fnmatch.h>

#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "base/toml_check.h"
#include "model/test_path.h"
#include "runner/timeout.h"

namespace vigil::runner {

bool GlobMatch(const std::string& pattern, const std::string& path) {
  if (fnmatch(pattern.c_str(), path.c_str(), 0) == 0) return true;
  // A shard ("TEST#2") is matched by the rules of its test too.
  model::TestPath p = model::TestPath::Parse(path);
  if (!p.shard() || pattern.find('#') != std::string::npos) return false;
  return fnmatch(pattern.c_str(), p.BaseTestId().c_str(), 0) == 0;
}

const TestRule* RunConfig::RuleFor(const std::string& path) const {
  for (const auto& r : tests) {
    if (GlobMatch(r.match, path)) return &r;
  }
  return nullptr;
}


Result<RunConfig> ParseConfig(const std::string& text, const std::string& source) {
  auto parsed = TomlParse(text, source);
  if (!parsed.ok()) return parsed.status();
  toml::table& root = parsed.value();
  RunConfig config;
  config.source = source;
  for (const auto& [k, v] : root) {
    if (k.str() != "class" && k.str() != "test") {
      return Status::InvalidArgument(fmt::format("{}: unknown section '{}'", TomlWhere(source, v), k.str()));
    }
    const toml::array* arr = v.as_array();
    if (!arr) {
      return Status::InvalidArgument(fmt::format("{}: '{}' must be written [[{}]]", TomlWhere(source, v), k.str(), k.str()));
    }
    for (const auto& item : *arr) {
      const toml::table* t = item.as_table();
      if (!t) return Status::InvalidArgument(fmt::format("{}: [[{}]] must be a table", TomlWhere(source, item), k.str()));
      auto match = (*t)["match"].value<std::string>();
      if (!match || match->empty()) {
        return Status::InvalidArgument(fmt::format("{}: [[{}]] needs match = \"GLOB\"", TomlWhere(source, item), k.str()));
      }
      if (k.str() == "class") {
        Status s = TomlCheckKeys(*t, {"match", "max_parallel", "serial"}, source, "class");
        if (!s.ok()) return s;
        ClassRule c;
        c.match = *match;
        if (auto n = (*t)["max_parallel"]; n) {
          auto v2 = n.value<int64_t>();
          if (!v2 || *v2 < 1) return Status::InvalidArgument(fmt::format("{}: max_parallel must be a positive integer", TomlWhere(source, *n.node())));
          c.max_parallel = static_cast<int>(*v2);
        }
        if (auto n = (*t)["serial"]; n) {
          auto v2 = n.value<bool>();
          if (!v2) return Status::InvalidArgument(fmt::format("{}: serial must be true or false", TomlWhere(source, *n.node())));
          c.serial = *v2;
        }
        config.classes.push_back(c);
      } else {
        Status s = TomlCheckKeys(*t, {"match", "timeout", "retries", "shards"}, source, "test");
        if (!s.ok()) return s;
        TestRule r;
        r.match = *match;
        if (auto n = (*t)["timeout"]; n) {
          auto v2 = n.value_exact<int64_t>();
          if (!v2) {
            return Status::InvalidArgument(fmt::format("{}: timeout must be an integer number of seconds",
                                                       TomlWhere(source, *n.node())));
          }
          auto t = CheckTimeout(*v2);
          if (!t.ok()) return Status::InvalidArgument(fmt::format("{}: {}", TomlWhere(source, *n.node()), t.status().message()));
          r.timeout_s = static_cast<int>(t->count());
        }
        if (auto n = (*t)["retries"]; n) {
          auto v2 = n.value<int64_t>();
          if (!v2 || *v2 < 0 || *v2 > 100) return Status::InvalidArgument(fmt::format("{}: retries must be 0 to 100", TomlWhere(source, *n.node())));
          r.retries = static_cast<int>(*v2);
        }
        if (auto n = (*t)["shards"]; n) {
          const toml::array* arr = n.as_array();
          if (!arr || arr->empty())
            return Status::InvalidArgument(fmt::format("{}: shards must be a list of argument strings", TomlWhere(source, *n.node())));
          for (const auto& el : *arr) {
            auto v2 = el.value<std::string>();
            if (!v2) return Status::InvalidArgument(fmt::format("{}: shards must be a list of argument strings", TomlWhere(source, el)));
            r.shards.push_back(*v2);
          }
        }
        config.tests.push_back(r);
      }
    }
  }
  return config;
}

Result<RunConfig> LoadConfig(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::NotFound(fmt::format("cannot read {}", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseConfig(ss.str(), path);
}

}  // namespace vigil::runner
