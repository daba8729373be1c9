#include "cli/status_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace vigil::cli {

StatusLine::StatusLine(bool enabled, size_t total, int jobs) : enabled_(enabled), total_(total), jobs_(jobs) {
  if (!enabled_) return;
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      Draw();
      cv_.wait_for(lock, std::chrono::milliseconds(500));
    }
  });
}

StatusLine::~StatusLine() {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  ticker_.join();
  std::fputs("\r\033[K", stdout);
  std::fflush(stdout);
}

void StatusLine::Started(const std::string& test) {
  std::lock_guard<std::mutex> lock(mu_);
  running_.insert(test);
  if (enabled_) Draw();
}

void StatusLine::Finished(const std::string& test, bool failed) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(test);
  if (it != running_.end()) running_.erase(it);
  ++done_;
  if (failed) ++failures_;
}

void StatusLine::Print(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (enabled_) std::fputs("\r\033[K", stdout);
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  if (enabled_) Draw();
  std::fflush(stdout);
}

std::string StatusLine::Render() const {
  auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string eta = "--:--";
  if (done_ > 0 && done_ < total_) {
    double left = elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_);
    int s = static_cast<int>(left);
    eta = fmt::format("{}:{:02}", s / 60, s % 60);
  }
  std::string running;
  for (const auto& t : running_) {
    if (!running.empty()) running += ", ";
    running += t;
  }
  std::string line = fmt::format("[{}/{}] {} failed · ETA {} · running: {}", done_, total_, failures_, eta,
                                 running.empty() ? "-" : running);
  winsize ws{};
  size_t width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col - 1 : 119;
  // Keep it on one line (the separators are 2 bytes of UTF-8 but 1 column).
  if (line.size() > width + 2) line = line.substr(0, width - 1) + "…";
  (void)jobs_;
  return line;
}

void StatusLine::Draw() {
  std::string line = Render();
  std::fputs("\r\033[K", stdout);
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace vigil::cli
