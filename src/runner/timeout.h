// Test timeouts: the one range that settings files, vigil.toml and flags
// accept, and the stretching (--slowdown, TCG's x3) that turns a timeout into
// what the process supervisor waits, without overflow.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::runner {

// A timeout is whole seconds from 0 (none) to 7 days.
inline constexpr std::chrono::seconds kMaxTimeout{7 * 24 * 3600};
// A stretched timeout is at most a year: far inside what a clock counts.
inline constexpr std::chrono::seconds kMaxStretchedTimeout{365 * 24 * 3600};

// Range-checks `seconds`; the error says the accepted range. `what` names
// the value in it ("timeout", "--hang-timeout").
Result<std::chrono::seconds> CheckTimeout(int64_t seconds, std::string_view what = "timeout");
// Parses decimal seconds (blanks around them allowed) and range-checks them.
Result<std::chrono::seconds> ParseTimeout(std::string_view text, std::string_view what = "timeout");

// `timeout` multiplied by `slowdown` (a slowdown that is not a positive
// number counts as 1), rounded up to milliseconds and clamped at
// kMaxStretchedTimeout; 0 stays 0 (none).
std::chrono::milliseconds StretchTimeout(std::chrono::seconds timeout, double slowdown);
// The same in whole seconds (rounded up), as the runner's TIMEOUT line says.
std::chrono::seconds StretchTimeoutSeconds(std::chrono::seconds timeout, double slowdown);

}  // namespace vigil::runner
