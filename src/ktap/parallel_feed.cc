#include "ktap/parallel_feed.h"

#include <sys/mman.h>

#include <array>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

namespace vigil::ktap {
namespace {

// The read-ahead buffers, mapped with their pages already in place: fresh
// memory would otherwise take a page fault per 4 KiB as the first reads fill
// it (128 of them, each a costly trap on a virtual machine). Falls back to
// the heap when the mapping is refused.
class Buffers {
 public:
  static constexpr size_t kBytes = kReadAheadChunks * kReadChunkBytes;
  Buffers() {
    void* p =
        mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p != MAP_FAILED) {
      mapped_ = static_cast<char*>(p);
    } else {
      heap_ = std::make_unique_for_overwrite<char[]>(kBytes);
    }
  }
  ~Buffers() {
    if (mapped_) munmap(mapped_, kBytes);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
  char* get() { return mapped_ ? mapped_ : heap_.get(); }

 private:
  char* mapped_ = nullptr;
  std::unique_ptr<char[]> heap_;
};

// Chunk i of the input goes through buffer i % kReadAheadChunks: the reading
// thread fills it once the parser is done with chunk i - kReadAheadChunks, the
// calling thread parses it once it was read.
class ReadPipeline {
 public:
  ReadPipeline(Parser& parser, const ReadFn& read) : parser_(parser), read_fn_(read) {
    for (size_t i = 0; i < kReadAheadChunks; ++i) chunks_[i].bytes = buffers_.get() + i * kReadChunkBytes;
  }

  bool Run() {
    std::thread reader([this] { ReadAll(); });
    try {
      ParseAll();
    } catch (...) {
      // Out of memory while building the tree: stop the reader, then rethrow.
      Stop();
      reader.join();
      throw;
    }
    reader.join();
    return ok_;
  }

 private:
  struct Chunk {
    char* bytes = nullptr;
    std::string_view data;  // what the read returned
  };

  // Second thread: reads chunk after chunk while a buffer is free. Reading
  // is faster than parsing, so the ring is usually full: the reader then
  // sleeps until half of it was parsed, which wakes it once per
  // kReadAheadChunks / 2 chunks instead of once per chunk (each wake-up is a
  // system call on the parsing thread).
  void ReadAll() {
    for (uint64_t c = 0;; ++c) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (c - parsed_ >= kReadAheadChunks) {
          reader_waiting_ = true;
          reader_cv_.wait(lock, [&] { return stop_ || c - parsed_ <= kReadAheadChunks / 2; });
          reader_waiting_ = false;
        }
        if (stop_) return;
      }
      Chunk& chunk = chunks_[c % kReadAheadChunks];
      long n = read_fn_(chunk.bytes, kReadChunkBytes);
      chunk.data = std::string_view(chunk.bytes, n > 0 ? static_cast<size_t>(n) : 0);
      std::lock_guard<std::mutex> lock(mu_);
      if (n <= 0) {
        ok_ = n == 0;
        at_end_ = true;
      } else {
        read_count_ = c + 1;
      }
      if (parser_waiting_) parser_cv_.notify_one();
      if (at_end_) return;
    }
  }

  // Calling thread: parses the chunks in order as they arrive.
  void ParseAll() {
    for (uint64_t c = 0;; ++c) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        if (c >= read_count_ && !at_end_) {
          parser_waiting_ = true;
          parser_cv_.wait(lock, [&] { return c < read_count_ || at_end_; });
          parser_waiting_ = false;
        }
        if (c >= read_count_) return;  // at the end, and every chunk read was parsed
      }
      parser_.Feed(chunks_[c % kReadAheadChunks].data);
      std::lock_guard<std::mutex> lock(mu_);
      parsed_ = c + 1;
      if (reader_waiting_ && read_count_ - parsed_ <= kReadAheadChunks / 2) reader_cv_.notify_one();
    }
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    reader_cv_.notify_one();
  }

  Parser& parser_;
  const ReadFn& read_fn_;
  Buffers buffers_;
  std::array<Chunk, kReadAheadChunks> chunks_;
  std::mutex mu_;
  std::condition_variable reader_cv_;  // the reader waits for free buffers
  std::condition_variable parser_cv_;  // the parser waits for read ones
  // Guarded by mu_: chunks read and parsed so far.
  uint64_t read_count_ = 0;
  uint64_t parsed_ = 0;
  bool at_end_ = false;  // the last read returned 0 or failed
  bool reader_waiting_ = false;
  bool parser_waiting_ = false;
  bool stop_ = false;
  bool ok_ = true;
};

}  // namespace

bool FeedParallel(Parser& parser, const ReadFn& read) { return ReadPipeline(parser, read).Run(); }

}  // namespace vigil::ktap
