#include "ktap/parallel_feed.h"

#include <array>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace vigil::ktap {
namespace {

constexpr size_t kLinesPerBatch = 4096;
// ReadFn mode: bytes per read chunk. Small enough that a chunk and its
// classified lines (64 bytes per line) stay in a core's L2 cache while they
// are written and read back.
constexpr size_t kChunkBytes = 128 << 10;
constexpr size_t kSlots = 4;
constexpr size_t kMinParallelBytes = 1 << 20;

// A batch of classified lines and the bytes its views point into.
struct Slot {
  LineBatch batch;
  std::unique_ptr<char[]> chunk;  // ReadFn mode only
  std::string_view range;         // the bytes the batch was read from
};

// Slots travel reader -> parser through `full` and come back through `free`.
class SlotQueue {
 public:
  Slot* TakeFree() { return Pop(&free_); }  // null once Close()d
  void GiveFree(Slot* s) { Push(&free_, s); }
  Slot* TakeFull() { return Pop(&full_); }  // null once Close() and drained
  void GiveFull(Slot* s) { Push(&full_, s); }
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  void Push(std::deque<Slot*>* q, Slot* s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      q->push_back(s);
    }
    cv_.notify_all();
  }
  Slot* Pop(std::deque<Slot*>* q) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !q->empty() || closed_; });
    if (q->empty() || (closed_ && q == &free_)) return nullptr;
    Slot* s = q->front();
    q->pop_front();
    return s;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Slot*> free_;
  std::deque<Slot*> full_;
  bool closed_ = false;
};

// Runs `produce` (which fills slots and hands them over) on a second thread
// and consumes the slots here, in order.
template <typename Produce>
void Pipeline(Parser& parser, Produce produce,
              const std::function<void(std::string_view)>* release = nullptr) {
  std::array<Slot, kSlots> slots;
  SlotQueue queue;
  for (auto& s : slots) queue.GiveFree(&s);
  std::thread producer([&] {
    produce(queue);
    queue.Close();
  });
  try {
    while (Slot* s = queue.TakeFull()) {
      parser.Consume(s->batch);
      if (release && !s->range.empty()) (*release)(s->range);
      queue.GiveFree(s);
    }
  } catch (...) {
    // Out of memory while building the tree: stop the reader, then rethrow.
    queue.Close();
    producer.join();
    throw;
  }
  producer.join();
}

}  // namespace

void FeedParallel(Parser& parser, std::string_view data) {
  if (data.size() < kMinParallelBytes) {
    parser.Feed(data);
    return;
  }
  LineReader& reader = parser.reader();
  Pipeline(parser, [&](SlotQueue& queue) {
    std::string_view rest = data;
    while (!rest.empty()) {
      Slot* s = queue.TakeFree();
      if (!s) return;
      s->batch.Clear();
      rest.remove_prefix(reader.Read(rest, &s->batch, kLinesPerBatch));
      queue.GiveFull(s);
    }
  });
}

void FeedParallel(Parser& parser, std::string_view data,
                  const std::function<void(std::string_view chunk)>& release) {
  LineReader& reader = parser.reader();
  Pipeline(
      parser,
      [&](SlotQueue& queue) {
        for (size_t off = 0; off < data.size(); off += kChunkAlign) {
          std::string_view chunk = data.substr(off, kChunkAlign);
          std::string_view rest = chunk;
          while (!rest.empty()) {
            Slot* s = queue.TakeFree();
            if (!s) return;
            s->batch.Clear();
            // A line cut at the chunk's end is copied into the next batch, so
            // no batch refers to an earlier chunk; the chunk is released with
            // its last batch.
            rest.remove_prefix(reader.Read(rest, &s->batch, kLinesPerBatch));
            s->range = rest.empty() ? chunk : std::string_view();
            queue.GiveFull(s);
          }
        }
      },
      &release);
}

