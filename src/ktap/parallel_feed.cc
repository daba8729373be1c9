#include "ktap/parallel_feed.h"

#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace vigil::ktap {
namespace {

constexpr size_t kLinesPerBatch = 4096;
constexpr size_t kSlots = 4;
constexpr size_t kMinParallelBytes = 1 << 20;

// Batches travel reader -> parser through `full` and come back through `free`.
class BatchQueue {
 public:
  void Push(std::deque<LineBatch*>* q, LineBatch* b) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      q->push_back(b);
    }
    cv_.notify_all();
  }
  // Returns null when `q` is empty and `done` is set.
  LineBatch* Pop(std::deque<LineBatch*>* q, const bool* done = nullptr) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !q->empty() || (done && *done); });
    if (q->empty()) return nullptr;
    LineBatch* b = q->front();
    q->pop_front();
    return b;
  }
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
  }

  std::deque<LineBatch*> full;
  std::deque<LineBatch*> free;
  bool done_ = false;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace

void FeedParallel(Parser& parser, std::string_view data) {
  if (data.size() < kMinParallelBytes) {
    parser.Feed(data);
    return;
  }
  std::array<LineBatch, kSlots> slots;
  BatchQueue queue;
  for (auto& s : slots) queue.free.push_back(&s);
  LineReader& reader = parser.reader();
  std::thread producer([&] {
    std::string_view rest = data;
    while (!rest.empty()) {
      LineBatch* b = queue.Pop(&queue.free);
      b->Clear();
      size_t n = reader.Read(rest, b, kLinesPerBatch);
      rest.remove_prefix(n);
      queue.Push(&queue.full, b);
    }
    queue.Finish();
  });
  while (LineBatch* b = queue.Pop(&queue.full, &queue.done_)) {
    parser.Consume(*b);
    queue.Push(&queue.free, b);
  }
  producer.join();
}

}  // namespace vigil::ktap
