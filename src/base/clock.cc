#include "base/clock.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <thread>

namespace vigil {
namespace {

std::string Format(std::time_t t, const char* fmt) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace

std::string UtcNow() { return Format(std::time(nullptr), "%Y-%m-%dT%H:%M:%SZ"); }
std::string TodayUtc() { return Format(std::time(nullptr), "%Y-%m-%d"); }
std::string FormatUtc(std::chrono::system_clock::time_point t) {
  return Format(std::chrono::system_clock::to_time_t(t), "%Y-%m-%dT%H:%M:%SZ");
}

int64_t ParseUtc(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (s.size() < 20) return -1;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec) != 6) {
    return -1;
  }
  if (s.size() > 20 && s[19] == '.') {
    int digits = 0;
    for (size_t i = 20; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && digits < 3; ++i, ++digits) {
      ms = ms * 10 + (s[i] - '0');
    }
    while (digits++ < 3) ms *= 10;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return -1;
  return static_cast<int64_t>(t) * 1000 + ms;
}

SystemClock& SystemClock::Get() {
  static SystemClock clock;
  return clock;
}

void SystemClock::SleepFor(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

FakeClock::FakeClock() : wall_start_(std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}) {}

std::chrono::system_clock::time_point FakeClock::Now() {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_start_ + elapsed_;
}

std::chrono::steady_clock::time_point FakeClock::Monotonic() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::chrono::steady_clock::time_point(elapsed_);
}

void FakeClock::Advance(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  elapsed_ += d;
}

}  // namespace vigil
