#include "base/clock.h"

#include <ctime>

namespace vigil {
namespace {

std::string Format(const char* fmt) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace

std::string UtcNow() { return Format("%Y-%m-%dT%H:%M:%SZ"); }
std::string TodayUtc() { return Format("%Y-%m-%d"); }

}  // namespace vigil
