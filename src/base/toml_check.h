// Helpers shared by vigil's TOML files (vigil.toml, known-issues.toml):
// positions in messages and unknown keys as errors.
#pragma once

#include <set>
#include <string>

#include <toml++/toml.h>

#include "base/status.h"

namespace vigil {

// "file:line" of a node.
std::string TomlWhere(const std::string& source, const toml::node& n);
// An error naming the first key of `t` that is not in `allowed`.
Status TomlCheckKeys(const toml::table& t, const std::set<std::string>& allowed, const std::string& source,
                     const char* what);
// Parses `text`; a syntax error becomes InvalidArgument with file:line.
Result<toml::table> TomlParse(const std::string& text, const std::string& source);

}  // namespace vigil
