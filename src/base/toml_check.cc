#include "base/toml_check.h"

#include <fmt/format.h>

namespace vigil {

std::string TomlWhere(const std::string& source, const toml::node& n) {
  return fmt::format("{}:{}", source, n.source().begin.line);
}

Status TomlCheckKeys(const toml::table& t, const std::set<std::string>& allowed, const std::string& source,
                     const char* what) {
  for (const auto& [k, v] : t) {
    if (!allowed.count(std::string(k.str()))) {
      return Status::InvalidArgument(
          fmt::format("{}: unknown key '{}' in [[{}]]", TomlWhere(source, v), k.str(), what));
    }
  }
  return Status::OK();
}

Result<toml::table> TomlParse(const std::string& text, const std::string& source) {
  try {  // Debian's toml++ reports parse errors as exceptions
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(
        fmt::format("{}:{}: {}", source, e.source().begin.line, std::string(e.description())));
  }
}

}  // namespace vigil
