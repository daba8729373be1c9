// First stage of the KTAP engine: splits bytes into lines, bounds their
// length, finds where KTAP starts, strips the console prefix learned there
// and classifies every line. It holds no tree state, so a big input can be
// read on one thread while the Parser builds the tree on another
// (parallel_feed.h). No I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

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

// Lines read by one call; views point into the bytes given to Read() or into
// `spill` (lines that spanned calls), so a batch stays valid as long as those
// bytes do, whatever the reader does next.
struct LineBatch {
  std::vector<ReadLine> lines;
  std::deque<std::string> spill;
  size_t size = 0;  // lines in use; `lines` keeps its capacity across Clear()

  void Clear() {
    size = 0;
    spill.clear();
  }
  ReadLine& Next() {
    if (size == lines.size()) lines.emplace_back();
    return lines[size++];
  }
};

class LineReader {
 public:
  // Lines longer than `max_line_bytes` (at most Line::kMaxBytes) are cut.
  explicit LineReader(size_t max_line_bytes)
      : max_line_bytes_(max_line_bytes < Line::kMaxBytes ? max_line_bytes : Line::kMaxBytes) {}
  size_t max_line_bytes() const { return max_line_bytes_; }

  // Reads complete lines of `bytes` into `batch`, at most `max_lines`, and
  // returns how many bytes it consumed; an incomplete last line is kept
  // (and its bytes consumed) until more bytes come.
  size_t Read(std::string_view bytes, LineBatch* batch, size_t max_lines = SIZE_MAX);
  // Reads one whole line (no '\n').
  void ReadOne(std::string_view line, LineBatch* batch);
  // Ends the input: reads a last line that had no '\n'.
  void Flush(LineBatch* batch);

  bool started() const { return started_; }
  uint64_t line_count() const { return line_no_; }

 private:
  // Read() once started without a console prefix and with no partial line:
  // reads whole lines of at most max_line_bytes_ and stops before any other
  // (the general loop takes it). Returns the bytes consumed.
  size_t ReadUnprefixed(std::string_view bytes, LineBatch* batch, size_t max_lines);
  void Emit(std::string_view raw, size_t truncated, bool spill, LineBatch* batch);
  void TryStart(std::string_view text, ReadLine* out);

  size_t max_line_bytes_;
  ConsolePrefix prefix_;
  bool started_ = false;
  uint64_t line_no_ = 0;
  std::string partial_;
  size_t partial_dropped_ = 0;
};

}  // namespace vigil::ktap
