// Terminal conventions shared by the subcommands.
#pragma once

#include <string>

namespace vigil::cli {

// --color MODE: "always", "never", or "auto" (standard output is a terminal
// and NO_COLOR is unset or empty).
bool UseColor(const std::string& mode);

}  // namespace vigil::cli
