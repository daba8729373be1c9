#include "report/out.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "ktap/tree.h"

namespace vigil::report {

Buffer::Buffer() = default;
Buffer::~Buffer() = default;

std::string_view Buffer::Full::view() const { return {chunk->data(), size}; }

void Buffer::Grow(size_t n) {
  constexpr size_t kSmall = 64 << 10, kHuge = 2 << 20;
  if (full_ != nullptr) {
    // Always in mappings here (at least kHuge), so what is handed over is one.
    if (size_ > 0) full_->push_back({std::move(mapped_), size_});
    size_ = 0;
    cap_ = 0;
    data_ = nullptr;
    n = std::max(n, kHuge);
  }
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
// top-level tests of a big document) are written in blocks that this thread
// and one helper take in turn, whichever is free first, so that formatting
// a big report keeps both cores busy however uneven the blocks are. This
// thread passes them on in order: the block whose turn it is goes straight
// into `mine`; one taken ahead of its turn waits in a buffer of its own, and
// no block is taken more than kAhead past the one whose turn it is, so the
// text held stays a few blocks' worth. hand(b, all) is called between
// items: it may pass b's text on, and must (leaving b empty) when `all`.
template <typename Buf, typename Hand>
void InBlocks(size_t n, const std::function<void(size_t, Buf&)>& write, Buf& mine, Hand hand) {
  // Below this many items a second thread costs more than it saves.
  constexpr size_t kParallelFrom = 4096;
  constexpr size_t kBlocks = 256, kAhead = 4;
  if (n < kParallelFrom) {
    for (size_t i = 0; i < n; ++i) {
      write(i, mine);
      hand(mine, false);
    }
    hand(mine, true);
    return;
  }
  size_t per_block = (n + kBlocks - 1) / kBlocks;
  size_t blocks = (n + per_block - 1) / per_block;
  auto range = [&](size_t block, Buf& into, bool pass) {
    size_t end = std::min(n, (block + 1) * per_block);
    for (size_t i = block * per_block; i < end; ++i) {
      write(i, into);
      if (pass) hand(into, false);
    }
  };
  struct Ahead {
    Buf text;
    bool done = false;
  };
  std::vector<Ahead> ahead(kAhead);  // block b waits in ahead[b % kAhead]
  std::mutex mu;
  std::condition_variable cv;
  size_t next = 0;     // the next block to take
  size_t turn = 0;     // the block to pass on next
  bool quit = false;   // this thread is leaving: the helper takes no more
  // The next block to take, under `lock`, once one may be taken; `blocks` when none is left.
  auto take = [&](std::unique_lock<std::mutex>& lock, bool helper) -> size_t {
    cv.wait(lock, [&] { return quit || next >= blocks || next < turn + kAhead || (!helper && ahead[turn % kAhead].done); });
    if (quit || next >= blocks || next >= turn + kAhead) return blocks;
    return next++;
  };
  std::thread helper([&] {
    std::unique_lock<std::mutex> lock(mu);
    for (size_t b; (b = take(lock, true)) < blocks;) {
      Ahead& a = ahead[b % kAhead];
      lock.unlock();
      range(b, a.text, false);
      lock.lock();
      a.done = true;
      cv.notify_all();
    }
  });
  struct Stop {
    std::thread& t;
    std::mutex& mu;
    std::condition_variable& cv;
    bool& quit;
    ~Stop() {
      {
        std::lock_guard<std::mutex> lock(mu);
        quit = true;
      }
      cv.notify_all();
      t.join();
    }
  } stop{helper, mu, cv, quit};
  std::unique_lock<std::mutex> lock(mu);
  while (turn < blocks) {
    Ahead& waiting = ahead[turn % kAhead];
    if (waiting.done) {
      lock.unlock();
      hand(mine, true);
      hand(waiting.text, true);
      lock.lock();
      waiting.done = false;
      ++turn;
      cv.notify_all();
      continue;
    }
    size_t b = take(lock, false);
    if (b == blocks) {
      // Nothing to take: the helper has the block whose turn it is.
      cv.wait(lock, [&] { return ahead[turn % kAhead].done; });
      continue;
    }
    lock.unlock();
    if (b == turn) {
      range(b, mine, true);
      lock.lock();
      ++turn;
      cv.notify_all();
    } else {
      Ahead& a = ahead[b % kAhead];
      range(b, a.text, false);
      lock.lock();
      a.done = true;
    }
  }
  lock.unlock();
  hand(mine, true);
}

}  // namespace

void Out::WriteInOrder(size_t n, const std::function<void(size_t, std::string&)>& write) {
  InBlocks<std::string>(n, write, buf_, [this](std::string& b, bool all) {
    if (&b == &buf_) {
      // Kept here until it makes a piece, unless what follows is in another buffer.
      if (all) {
        Flush();
      } else {
        Step();
      }
      return;
    }
    if (!all) return;
    if (sink_) {
      if (ok_) ok_ = sink_(b);
    } else {
      buf_ += b;
    }
    b.clear();
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
