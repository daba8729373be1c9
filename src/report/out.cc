#include "report/out.h"

#include <algorithm>
#include <future>

#include "ktap/tree.h"

namespace vigil::report {

Buffer::Buffer() = default;
Buffer::~Buffer() = default;

void Buffer::Grow(size_t n) {
  constexpr size_t kSmall = 64 << 10, kHuge = 2 << 20;
  size_t cap = std::max({size_ + n, 2 * cap_, size_t{4096}});
  std::unique_ptr<char[]> heap;
  std::unique_ptr<ktap::Chunk> mapped;
  char* data;
  if (cap > kSmall) {
    cap = (cap + kHuge - 1) / kHuge * kHuge;
    mapped = std::make_unique<ktap::Chunk>(cap, true);
    data = mapped->data();
  } else {
    // Not value-initialised: every byte read was written first.
    heap = std::make_unique_for_overwrite<char[]>(cap);
    data = heap.get();
  }
  if (size_ > 0) std::memcpy(data, data_, size_);
  heap_ = std::move(heap);
  mapped_ = std::move(mapped);
  data_ = data;
  cap_ = cap;
}

namespace {

// Items 0..n-1 written in order with write(i, buffer). Many items (the
// top-level tests of a big document) are written in blocks, every other
// block by a second thread into a buffer of its own, so that formatting a
// big report uses both cores. hand(b, all) is called between items: it may
// pass b's text on, and must when `all`.
template <typename Buf, typename Hand>
void InBlocks(size_t n, const std::function<void(size_t, Buf&)>& write, Buf& mine, Hand hand) {
  // Below this many items a second thread costs more than it saves.
  constexpr size_t kParallelFrom = 4096;
  constexpr size_t kBlocks = 128;
  if (n < kParallelFrom) {
    for (size_t i = 0; i < n; ++i) {
      write(i, mine);
      hand(mine, false);
    }
    hand(mine, true);
    return;
  }
  size_t per_block = (n + kBlocks - 1) / kBlocks;
  auto range = [&](size_t block, Buf& into) {
    size_t end = std::min(n, (block + 1) * per_block);
    for (size_t i = block * per_block; i < end; ++i) write(i, into);
  };
  Buf other;
  for (size_t block = 0; block * per_block < n; block += 2) {
    bool pair = (block + 1) * per_block < n;
    std::future<void> second;
    if (pair) {
      other.clear();
      second = std::async(std::launch::async, [&, block] { range(block + 1, other); });
    }
    range(block, mine);
    if (pair) second.get();
    hand(mine, pair);
    if (pair) hand(other, true);
  }
  hand(mine, true);
}

}  // namespace

void Out::WriteInOrder(size_t n, const std::function<void(size_t, std::string&)>& write) {
  InBlocks<std::string>(n, write, buf_, [this](std::string& b, bool all) {
    if (&b == &buf_) {
      // Kept here until it makes a piece, unless what follows is in the other buffer.
      if (all) {
        Flush();
      } else {
        Step();
      }
    } else if (sink_) {
      if (ok_) ok_ = sink_(b);
    } else {
      buf_ += b;
    }
  });
}

void Out::WriteInOrder(size_t n, const std::function<void(size_t, Buffer&)>& write) {
  Buffer mine;
  InBlocks<Buffer>(n, write, mine, [this](Buffer& b, bool all) {
    if (all || b.size() >= kPiece) {
      Append(b.view());
      b.clear();
    }
  });
}

}  // namespace vigil::report
