// First stage of the KTAP engine: splits bytes into lines, bounds their
// length, finds where KTAP starts, strips the console prefix learned there
// and classifies every line, handing each to the Parser as it goes. No I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ktap/find_byte.h"
#include "ktap/line.h"
#include "ktap/prefix.h"

namespace vigil::ktap {

struct ReadLine {
  enum class Kind : uint8_t {
    kBeforeKtap,  // console output before the first KTAP line: ignored
    kNoise,       // after KTAP started, but without the console prefix
    kKtap,        // prefix stripped, classified in `line`
  };
  // kKtap: classified, console prefix stripped; kNoise: line.body() only.
  // Lines are numbered by their order: one ReadLine per input line.
  Line line;
  uint32_t truncated_bytes = 0;  // bytes cut from an over-long line (saturates)
  Kind kind = Kind::kBeforeKtap;
  bool starts_ktap = false;            // the first KTAP line
  bool start_without_version = false;  // ... and it was a result or plan
};

// Calls `sink(const ReadLine&)` for every line, in input order. The
// ReadLine and the views in it are valid only during the call: they point
// into the bytes given to Read() or into the reader's own copy of a line that
// spanned calls. Each line is classified and handed over at once, so the
// record is still in the L1 cache when the sink uses it.
class LineReader {
 public:
  // Lines longer than `max_line_bytes` (at most Line::kMaxBytes) are cut.
  explicit LineReader(size_t max_line_bytes)
      : max_line_bytes_(max_line_bytes < Line::kMaxBytes ? max_line_bytes : Line::kMaxBytes) {}
  size_t max_line_bytes() const { return max_line_bytes_; }

  // Reads the complete lines of `bytes`; an incomplete last line is kept
  // until more bytes come.
  template <typename Sink>
  void Read(std::string_view bytes, Sink&& sink);
  // Reads one whole line (no '\n').
  template <typename Sink>
  void ReadOne(std::string_view line, Sink&& sink) {
    size_t dropped = 0;
    if (line.size() > max_line_bytes_) {
      dropped = line.size() - max_line_bytes_;
      line = line.substr(0, max_line_bytes_);
    }
    sink(Emit(line, dropped));
  }
  // Ends the input: reads a last line that had no '\n'.
  template <typename Sink>
  void Flush(Sink&& sink) {
    if (partial_.empty() && partial_dropped_ == 0) return;
    sink(Emit(partial_, partial_dropped_));
    partial_.clear();
    partial_dropped_ = 0;
  }

  bool started() const { return started_; }
  uint64_t line_count() const { return line_no_; }

 private:
  // One line of any kind (before KTAP, with a console prefix, cut) into
  // scratch_.
  const ReadLine& Emit(std::string_view raw, size_t truncated);
  void TryStart(std::string_view text, ReadLine* out);
  // Appends `piece` (cut at max_line_bytes_, the rest counted as dropped) to
  // the line that spans calls, and returns that line as held so far.
  std::string_view Continue(std::string_view piece);

  size_t max_line_bytes_;
  ConsolePrefix prefix_;
  bool started_ = false;
  uint64_t line_no_ = 0;
  std::string partial_;
  size_t partial_dropped_ = 0;
  ReadLine scratch_;
};

namespace line_reader_internal {

inline std::string_view TrimTrailing(std::string_view s) {
  size_t n = s.size();
  // Every byte trimmed is <= ' ': most lines end in a byte above it.
  while (n > 0 && static_cast<unsigned char>(s[n - 1]) <= ' ' &&
         (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
    --n;
  }
  return s.substr(0, n);
}

}  // namespace line_reader_internal

template <typename Sink>
void LineReader::Read(std::string_view bytes, Sink&& sink) {
  while (!bytes.empty()) {
    if (started_ && prefix_.empty() && partial_.empty()) {
      // The common case: whole lines of unprefixed KTAP, in a tight loop.
      const char* p = bytes.data();
      const char* const end = p + bytes.size();
      ReadLine& out = scratch_;
      out.truncated_bytes = 0;
      out.kind = ReadLine::Kind::kKtap;
      out.starts_ktap = false;
      out.start_without_version = false;
      while (true) {
        size_t len = FindByte(p, static_cast<size_t>(end - p), '\n');
        if (p + len == end || len > max_line_bytes_) break;  // for the general path
        ClassifyLine(line_reader_internal::TrimTrailing(std::string_view(p, len)), &out.line);
        ++line_no_;
        sink(static_cast<const ReadLine&>(out));
        p += len + 1;
      }
      bytes.remove_prefix(static_cast<size_t>(p - bytes.data()));
      if (bytes.empty()) break;
    }
    size_t len = FindByte(bytes.data(), bytes.size(), '\n');
    bool nl = len < bytes.size();
    std::string_view piece = bytes.substr(0, len);
    if (partial_.empty() && nl && piece.size() <= max_line_bytes_) {
      sink(Emit(piece, 0));
    } else {
      std::string_view line = Continue(piece);
      if (nl) {
        sink(Emit(line, partial_dropped_));
        partial_.clear();
        partial_dropped_ = 0;
      }
    }
    if (!nl) break;
    bytes.remove_prefix(len + 1);
  }
}

}  // namespace vigil::ktap
