// How the patch loop (vigil watch) names the runs it makes for a series:
// RunRecord::command "series ID (NAME)". A run is tied to its
// series by the series' result (model::SeriesRuns), which is written when
// its testing ends; until then -- or for good, when vigil watch stopped
// before -- the name is all that says the run tested a patch.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace vigil::model {

inline std::string SeriesRunCommand(int64_t series, std::string_view name) {
  return fmt::format("series {} ({})", series, name);
}

// A branch head's run (its series' source is "branch:..."): "branch ID
// (NAME)". The branch is the tree under test, not a patch applied to it, so
// its runs are never taken for a series' ones.
inline std::string BranchRunCommand(int64_t series, std::string_view name) {
  return fmt::format("branch {} ({})", series, name);
}

// The series ID of such a name ("series ", digits, " ("), or 0 when
// `command` is none: a command a user ran starts with the program.
inline int64_t SeriesOfRunCommand(std::string_view command) {
  constexpr std::string_view kPrefix = "series ";
  if (command.substr(0, kPrefix.size()) != kPrefix) return 0;
  size_t i = kPrefix.size();
  int64_t id = 0;
  size_t digits = 0;
  while (i < command.size() && std::isdigit(static_cast<unsigned char>(command[i]))) {
    if (id > (INT64_MAX - 9) / 10) return 0;  // not an id vigil wrote
    id = id * 10 + (command[i] - '0');
    ++i, ++digits;
  }
  return digits > 0 && id > 0 && command.substr(i, 2) == " (" ? id : 0;
}

}  // namespace vigil::model
