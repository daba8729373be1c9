#include "base/clock.h"

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
