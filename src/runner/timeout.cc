#include "runner/timeout.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace vigil::runner {
namespace {

std::string RangeText(std::string_view what) {
  return fmt::format("{} must be whole seconds from 0 (none) to {} (7 days)", what, kMaxTimeout.count());
}

}  // namespace

Result<std::chrono::seconds> CheckTimeout(int64_t seconds, std::string_view what) {
  if (seconds < 0 || seconds > kMaxTimeout.count()) {
    return Status::InvalidArgument(fmt::format("{}, not {}", RangeText(what), seconds));
  }
  return std::chrono::seconds(seconds);
}

Result<std::chrono::seconds> ParseTimeout(std::string_view text, std::string_view what) {
  std::string_view t = text;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r')) t.remove_suffix(1);
  bool digits = !t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits) {
    std::string shown(text.substr(0, 40));
    return Status::InvalidArgument(fmt::format("{}, not '{}'", RangeText(what), shown));
  }
  // Too many digits for int64 is out of range as well.
  if (t.size() > 18) return Status::InvalidArgument(fmt::format("{}, not {}", RangeText(what), t));
  int64_t v = 0;
  std::from_chars(t.data(), t.data() + t.size(), v);
  return CheckTimeout(v, what);
}

std::chrono::milliseconds StretchTimeout(std::chrono::seconds timeout, double slowdown) {
  if (timeout.count() <= 0) return std::chrono::milliseconds(0);
  if (!(slowdown > 0) || !std::isfinite(slowdown)) slowdown = 1.0;
  double ms = std::ceil(static_cast<double>(timeout.count()) * 1000.0 * slowdown);
  double max_ms = static_cast<double>(kMaxStretchedTimeout.count()) * 1000.0;
  if (!(ms <= max_ms)) ms = max_ms;
  return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(ms)));
}

std::chrono::seconds StretchTimeoutSeconds(std::chrono::seconds timeout, double slowdown) {
  int64_t ms = StretchTimeout(timeout, slowdown).count();
  return std::chrono::seconds((ms + 999) / 1000);
}

}  // namespace vigil::runner
