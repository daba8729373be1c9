#include "cli/status_line.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace vigil::cli {

StatusLine::StatusLine(const engine::RunStart& start, bool live, std::chrono::seconds report_every,
                       Clock& clock)
    : live_(live), progress_(start.plan, start.jobs, report_every, clock) {
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (live_) {
        Draw();
      } else {
        for (const auto& t : progress_.DueReports()) WriteLine(engine::StillRunningLine(t));
        if (dirty_) {
          std::fflush(stdout);
          dirty_ = false;
        }
      }
      cv_.wait_for(lock, std::chrono::milliseconds(live_ ? 500 : 1000));
    }
  });
}

StatusLine::~StatusLine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  ticker_.join();
  if (drawn_) std::fputs("\r\033[K", stdout);
  std::fflush(stdout);
}

void StatusLine::WriteLine(const std::string& line) {
  if (drawn_) {
    std::fputs("\r\033[K", stdout);
    drawn_ = false;
  }
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  dirty_ = true;
}

void StatusLine::Started(const std::string& test) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_.Started(test);
  if (live_) {
    Draw();
  } else {
    WriteLine(engine::StartLine(test, progress_.TimeoutOf(test)));
    std::fflush(stdout);  // a CI log shows what is running before it ends
    dirty_ = false;
  }
}

void StatusLine::Retrying(const std::string& test, const std::string& line) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.Retrying(test);
  }
  Print(line);
}

void StatusLine::Finished(const engine::TestEnd& end, const std::string& line) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_.Finished(end.path, end.last_duration_ms, model::IsFailure(end.final_status));
  }
  Print(line);
}

void StatusLine::Print(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  WriteLine(line);
  if (live_) Draw();
  std::fflush(stdout);
  dirty_ = false;
}

void StatusLine::Output(const std::string& test, std::string_view line) {
  std::string text = engine::OutputLine(test, line);  // outside the lock: tests print at once
  std::lock_guard<std::mutex> lock(mu_);
  WriteLine(text);  // the ticker redraws the live line and flushes
}

void StatusLine::Draw() {
  winsize ws{};
  size_t width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col - 1 : 119;
  std::string line = "\r\033[K" + engine::StatusText(progress_, width);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  drawn_ = true;
  dirty_ = false;
}

}  // namespace vigil::cli
