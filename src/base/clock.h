// Wall-clock time as vigil writes it: ISO 8601 UTC.
#pragma once

#include <string>

namespace vigil {

// "2026-11-25T15:45:09Z"
std::string UtcNow();
// "2026-11-25"
std::string TodayUtc();

}  // namespace vigil
