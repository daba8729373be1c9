// A program's output kept within a cap: its first and its last halves, and
// a marker where bytes were dropped (the end of a failing test's output is
// where it says why).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace vigil::sys {

class CappedOutput {
 public:
  explicit CappedOutput(size_t cap = 0) : head_cap_(cap / 2), tail_cap_(cap - cap / 2) {}

  void Add(std::string_view bytes) {
    total_ += bytes.size();
    if (head_.size() < head_cap_) {
      size_t take = std::min(bytes.size(), head_cap_ - head_.size());
      head_.append(bytes.data(), take);
      bytes.remove_prefix(take);
    }
    if (bytes.empty() || tail_cap_ == 0) return;
    tail_.append(bytes.data(), bytes.size());
    if (tail_.size() > 2 * tail_cap_) tail_.erase(0, tail_.size() - tail_cap_);
  }

  uint64_t total() const { return total_; }

  // The kept output, with a marker where bytes were dropped.
  std::string Take(uint64_t* dropped) {
    if (tail_.size() > tail_cap_) tail_.erase(0, tail_.size() - tail_cap_);
    *dropped = total_ - head_.size() - tail_.size();
    std::string out = std::move(head_);
    if (*dropped > 0) out += fmt::format("\n[vigil: {} bytes of output not kept]\n", *dropped);
    out += tail_;
    head_.clear();
    tail_.clear();
    return out;
  }

 private:
  size_t head_cap_, tail_cap_;
  std::string head_, tail_;
  uint64_t total_ = 0;
};

}  // namespace vigil::sys
