// A ProcessRunner that runs nothing: each program plays a scripted result
// (output, exit status, duration, kernel reports). For unit tests of what
// runs programs (the run engine); it records every call and which programs
// ran at the same time.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "sys/cancel.h"
#include "sys/process.h"

namespace vigil::sys {

struct FakeProgram {
  std::string output;  // handed to the sink in one piece
  WaitStatus status = WaitStatus::Exited(0);
  int64_t duration_ms = 10;
  bool timed_out = false;
  std::vector<model::KernelReport> kernel_reports;
  bool vm_died = false;
  // Real time the call takes, so that concurrent calls overlap visibly.
  std::chrono::milliseconds hold{2};
  // A cancellation point: while this program runs, `cancels` is requested
  // (as a signal to vigil would), `requests` times (2: the kill level).
  Cancellation* cancels = nullptr;
  int requests = 1;
};

// As RunProcess, a program that is running when its options.cancel is
// raised ends cancelled: terminated by SIGTERM (SIGKILL at the kill level)
// after its output so far.

class FakeProcessRunner final : public ProcessRunner {
 public:
  // Each run of a program whose argv[0] ends in `program` plays the next of
  // `runs`; the last one repeats. Unscripted programs exit 0 without output.
  void Script(const std::string& program, std::vector<FakeProgram> runs);

  Result<ProcessResult> Run(const ProcessOptions& options, OutputSink* sink) override;

  // argv[0] of every call, in the order they started.
  std::vector<std::string> started() const;
  // For each call, the argv[0]s that were running when it started.
  std::vector<std::pair<std::string, std::set<std::string>>> overlaps() const;
  // The options of the calls, in the order they started.
  std::vector<ProcessOptions> calls() const;
  int max_running() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<FakeProgram>> scripts_;
  std::map<std::string, size_t> played_;
  std::multiset<std::string> running_;
  std::vector<ProcessOptions> calls_;
  std::vector<std::pair<std::string, std::set<std::string>>> overlaps_;
  int max_running_ = 0;
};

}  // namespace vigil::sys
