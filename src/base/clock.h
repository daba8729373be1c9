// Time as vigil reads it: wall-clock time (ISO 8601 UTC in records) and a
// monotonic clock (durations, timeouts), behind an interface so that code
// which waits or stamps can be tested with a fake clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace vigil {

// "2026-11-25T15:45:09Z"
std::string UtcNow();
// "2026-11-25"
std::string TodayUtc();
// A wall-clock time as UtcNow() writes it.
std::string FormatUtc(std::chrono::system_clock::time_point t);
// "2026-11-25T10:00:00Z" (fractions allowed) -> ms since the epoch; -1 when
// it is not such a time.
int64_t ParseUtc(const std::string& s);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() = 0;
  virtual std::chrono::steady_clock::time_point Monotonic() = 0;
  // Waits `d` (a fake clock advances by it instead).
  virtual void SleepFor(std::chrono::milliseconds d) = 0;
  // Now() as ISO 8601 UTC.
  std::string UtcNow() { return FormatUtc(Now()); }
};

// The real clocks. One instance serves everyone.
class SystemClock final : public Clock {
 public:
  static SystemClock& Get();
  std::chrono::system_clock::time_point Now() override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point Monotonic() override { return std::chrono::steady_clock::now(); }
  void SleepFor(std::chrono::milliseconds d) override;
};

// A clock that moves only when told to (or when slept on). Thread-safe.
class FakeClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z.
  FakeClock();
  std::chrono::system_clock::time_point Now() override;
  std::chrono::steady_clock::time_point Monotonic() override;
  void SleepFor(std::chrono::milliseconds d) override { Advance(d); }
  void Advance(std::chrono::milliseconds d);

 private:
  std::mutex mu_;
  std::chrono::milliseconds elapsed_{0};
  std::chrono::system_clock::time_point wall_start_;
};

}  // namespace vigil
