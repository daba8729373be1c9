#include "cli/terminal.h"

#include <unistd.h>

#include <cstdlib>

namespace vigil::cli {

bool UseColor(const std::string& mode) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  return isatty(STDOUT_FILENO) == 1;
}

}  // namespace vigil::cli
