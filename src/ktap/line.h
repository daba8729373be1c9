// Classification of one KTAP line, after any console prefix was removed.
// Pure functions, no state: the parser decides what a line means in context.
#pragma once

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

// Nesting key of a line: its indentation in columns (tab = next multiple of
// 8) with the positions of kselftest `# ` markers (one column each). A line
// is nested under another when that one's key is a proper prefix of its key.
// The first kMaxColumns columns are told apart; deeper indentation folds.
// 16 bytes: classified lines are handed between threads in bulk.
class NestKey {
 public:
  static constexpr uint32_t kMaxColumns = 96;

  void Clear() {
    len_ = 0;
    marks_lo_ = 0;
    marks_hi_ = 0;
  }
  void AddSpaces(uint32_t n) { len_ = len_ + n > kMaxColumns ? kMaxColumns : len_ + n; }
  void AddMarker() {
    if (len_ >= kMaxColumns) return;
    if (len_ < 64) {
      marks_lo_ |= uint64_t{1} << len_;
    } else {
      marks_hi_ |= uint32_t{1} << (len_ - 64);
    }
    ++len_;
  }
  // Cuts the key back to its first `len` columns.
  void Truncate(uint32_t len);
  uint32_t size() const { return len_; }
  bool IsPrefixOf(const NestKey& other) const;
  bool operator==(const NestKey& o) const {
    return len_ == o.len_ && marks_lo_ == o.marks_lo_ && marks_hi_ == o.marks_hi_;
  }
  // ' ' per column, '#' per marker: "#  " for "#   ok 1".
  std::string ToString() const;

 private:
  bool IsMarker(uint32_t col) const {
    return col < 64 ? (marks_lo_ >> col) & 1 : (marks_hi_ >> (col - 64)) & 1;
  }

  uint64_t marks_lo_ = 0;
  uint32_t marks_hi_ = 0;
  uint32_t len_ = 0;
};

struct Line {
  NestKey key;
  std::string_view body;  // text after the key (the whole line for kOther)
  // kResult: its number; kVersion: the version; kPlan: the planned count.
  int64_t number = 0;
  // kResult, kSubtestHeader (NAME), kBailOut (reason)
  std::string_view name;
  // kResult, kPlan (SKIP only)
  std::string_view directive_text;
  std::optional<int64_t> duration_ms;
  std::optional<int> exit_code;
  LineKind kind = LineKind::kBlank;
  Directive directive = Directive::kNone;
  bool ktap = false;  // kVersion: KTAP (true) or TAP (false)
  bool ok = false;    // kResult
};

// Classifies `text` (one line, no newline, trailing whitespace removed) into
// `*out`. Views in `*out` point into `text`.
void ClassifyLine(std::string_view text, Line* out);

// Classifies the part of a line after its nesting key (no key computation).
// Used to find a version line anywhere in unprefixed console output.
LineKind ClassifyBody(std::string_view body, Line* out);

// Parses "time=12ms", "time=1.5s" anywhere in `text`; nullopt when absent.
std::optional<int64_t> FindDurationMs(std::string_view text);

}  // namespace vigil::ktap
