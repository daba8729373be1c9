// How `vigil run` shows a run in progress. On a terminal: one live status
// line (done/total, failures so far, the ETA, the tests running and for how
// long) redrawn in place below the lines of finished tests. Off a terminal
// (a CI log): a line when a test starts and one each time it has run
// another `report_every`. With -v, the tests' output lines, each prefixed
// with its test's name. Thread-safe; every line is written whole.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "base/clock.h"
#include "engine/run_progress.h"
#include "engine/run_session.h"

namespace vigil::cli {

class StatusLine {
 public:
  // `live`: standard output is a terminal. `clock` must outlive this.
  StatusLine(const engine::RunStart& start, bool live, std::chrono::seconds report_every, Clock& clock);
  ~StatusLine();  // erases the live line

  void Started(const std::string& test);
  // An attempt failed and the test runs again; `line` says so.
  void Retrying(const std::string& test, const std::string& line);
  // The test ended; `line` is its result line.
  void Finished(const engine::TestEnd& end, const std::string& line);
  // Prints a full line (above the live line) and flushes.
  void Print(const std::string& line);
  // A line of a test's output (vigil run -v); flushed within a second.
  void Output(const std::string& test, std::string_view line);

 private:
  void WriteLine(const std::string& line);  // with mu_ held
  void Draw();                              // with mu_ held

  bool live_;
  engine::RunProgress progress_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool drawn_ = false;  // the live line is on the screen
  bool dirty_ = false;  // written but not flushed
  std::thread ticker_;
};

}  // namespace vigil::cli
