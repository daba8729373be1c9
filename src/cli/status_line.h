// The live status line of `vigil run` on a terminal: done/total, the tests
// running now, failures so far and an ETA, redrawn in place below the lines
// of finished tests. Off a terminal it stays silent and lines print plainly.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace vigil::cli {

class StatusLine {
 public:
  StatusLine(bool enabled, size_t total, int jobs);
  ~StatusLine();  // erases the line

  void Started(const std::string& test);
  void Finished(const std::string& test, bool failed);
  // Prints a full line above the status line.
  void Print(const std::string& line);

 private:
  void Draw();  // with mu_ held
  std::string Render() const;

  bool enabled_;
  size_t total_;
  int jobs_;
  size_t done_ = 0;
  size_t failures_ = 0;
  std::multiset<std::string> running_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread ticker_;
};

}  // namespace vigil::cli
