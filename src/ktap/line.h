// Classification of one KTAP line, after any console prefix was removed.
// Pure functions, no state: the parser decides what a line means in context.
#pragma once

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ktap/result.h"

namespace vigil::ktap {

enum class LineKind : uint8_t {
  kBlank,
  kVersion,        // KTAP version N / TAP version N
  kPlan,           // 1..N [# SKIP reason]
  kResult,         // ok|not ok N [- ]DESC [# DIRECTIVE text]
  kSubtestHeader,  // # Subtest: NAME
  kBailOut,        // Bail out! reason
  kDiagnostic,     // # anything else
  kOther,          // not KTAP: kernel noise, program output
};

// Tests nest at most this deep (1 = a top-level test): deeper blocks are
// folded into the deepest one and reported. Every reader and writer of KTAP
// here (the parser, the stored subtests, the KTAP and JUnit reports) keeps
// to it, so vigil's own output reads back the same.
inline constexpr size_t kMaxNestingDepth = 64;

// Nesting key of a line: its indentation in columns (tab = next multiple of
// 8) with the positions of kselftest `# ` markers (one column each). A line
// is nested under another when that one's key is a proper prefix of its key.
// Keys are told apart by their width up to kMaxColumns columns (enough for
// kMaxNestingDepth levels of tabs plus the runner's markers) and by the
// positions of markers in their first kMarkerColumns columns; a marker
// further right counts as a column. Deeper indentation folds.
// 16 bytes: classified lines are handed between threads in bulk.
class NestKey {
 public:
  static constexpr uint32_t kMaxColumns = 1024;
  static constexpr uint32_t kMarkerColumns = 96;
  static_assert(kMaxColumns >= kMaxNestingDepth * 8 + kMarkerColumns, "tab-indented KTAP at the depth limit");

  void Clear() {
    len_ = 0;
    marks_lo_ = 0;
    marks_hi_ = 0;
  }
  void AddSpaces(uint32_t n) { len_ = len_ + n > kMaxColumns ? kMaxColumns : len_ + n; }
  void AddMarker() {
    if (len_ >= kMaxColumns) return;
    if (len_ >= kMarkerColumns) {
      ++len_;
    } else if (len_ < 64) {
      marks_lo_ |= uint64_t{1} << len_;
    } else {
      marks_hi_ |= uint32_t{1} << (len_ - 64);
    }
    ++len_;
  }
  // Cuts the key back to its first `len` columns.
  void Truncate(uint32_t len);
  uint32_t size() const { return len_; }
  bool IsPrefixOf(const NestKey& other) const {
    if (len_ > other.len_) return false;
    if ((other.marks_lo_ & LowBits64(len_)) != marks_lo_) return false;
    return (other.marks_hi_ & (len_ > 64 ? LowBits32(len_ - 64) : 0)) == marks_hi_;
  }
  bool operator==(const NestKey& o) const {
    return len_ == o.len_ && marks_lo_ == o.marks_lo_ && marks_hi_ == o.marks_hi_;
  }
  // ' ' per column, '#' per marker: "#  " for "#   ok 1".
  std::string ToString() const;

 private:
  static uint64_t LowBits64(uint32_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }
  static uint32_t LowBits32(uint32_t n) { return n >= 32 ? ~uint32_t{0} : (uint32_t{1} << n) - 1; }
  bool IsMarker(uint32_t col) const {
    if (col >= kMarkerColumns) return false;
    return col < 64 ? (marks_lo_ >> col) & 1 : (marks_hi_ >> (col - 64)) & 1;
  }

  uint64_t marks_lo_ = 0;
  uint32_t marks_hi_ = 0;
  uint32_t len_ = 0;
};

// One classified line. Its views point into the text that was classified;
// they are kept as offsets so that a line is one cache line (64 bytes), which
// matters when millions of them are handed between threads.
class Line {
 public:
  // Longest line a Line can describe; readers cut longer lines.
  static constexpr size_t kMaxBytes = 65535;

  NestKey key;
  // kResult: its number; kVersion: the version; kPlan: the planned count.
  int64_t number = 0;

  // Text after the key (the whole line for kOther).
  std::string_view body() const { return {text_, body_len_}; }
  // kResult: the description; kSubtestHeader: NAME; kBailOut: the reason.
  std::string_view name() const { return {text_ + name_off_, name_len_}; }
  // Text after the directive keyword (kResult, kPlan).
  std::string_view directive_text() const { return {text_ + dir_off_, dir_len_}; }
  std::optional<int64_t> duration_ms() const {
    return duration_ms_ < 0 ? std::nullopt : std::optional<int64_t>(duration_ms_);
  }
  std::optional<int> exit_code() const {
    return exit_code_ == kNoExitCode ? std::nullopt : std::optional<int>(exit_code_);
  }

  // For the classifier: the body first (at most kMaxBytes), then views that
  // lie inside it.
  void set_body(std::string_view b) {
    text_ = b.data();
    body_len_ = static_cast<uint16_t>(b.size() > kMaxBytes ? kMaxBytes : b.size());
    name_off_ = name_len_ = dir_off_ = dir_len_ = 0;
    duration_ms_ = -1;
    exit_code_ = kNoExitCode;
  }
  void set_name(std::string_view n) { Place(n, &name_off_, &name_len_); }
  void set_directive_text(std::string_view t) { Place(t, &dir_off_, &dir_len_); }
  void set_duration_ms(std::optional<int64_t> ms);
  void set_exit_code(int code) { exit_code_ = code == kNoExitCode ? code + 1 : code; }

 private:
  static constexpr int32_t kNoExitCode = INT32_MIN;

  void Place(std::string_view v, uint16_t* off, uint16_t* len) {
    if (v.empty()) {
      *off = *len = 0;
      return;
    }
    *off = static_cast<uint16_t>(v.data() - text_);
    *len = static_cast<uint16_t>(v.size());
  }

  // Offsets into the body keep a Line small: millions of them are handed
  // between threads.
  const char* text_ = "";
  uint16_t body_len_ = 0;
  uint16_t name_off_ = 0;
  uint16_t name_len_ = 0;
  uint16_t dir_off_ = 0;
  uint16_t dir_len_ = 0;
  int32_t exit_code_ = kNoExitCode;
  int32_t duration_ms_ = -1;  // saturates at ~24 days

 public:
  LineKind kind = LineKind::kBlank;
  Directive directive = Directive::kNone;  // kResult; kPlan (SKIP only)
  bool ktap = false;  // kVersion: KTAP (true) or TAP (false)
  bool ok = false;    // kResult
};

// Classifies `text` (one line, no newline, trailing whitespace removed) into
// `*out` (`text` at most Line::kMaxBytes long; longer text is cut). Views in
// `*out` point into `text`.
void ClassifyLine(std::string_view text, Line* out);

// Classifies the part of a line after its nesting key (no key computation).
// Used to find a version line anywhere in unprefixed console output.
LineKind ClassifyBody(std::string_view body, Line* out);

// Parses "time=12ms", "time=1.5s" anywhere in `text`; nullopt when absent.
std::optional<int64_t> FindDurationMs(std::string_view text);

}  // namespace vigil::ktap