namespace {

// The pipeline of FeedParallel(parser, read). Chunk i of the input goes
// through slot i % kSlots: it is read (by whichever thread gets to it first),
// split and classified (second thread), then consumed (calling thread).
// Reading is the only stage either thread may do: the calling thread reads
// ahead when it would otherwise wait for classified lines, and the second
// thread reads a chunk itself when nobody read it yet, so the system calls and
// copies fall on the less busy thread. One read at a time, in input order.
class ReadPipeline {
 public:
  ReadPipeline(Parser& parser, const ReadFn& read) : parser_(parser), read_(read) {}

  bool Run() {
    std::thread classifier([this] { Classify(); });
    try {
      Consume();
    } catch (...) {
      // Out of memory while building the tree: stop the reader, then rethrow.
      Stop();
      classifier.join();
      throw;
    }
    classifier.join();
    return ok_;
  }

 private:
  // Second thread: classifies chunk after chunk, reading those nobody read.
  void Classify() {
    LineReader& reader = parser_.reader();
    for (uint64_t c = 0;; ++c) {
      std::unique_lock<std::mutex> lock(mu_);
      while (c >= read_next_) {
        if (stop_ || at_end_) return;
        if (CanRead()) {
          ReadNext(lock);
        } else {
          cv_.wait(lock);
        }
      }
      if (stop_) return;
      lock.unlock();
      Slot& s = slots_[c % kSlots];
      s.batch.Clear();
      // The whole chunk goes into this batch: its views must not outlive the
      // slot, and the chunk is refilled only after the batch was consumed.
      reader.Read(s.range, &s.batch);
      lock.lock();
      classified_ = c + 1;
      cv_.notify_all();
    }
  }

  // Calling thread: consumes classified chunks in order, reading ahead while
  // it waits for them.
  void Consume() {
    for (uint64_t c = 0;; ++c) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        while (c >= classified_) {
          if (at_end_ && c >= read_next_) return;
          if (CanRead()) {
            ReadNext(lock);
          } else {
            cv_.wait(lock);
          }
        }
      }
      parser_.Consume(slots_[c % kSlots].batch);
      std::lock_guard<std::mutex> lock(mu_);
      consumed_ = c + 1;
      cv_.notify_all();
    }
  }

  // Whether the next chunk may be read now: nobody is reading, the input
  // goes on, and its slot was consumed.
  bool CanRead() const { return !reading_ && !at_end_ && !stop_ && read_next_ - consumed_ < kSlots; }

  // Reads chunk read_next_ into its slot, with `lock` released meanwhile.
  void ReadNext(std::unique_lock<std::mutex>& lock) {
    reading_ = true;
    Slot& s = slots_[read_next_ % kSlots];
    lock.unlock();
    if (!s.chunk) s.chunk = std::make_unique_for_overwrite<char[]>(kChunkBytes);
    size_t got = 0;
    bool failed = false;
    while (got < kChunkBytes) {
      long n = read_(s.chunk.get() + got, kChunkBytes - got);
      if (n < 0) failed = true;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    s.range = std::string_view(s.chunk.get(), got);
    lock.lock();
    reading_ = false;
    if (failed) ok_ = false;
    at_end_ = got < kChunkBytes;  // end of input or error
    ++read_next_;
    cv_.notify_all();
  }

  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }

  Parser& parser_;
  const ReadFn& read_;
  std::array<Slot, kSlots> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_: chunks read, classified and consumed so far.
  uint64_t read_next_ = 0;
  uint64_t classified_ = 0;
  uint64_t consumed_ = 0;
  bool reading_ = false;  // a thread is reading chunk read_next_
  bool at_end_ = false;   // the chunk before read_next_ was the last
  bool stop_ = false;
  bool ok_ = true;
};

}  // namespace

bool FeedParallel(Parser& parser, const ReadFn& read) { return ReadPipeline(parser, read).Run(); }

}  // namespace vigil::ktap
