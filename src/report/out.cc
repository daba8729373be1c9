#include "report/out.h"

#include <algorithm>
#include <future>

namespace vigil::report {

void Out::WriteInOrder(size_t n, const std::function<void(size_t, std::string&)>& write) {
  // Below this many items a second thread costs more than it saves.
  constexpr size_t kParallelFrom = 4096;
  constexpr size_t kBlocks = 128;
  if (n < kParallelFrom) {
    for (size_t i = 0; i < n; ++i) {
      write(i, buf_);
      Step();
    }
    return;
  }
  size_t per_block = (n + kBlocks - 1) / kBlocks;
  auto range = [&](size_t block, std::string& into) {
    size_t end = std::min(n, (block + 1) * per_block);
    for (size_t i = block * per_block; i < end; ++i) write(i, into);
  };
  std::string other;
  for (size_t block = 0; block * per_block < n; block += 2) {
    bool pair = (block + 1) * per_block < n;
    std::future<void> second;
    if (pair) {
      other.clear();
      second = std::async(std::launch::async, [&, block] { range(block + 1, other); });
    }
    range(block, buf_);
    if (pair) {
      second.get();
      if (sink_) {
        // Handed on as it is, right after the main buffer.
        Flush();
        if (ok_) ok_ = sink_(other);
      } else {
        buf_ += other;
      }
    } else {
      Step();
    }
  }
}

}  // namespace vigil::report
