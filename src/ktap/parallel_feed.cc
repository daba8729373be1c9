#include "ktap/parallel_feed.h"

#include <array>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

namespace vigil::ktap {
namespace {

// Chunk i of the input goes through buffer i % kReadAheadChunks: the reading
// thread fills it once the parser is done with chunk i - kReadAheadChunks, the
// calling thread parses it once it was read.
class ReadPipeline {
 public:
  ReadPipeline(Parser& parser, const ReadFn& read) : parser_(parser), read_fn_(read) {}

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
    std::unique_ptr<char[]> bytes;
    std::string_view data;  // what the read returned
  };

  // Second thread: reads chunk after chunk while a buffer is free.
  void ReadAll() {
    for (uint64_t c = 0;; ++c) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || c - parsed_ < kReadAheadChunks; });
        if (stop_) return;
      }
      Chunk& chunk = chunks_[c % kReadAheadChunks];
      if (!chunk.bytes) chunk.bytes = std::make_unique_for_overwrite<char[]>(kReadChunkBytes);
      long n = read_fn_(chunk.bytes.get(), kReadChunkBytes);
      chunk.data = std::string_view(chunk.bytes.get(), n > 0 ? static_cast<size_t>(n) : 0);
      std::lock_guard<std::mutex> lock(mu_);
      if (n <= 0) {
        ok_ = n == 0;
        at_end_ = true;
        cv_.notify_all();
        return;
      }
      read_count_ = c + 1;
      cv_.notify_all();
    }
  }

  // Calling thread: parses the chunks in order as they arrive.
  void ParseAll() {
    for (uint64_t c = 0;; ++c) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return c < read_count_ || at_end_; });
        if (c >= read_count_) return;  // at the end, and every chunk read was parsed
      }
      parser_.Feed(chunks_[c % kReadAheadChunks].data);
      std::lock_guard<std::mutex> lock(mu_);
      parsed_ = c + 1;
      cv_.notify_all();
    }
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }

  Parser& parser_;
  const ReadFn& read_fn_;
  std::array<Chunk, kReadAheadChunks> chunks_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_: chunks read and parsed so far.
  uint64_t read_count_ = 0;
  uint64_t parsed_ = 0;
  bool at_end_ = false;  // the last read returned 0 or failed
  bool stop_ = false;
  bool ok_ = true;
};

}  // namespace

bool FeedParallel(Parser& parser, const ReadFn& read) { return ReadPipeline(parser, read).Run(); }

}  // namespace vigil::ktap
