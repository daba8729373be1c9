// Streaming KTAP/TAP parser. Bytes or lines are pushed in; events come out
// through a ParserListener as tests finish; the result tree is available after
// Finish(). No I/O, no clocks: the runner, the VM monitor, `vigil parse` and
// the console scanner all drive the same code.
//
// Handles what real kernels print: KTAP v1 and TAP 13/14 version lines,
// early, late and `1..0 # SKIP` plans, nesting by indentation of any width, by
// `# Subtest:` headers and by the kselftest runner's `# ` prefix, console
// prefixes learned from the version line, kernel noise anywhere, Bail out!,
// truncated input (missing results become CRASH) and wrong numbering (an
// error, parsing goes on). Memory is bounded: long lines are cut, names and
// logs are capped (per test and per document), each top-level test keeps at
// most max_subtests results below it (the rest are counted: TestNode::dropped),
// nesting is limited to kMaxNestingDepth, and with keep_tree = false finished
// subtrees are released once their events went out.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ktap/line.h"
#include "ktap/line_reader.h"
#include "ktap/result.h"
#include "ktap/tree.h"

namespace vigil::ktap {

// Results kept below one top-level test (a selftest's subtests in a run).
inline constexpr size_t kMaxSubtests = 10000;

struct ParserOptions {
  size_t max_line_bytes = 64 * 1024 - 1;  // longer lines are truncated, reported (max 65535)
  size_t max_log_lines = 2000;            // per test; the rest are counted
  size_t max_log_bytes = 256 * 1024;      // per test (lines of up to 1 KiB are kept)
  size_t max_depth = kMaxNestingDepth;    // deeper nesting is folded, reported
  // Results kept in the tree below each top-level test; later ones are
  // counted (statuses, TestNode::dropped of every open ancestor) but not
  // kept. Parents whose subtests were kept are always kept.
  size_t max_subtests = kMaxSubtests;
  // Tests kept in the whole tree (top-level ones included), the same way.
  size_t max_tests = 1000000;
  size_t max_total_log_bytes = 64 << 20;  // log bytes kept in the whole document
  size_t max_errors = 1000;               // errors kept; the rest are counted
  size_t max_missing_nodes = 1000;        // missing tests materialised per document
  bool keep_tree = true;  // false: streaming, only counts and events survive
  // false: tests carry no log (listeners see them without); the root's log,
  // the lines no test took, is kept.
  bool keep_logs = true;
  // With keep_tree: the tree is kept flat (Document::tree) and the root
  // TestNode has no subtests. What `vigil parse` uses: a big
  // log's tree costs a slot and arena bytes per test instead of several
  // allocations.
  bool flat_tree = false;
  // The input is big (a whole log file): the flat tree's memory comes in
  // huge pages from its first chunk on. A small tree would pay a 2 MiB page
  // for a few KiB; a big one pays a 4 KiB fault (a costly trap on a virtual
  // machine) for every page of its first two chunks otherwise.
  bool big_input = false;
};

// Receives parse events as they happen. Every method has an empty default.
// References passed in are valid only during the call.
class ParserListener {
 public:
  virtual ~ParserListener() = default;
  // A nested block opened at `depth` (1 = child of the root); `name` is the
  // `# Subtest:` name when the block opened with one, else empty (a name may
  // still come with a `# Subtest:` after its version line, or its result).
  virtual void OnTestStarted(int depth, std::string_view name) { (void)depth, (void)name; }
  // A test got its result (or was closed as missing). `depth` 1 = top level.
  virtual void OnTestFinished(int depth, const TestNode& test) { (void)depth, (void)test; }
  virtual void OnPlan(int depth, int64_t count) { (void)depth, (void)count; }
  virtual void OnDiagnostic(int depth, std::string_view text) { (void)depth, (void)text; }
  virtual void OnError(const ParseError& error) { (void)error; }
};

// Parses a whole buffer (convenience for tests and small inputs).
struct Document;
Document ParseText(std::string_view text, ParserOptions options = {});

// Everything a parse produced, for reports.
struct Document {
  // The root test. With ParserOptions::flat_tree its subtests are in `tree`
  // instead (tree.root() is the same node).
  TestNode root;
  Tree tree;
  Counts counts;  // leaf counts of the whole document, errors = parse errors
  bool found_ktap = false;
  std::vector<ParseError> errors;  // the first ParserOptions::max_errors
  int64_t error_count = 0;
  uint64_t lines = 0;
  int64_t dropped = 0;  // results read and counted but not kept (max_subtests)
};

// "NO_KTAP" when no KTAP was found, else the root status name.
std::string_view DocumentStatusName(const Document& doc);

class Parser {
 public:
  // `listener` may be null; it must outlive the parser.
  explicit Parser(ParserOptions options = {}, ParserListener* listener = nullptr);
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Pushes raw bytes; lines are split on '\n'.
  void Feed(std::string_view bytes);
  // Pushes one complete line (without its '\n').
  void FeedLine(std::string_view line);
  // Ends the input: flushes a partial line, closes open tests (missing
  // results become CRASH) and computes the root status. Idempotent.
  void Finish();

