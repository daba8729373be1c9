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
constexpr size_t kChunkBytes = 256 << 10;
constexpr size_t kSlots = 4;
constexpr size_t kMinParallelBytes = 1 << 20;

// A batch of classified lines and the bytes its views point into.
struct Slot {
  LineBatch batch;
  std::unique_ptr<char[]> chunk;  // ReadFn mode only
  std::string_view range;         // the bytes the batch was read from
  bool last = false;              // ReadFn mode: the input ends in `range`
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

bool FeedParallel(Parser& parser, const ReadFn& read) {
  // This thread reads the chunks (system calls and copies, which would
  // otherwise all fall on the second thread) and builds the tree; the second
  // thread splits and classifies each chunk's lines.
  LineReader& reader = parser.reader();
  std::array<Slot, kSlots> slots;
  SlotQueue queue;
  bool ok = true;
  bool at_end = false;
  // Reads the next chunk into `s` and hands it to the second thread.
  auto fill = [&](Slot* s) {
    if (at_end) return;
    if (!s->chunk) s->chunk = std::make_unique<char[]>(kChunkBytes);
    size_t got = 0;
    while (got < kChunkBytes) {
      long n = read(s->chunk.get() + got, kChunkBytes - got);
      if (n < 0) ok = false;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    s->range = std::string_view(s->chunk.get(), got);
    s->last = got < kChunkBytes;  // end of input or error
    at_end = s->last;
    queue.GiveFree(s);
  };
  std::thread producer([&] {
    while (Slot* s = queue.TakeFree()) {
      bool last = s->last;
      s->batch.Clear();
      // The whole chunk goes into this batch: its views must not outlive the
      // slot, and the chunk is refilled only after the batch was consumed.
      reader.Read(s->range, &s->batch);
      queue.GiveFull(s);
      if (last) break;
    }
    queue.Close();
  });
  try {
    for (auto& s : slots) fill(&s);
    while (Slot* s = queue.TakeFull()) {
      parser.Consume(s->batch);
      fill(s);
    }
  } catch (...) {
    // Out of memory while building the tree: stop the reader, then rethrow.
    queue.Close();
    producer.join();
    throw;
  }
  producer.join();
  return ok;
}

}  // namespace vigil::ktap
