#include "sys/fake_process_runner.h"

#include <signal.h>

#include <thread>

namespace vigil::sys {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void FakeProcessRunner::Script(const std::string& program, std::vector<FakeProgram> runs) {
  std::lock_guard<std::mutex> lock(mu_);
  scripts_[program] = std::move(runs);
  played_[program] = 0;
}

Result<ProcessResult> FakeProcessRunner::Run(const ProcessOptions& options, OutputSink* sink) {
  if (options.argv.empty()) return Status::InvalidArgument("no program to run");
  const std::string& program = options.argv[0];
  FakeProgram play;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [name, runs] : scripts_) {
      if (runs.empty() || !EndsWith(program, name)) continue;
      size_t& n = played_[name];
      play = runs[std::min(n, runs.size() - 1)];
      ++n;
      break;
    }
    calls_.push_back(options);
    overlaps_.push_back({program, std::set<std::string>(running_.begin(), running_.end())});
    running_.insert(program);
    max_running_ = std::max(max_running_, static_cast<int>(running_.size()));
  }
  if (sink && !play.output.empty()) sink->OnOutput(play.output);
  for (int i = 0; play.cancels && i < play.requests; ++i) play.cancels->Request(SIGTERM);
  std::this_thread::sleep_for(play.hold);
  ProcessResult r;
  r.status = play.status;
  if (options.cancel && options.cancel->stopping()) {
    r.cancelled = true;
    r.status = WaitStatus::Signaled(options.cancel->killing() ? SIGKILL : SIGTERM);
  }
  r.timed_out = play.timed_out;
  r.duration_ms = play.duration_ms;
  r.output_bytes = play.output.size();
  r.output = play.output;
  r.kernel_reports = play.kernel_reports;
  r.vm_died = play.vm_died;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(running_.find(program));
  }
  return r;
}

std::vector<std::string> FakeProcessRunner::started() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& c : calls_) out.push_back(c.argv[0]);
  return out;
}

std::vector<std::pair<std::string, std::set<std::string>>> FakeProcessRunner::overlaps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overlaps_;
}

std::vector<ProcessOptions> FakeProcessRunner::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

int FakeProcessRunner::max_running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_running_;
}

}  // namespace vigil::sys
