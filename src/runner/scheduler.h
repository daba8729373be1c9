// Picks the next test to start under the scheduling classes: a class with
// max_parallel = K never has more than K of its tests running; a serial test
// runs alone. Thread-safe: workers call Next() and Done().
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include "runner/config.h"
#include "runner/test_plan.h"

namespace vigil::runner {

class Scheduler {
 public:
  // `order`: indices into `tests` in the order they should start.
  Scheduler(const std::vector<TestSpec>& tests, std::vector<size_t> order, const RunConfig& config);

  // Blocks until a test may start; nullopt when none is left.
  std::optional<size_t> Next();
  void Done(size_t index);

 private:
  bool CanStart(size_t index) const;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<size_t> pending_;
  std::vector<std::vector<size_t>> classes_of_;  // per test: the classes it is in
  std::vector<bool> serial_;
  std::vector<int> class_limit_;
  std::vector<int> class_running_;
  int running_ = 0;
  bool serial_running_ = false;
};

}  // namespace vigil::runner
