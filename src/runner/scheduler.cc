#include "runner/scheduler.h"

#include <algorithm>

namespace vigil::runner {

Scheduler::Scheduler(const std::vector<TestSpec>& tests, std::vector<size_t> order, const RunConfig& config)
    : pending_(std::move(order)), classes_of_(tests.size()), serial_(tests.size(), false) {
  for (const auto& c : config.classes) {
    class_limit_.push_back(c.max_parallel);
    class_running_.push_back(0);
  }
  for (size_t t = 0; t < tests.size(); ++t) {
    std::string path = tests[t].path();
    for (size_t c = 0; c < config.classes.size(); ++c) {
      if (!GlobMatch(config.classes[c].match, path)) continue;
      classes_of_[t].push_back(c);
      if (config.classes[c].serial) serial_[t] = true;
    }
  }
}

bool Scheduler::CanStart(size_t t) const {
  if (serial_running_) return false;
  if (serial_[t] && running_ > 0) return false;
  for (size_t c : classes_of_[t]) {
    if (class_limit_[c] > 0 && class_running_[c] >= class_limit_[c]) return false;
  }
  return true;
}

std::optional<size_t> Scheduler::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (pending_.empty()) return std::nullopt;
    auto it = std::find_if(pending_.begin(), pending_.end(), [&](size_t t) { return CanStart(t); });
    if (it != pending_.end()) {
      size_t t = *it;
      pending_.erase(it);
      ++running_;
      if (serial_[t]) serial_running_ = true;
      for (size_t c : classes_of_[t]) ++class_running_[c];
      return t;
    }
    cv_.wait(lock);
  }
}

void Scheduler::Done(size_t t) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
    if (serial_[t]) serial_running_ = false;
    for (size_t c : classes_of_[t]) --class_running_[c];
  }
  cv_.notify_all();
}

}  // namespace vigil::runner
