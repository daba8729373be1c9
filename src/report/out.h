// Where a report's text goes: a buffer that a big report hands on to a sink
// (standard output) in pieces as it is written, or keeps whole (reports
// returned as strings).
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::ktap {
class Chunk;
}

namespace vigil::report {

// Bytes written through a pointer, for the busiest writers: Room(n) is where
// the next n bytes may go, Done(end) keeps what was written up to `end`.
// Past 64 KiB the bytes live in huge pages (2 MiB at a time) while they pay
// (ktap::HugePagesPay): on a virtual machine a fresh 4 KiB page costs a trap
// of ~10 us, a megabyte 2.5 ms.
class Buffer {
 public:
  Buffer();
  ~Buffer();
  char* Room(size_t n) {
    if (cap_ - size_ < n) Grow(n);
    return data_ + size_;
  }
  void Done(char* end) { size_ = static_cast<size_t>(end - data_); }
  void Put(std::string_view s) {
    std::memcpy(Room(s.size()), s.data(), s.size());
    size_ += s.size();
  }
  std::string_view view() const { return {data_, size_}; }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }

  // Bytes a full buffer handed over, and the memory that holds them.
  struct Full {
    std::unique_ptr<ktap::Chunk> chunk;
    size_t size = 0;
    std::string_view view() const;
  };
  // From now on, when Room(n) does not fit, the bytes written so far go to
  // `full` as they are and writing goes on in fresh memory of at least
  // 2 MiB: nothing is copied, and view() is only what came since. Called
  // before anything is written.
  void HandFullTo(std::vector<Full>* full) { full_ = full; }

 private:
  void Grow(size_t n);
  // Where the bytes are: on the heap, or past 64 KiB in a chunk of huge pages.
  std::unique_ptr<char[]> heap_;
  std::unique_ptr<ktap::Chunk> mapped_;
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
  std::vector<Full>* full_ = nullptr;
};

// An integer's digits into Buffer::Room memory: at most 20 characters
// (INT64_MIN); returns their end.
inline char* PutInt(char* p, int64_t v) { return std::to_chars(p, p + 20, v).ptr; }

class Out {
 public:
  // Keeps everything: Take() returns it.
  Out() = default;
  // Hands the text on to `sink` a piece at a time; a sink that returns false
  // failed, and the rest of the text is discarded.
  explicit Out(std::function<bool(std::string_view)> sink) : sink_(std::move(sink)) {}

  std::string& buf() { return buf_; }
  // Called between tests: hands the buffer on once it holds a piece.
  void Step() {
    if (sink_ && buf_.size() >= kPiece) Flush();
  }
  // Hands everything written on. False if the sink ever failed.
  bool Flush() {
    if (sink_ && !buf_.empty()) {
      if (ok_) ok_ = sink_(buf_);
      buf_.clear();
    }
    return ok_;
  }
  std::string Take() { return std::move(buf_); }
  // Text written elsewhere, after what is written here so far.
  void Append(std::string_view text) {
    if (!sink_) {
      buf_ += text;
      return;
    }
    Flush();
    if (ok_ && !text.empty()) ok_ = sink_(text);
  }

  // Writes items 0..n-1 in order with write(i, buffer). Many items (the
  // top-level tests of a big document) are written in blocks that this
  // thread and a helper take in turn, whichever is free first, so that
  // formatting a big report keeps both cores busy; a block done ahead of its
  // turn waits in a buffer of its own (a few blocks at most). `write` must
  // only read what it shares.
  void WriteInOrder(size_t n, const std::function<void(size_t, std::string&)>& write);
  void WriteInOrder(size_t n, const std::function<void(size_t, Buffer&)>& write);

 private:
  static constexpr size_t kPiece = 1 << 20;
  std::function<bool(std::string_view)> sink_;
  std::string buf_;
  bool ok_ = true;
};

}  // namespace vigil::report