  // Valid after Finish(). The root is a parent whose subtests are the
  // top-level tests; its status is the overall status.
  const TestNode& root() const;
  TestNode TakeRoot();
  // Moves the root and the errors out into a Document (after Finish()).
  Document TakeDocument();
  // False when no KTAP version line (nor a result/plan) was ever seen.
  bool found_ktap() const { return found_ktap_; }
  const Counts& counts() const { return counts_; }
  const std::vector<ParseError>& errors() const { return errors_; }
  int64_t error_count() const { return error_count_; }
  // Results counted but not kept in the tree (ParserOptions::max_subtests).
  int64_t dropped() const { return dropped_; }
  uint64_t line_count() const { return line_no_; }

  // With flat_tree: complete top-level tests are handed out while the parse
  // goes on instead of all being kept. Whenever a top-level test completes,
  // KTAP was found, no test below the root is open and the tree holds
  // `batch_bytes` or more (or many tests), `handler` gets the tree and the
  // ids of the top-level tests in it, in order, and returns an empty tree to
  // go on with. Those still in the tree at Finish() stay in the Document's
  // tree: a report of the batches and then of the document is the report of
  // the whole tree (what `vigil parse` writes while it parses). A batch that
  // would weigh more than `max_batch_bytes` (one huge top-level test) is not
  // handed out, nor is anything after it: the rest stays in the Document's
  // tree (a report that keeps its batches' text would otherwise hold a huge
  // test's tree and its text at once).
  using TopsHandler = std::function<Tree(Tree, std::vector<Tree::Id>)>;
  void HandTopsTo(TopsHandler handler, size_t batch_bytes = 1 << 20, size_t max_batch_bytes = SIZE_MAX);

 private:
  struct Level;

  uint64_t reader_line_count() const { return reader_.line_count(); }
  // Builds the tree from one classified line (lines come in input order).
  void Consume(const ReadLine& r);
  void Dispatch(const Line& line);
  size_t MatchLevel(const NestKey& key) const;
  // False at the depth limit (reported), when nothing was pushed.
  bool PushLevel(const NestKey& key, std::string_view name = {});
  void CloseLevelsAbove(size_t index);
  void CloseTop();
  void ApplyResult(size_t index, const Line& line);
  // A result without subtests that is neither kept nor listened to: the
  // test is its status in the counts (its log is dropped).
  void CountLeaf(Level& level, const Line& line);
  void FillFromResult(TestNode& node, Level& level, const Line& line);
  void AddMissingChild(size_t index, std::string reason);
  void AddMissingChildren(size_t index, int64_t missing);
  // `result_line`: the test's own result line, if it had one.
  void FinishNode(TestNode& node, Counts& counts, const Line* result_line = nullptr);
  // `kept`: the ids of `node`'s kept subtests in the flat tree.
  void AddChild(size_t index, TestNode& node, const Counts* counts, const std::vector<Tree::Id>* kept = nullptr);
  void AppendLog(Level& level, std::string_view text);
  // Hands the lines `level` holds to `node` (drops them without keep_logs).
  void TakeLog(TestNode& node, Level& level);
  void Error(std::string message);
  void Error(uint64_t line, std::string message);
  // Error() with the message formatted only when someone gets to see it: a
  // hostile or broken log can carry millions of errors, and only the first
  // max_errors are kept.
  template <typename... Args>
  void Errorf(uint64_t line, fmt::format_string<Args...> format, Args&&... args) {
    if (listener_ == nullptr && errors_.size() >= options_.max_errors) {
      ++error_count_;
      return;
    }
    Error(line, fmt::format(format, std::forward<Args>(args)...));
  }

  ParserOptions options_;
  ParserListener* listener_;
  // Whether finished tests are seen at all: kept in the tree or passed to a
  // listener. When not, a test without subtests is just a count.
  bool observed_;
  bool keep_logs_;  // options_.keep_logs, and tests are observed
  LineReader reader_;
  bool found_ktap_ = false;
  bool finished_ = false;
  uint64_t line_no_ = 0;
  std::vector<std::unique_ptr<Level>> levels_;
  std::vector<std::unique_ptr<Level>> free_levels_;
  TestNode scratch_;  // reused per result in streaming mode
  Counts counts_;     // of the whole document, after Finish()
  int64_t missing_materialised_ = 0;  // missing tests made into nodes so far
  size_t kept_below_top_ = 0;         // results kept below the current top-level test
  size_t kept_ = 0;                   // tests kept in the tree
  size_t log_bytes_kept_ = 0;         // log bytes appended in the whole document
  std::vector<ParseError> errors_;
  int64_t error_count_ = 0;
  int64_t dropped_ = 0;
  TestNode root_;
  bool flat_;  // options_.flat_tree && options_.keep_tree
  Tree tree_;
  TopsHandler tops_handler_;
  size_t batch_bytes_ = 0;
  size_t max_batch_bytes_ = 0;
};

}  // namespace vigil::ktap
