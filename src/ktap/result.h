// The result tree a KTAP parse produces, and the status model shared by every
// report. A node is a test; a node with subtests is a parent whose status is
// derived from its children and its own result line.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/status.h"

namespace vigil::ktap {

enum class Status : uint8_t {
  kPass,
  kFail,
  kSkip,
  kXfail,    // expected failure (TODO on a failing test, XFAIL, kselftest exit 2)
  kXpass,    // unexpected pass (TODO on a passing test, XPASS, kselftest exit 3)
  kTimeout,
  kError,    // the test could not run properly (`# error`)
  kCrash,    // result missing: interrupted, truncated output, crashed kernel
  kNoTests,  // a parent that ran no subtests
};
inline constexpr int kNumStatuses = 9;
static_assert(static_cast<int>(model::TestStatus::kNoTests) == static_cast<int>(Status::kNoTests) &&
                  static_cast<int>(model::TestStatus::kPass) == static_cast<int>(Status::kPass),
              "ktap::Status is the first part of model::TestStatus");
// The same status in the whole model's terms.
inline model::TestStatus ToTestStatus(Status s) { return static_cast<model::TestStatus>(s); }

// "PASS", "FAIL", ... as used in every output format.
std::string_view StatusName(Status s);
// Whether the status makes a run fail (FAIL, XPASS, TIMEOUT, ERROR, CRASH).
inline bool IsFailure(Status s) {
  return s == Status::kFail || s == Status::kXpass || s == Status::kTimeout || s == Status::kError ||
         s == Status::kCrash;
}
// Ordering used to combine statuses: higher is worse.
inline int Severity(Status s) {
  switch (s) {
    case Status::kNoTests: return 0;
    case Status::kSkip: return 1;
    case Status::kXfail: return 2;
    case Status::kPass: return 2;
    case Status::kXpass: return 3;
    case Status::kFail: return 4;
    case Status::kError: return 5;
    case Status::kTimeout: return 6;
    case Status::kCrash: return 7;
  }
  return 0;
}

enum class Directive : uint8_t { kNone, kSkip, kTodo, kXfail, kXpass, kTimeout, kError };
std::string_view DirectiveName(Directive d);

// Leaf counts, one per status, plus parse errors. A parent contributes its
// own result only when its children don't explain it (e.g. `not ok` with
// all-passing children counts as one failure). NO_TESTS parents are counted
// apart from Total().
struct Counts {
  std::array<int64_t, kNumStatuses> by_status{};
  int64_t errors = 0;  // parse errors

  int64_t Get(Status s) const { return by_status[static_cast<int>(s)]; }
  void Add(Status s, int64_t n = 1) { by_status[static_cast<int>(s)] += n; }
  void Merge(const Counts& other) {
    for (int i = 0; i < kNumStatuses; ++i) by_status[i] += other.by_status[i];
    errors += other.errors;
  }
  // Leaf tests counted (everything but NO_TESTS).
  int64_t Total() const {
    int64_t t = 0;
    for (int i = 0; i < kNumStatuses; ++i) t += by_status[i];
    return t - Get(Status::kNoTests);
  }
  // Aggregate status of a set of leaves: crash > failure > pass > all-skip;
  // NO_TESTS when empty.
  Status Aggregate() const;
};

// Output lines attributed to a test (diagnostics, kernel noise, program
// output), kept in one buffer of '\n'-terminated lines, capped in lines and
// line length; lines over the cap are counted as dropped.
class TestLog {
 public:
  // Keeps `line` (cut to max_line_bytes) unless the log already holds
  // max_lines lines or max_bytes bytes; otherwise counts it as dropped.
  void Append(std::string_view line, size_t max_lines, size_t max_line_bytes,
              size_t max_bytes = SIZE_MAX);
  // Appends all of `other` after this log's lines, within `max_lines`.
  // `other` is left empty but keeps a buffer, so a log that is filled and
  // handed over again and again does not allocate each time.
  void Splice(TestLog& other, size_t max_lines);
  void Clear() {
    text_.clear();
    lines_ = 0;
    dropped_ = 0;
  }
  void AddDropped(int64_t n) { dropped_ += n; }
  bool empty() const { return lines_ == 0; }
  size_t lines() const { return lines_; }
  int64_t dropped() const { return dropped_; }
  const std::string& text() const { return text_; }
  std::vector<std::string_view> Lines() const;

 private:
  std::string text_;
  size_t lines_ = 0;
  int64_t dropped_ = 0;
};

struct TestNode {
  std::string name;
  int64_t number = 0;  // number on its result line; 0 for the root
  Status status = Status::kCrash;
  Directive directive = Directive::kNone;
  std::string directive_text;          // text after the directive keyword
  std::optional<int> exit_code;        // kselftest `# exit=N`
  std::optional<int64_t> duration_ms;  // `time=Nms`
  bool has_result_line = false;        // false: synthesised (missing result)
  bool ok = false;                     // its result line said `ok`
  bool is_parent = false;              // opened a nested block (version/header/plan)
  bool bail_out = false;               // its subtests printed `Bail out!`
  std::optional<int64_t> plan;         // `1..N` of its children, if seen
  std::vector<TestNode> subtests;
  // Results below it that were read and counted (their statuses are in its
  // status and in the counts) but not kept: ParserOptions::max_subtests.
  int64_t dropped = 0;
  TestLog log;                   // diagnostics and other output, capped
  uint64_t line = 0;             // input line of its result (or where it was closed)

  // Back to a default node, keeping the buffers of its strings and log.
  void Reset();
};

// How every report names a test: its description; a result line without one
// is "test N"; a result that never came (a synthesised CRASH node) is
// "test N (no result)" unless a `# Subtest:` header named it. Raw bytes:
// each output context escapes them.
std::string DisplayName(const TestNode& n);
// The same from a test's parts (a node of the flat tree).
std::string DisplayName(std::string_view name, int64_t number, bool has_result_line);

// Parse error or warning; the parser reports and keeps going.
struct ParseError {
  uint64_t line = 0;
  std::string message;
};

}  // namespace vigil::ktap
