#include "ktap/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace vigil::ktap {
namespace {

constexpr size_t kMaxStoredLogLine = 1024;



// Status a result line gives its test on its own.
Status OwnStatus(const Line& line) {
  switch (line.directive) {
    case Directive::kSkip: return Status::kSkip;
    case Directive::kTodo: return line.ok ? Status::kXpass : Status::kXfail;
    case Directive::kXfail: return Status::kXfail;
    case Directive::kXpass: return Status::kXpass;
    case Directive::kTimeout: return Status::kTimeout;
    case Directive::kError: return Status::kError;
    case Directive::kNone: break;
  }
  return line.ok ? Status::kPass : Status::kFail;
}

// Names are kept up to this length: reports repeat a test's parents' names.
constexpr size_t kMaxName = 1024;
std::string_view CapName(std::string_view name) { return name.substr(0, kMaxName); }

// A batch of top-level tests is handed out at this many tests too: their
// slots then still fit in the tree's first chunk.
constexpr size_t kBatchTests = 16384;

}  // namespace

// One open nesting level: the container test whose subtests are being read.
// Level 0 is the document root. Levels are pooled: a closed level keeps its
// buffers for the next block at that depth.
struct Parser::Level {
  NestKey key;
  TestNode node;
  Counts counts;         // leaf counts of the subtests read so far
  int64_t expected = 1;  // next expected test number
  int64_t results = 0;   // results seen at this level (including synthesised)
  bool has_version = false;
  bool has_header = false;
  bool flat = false;      // `# Subtest:` at its parent's own indentation
  bool skip_all = false;  // `1..0 # SKIP`
  TestLog pending_log;    // lines not yet owned by a test
  std::vector<Tree::Id> kept;  // flat tree: the ids of node's kept subtests
  // A closed block awaiting its result line at this level: the level that
  // read it, with its node and counts (its buffers are reused once the
  // block is done with).
  std::unique_ptr<Level> pending;

  void Reset(const NestKey& k) {
    key = k;
    node.Reset();
    node.subtests.shrink_to_fit();  // moved-from vectors may keep nothing useful
    counts = Counts();
    expected = 1;
    results = 0;
    has_version = has_header = flat = skip_all = false;
    pending_log.Clear();
    kept.clear();
    pending.reset();
  }
};

Parser::Parser(ParserOptions options, ParserListener* listener)
    : options_(options),
      listener_(listener),
      observed_(options.keep_tree || listener != nullptr),
      keep_logs_(options.keep_logs && observed_),
      reader_(options.max_line_bytes),
      flat_(options.flat_tree && options.keep_tree) {
  if (options.big_input) tree_.ExpectBig();
  auto root = std::make_unique<Level>();
  root->node.is_parent = true;
  levels_.push_back(std::move(root));
}

Parser::~Parser() = default;

void Parser::Error(std::string message) { Error(line_no_, std::move(message)); }

void Parser::Error(uint64_t line, std::string message) {
  ++error_count_;
  ParseError e{line, std::move(message)};
  if (listener_) listener_->OnError(e);
  if (errors_.size() < options_.max_errors) errors_.push_back(std::move(e));
}

void Parser::Feed(std::string_view bytes) {
  reader_.Read(bytes, [this](const ReadLine& r) { Consume(r); });
}

void Parser::FeedLine(std::string_view line) {
  reader_.ReadOne(line, [this](const ReadLine& r) { Consume(r); });
}

inline void Parser::Consume(const ReadLine& r) {
  ++line_no_;
  if (r.truncated_bytes > 0) {
    Errorf(line_no_, "line truncated to {} bytes ({} bytes dropped)", reader_.max_line_bytes(),
           r.truncated_bytes);
  }
  switch (r.kind) {
    case ReadLine::Kind::kBeforeKtap:
      break;
    case ReadLine::Kind::kNoise:
      // Without the console prefix this is someone else's output: keep it
      // as log of the test that is running.
      AppendLog(*levels_.back(), r.line.body());
      break;
    case ReadLine::Kind::kKtap: {
      const Line& line = r.line;
      Level& top = *levels_.back();
      if (r.starts_ktap) {
        // Whatever the first line is (a version line read as a diagnostic,
        // "#TAP version 14", takes the fast path below), KTAP was found.
        found_ktap_ = true;
        if (r.start_without_version) Error("no KTAP version line before the first test line");
      }
      if (line.kind == LineKind::kDiagnostic && line.key == top.key) {
        // The most common line: a diagnostic of the innermost test.
        AppendLog(top, line.body());
        if (listener_) listener_->OnDiagnostic(static_cast<int>(levels_.size() - 1), line.body());
        break;
      }
      if (!observed_ && line.kind == LineKind::kResult && line.key == top.key && !top.flat &&
          !top.pending && line.number == top.expected && !r.starts_ktap) {
        // The next most common: the next leaf result of the innermost
        // block, which Dispatch() would only count.
        top.expected = line.number + 1;
        CountLeaf(top, line);
        break;
      }
      Dispatch(line);
      break;
    }
  }
}

size_t Parser::MatchLevel(const NestKey& key) const {
  size_t top = levels_.size() - 1;
  if (key == levels_[top]->key) return top;
  for (size_t i = top + 1; i-- > 1;) {
    if (levels_[i]->key.IsPrefixOf(key)) return i;
  }
  return 0;
}

void Parser::AppendLog(Level& level, std::string_view text) {
  // The root's own lines are kept whatever the options: they are the root's
  // log when no test takes them.
  if (!keep_logs_ && &level != levels_[0].get()) return;
  if (!options_.keep_tree) {
    // Streaming: a test's log goes with its event; only the per-test caps apply.
    level.pending_log.Append(text, options_.max_log_lines, kMaxStoredLogLine, options_.max_log_bytes);
    return;
  }
  // The tree keeps every test's log until the end: the document has a budget too.
  if (log_bytes_kept_ >= options_.max_total_log_bytes) {
    level.pending_log.AddDropped(1);
    return;
  }
  size_t before = level.pending_log.text().size();
  level.pending_log.Append(text, options_.max_log_lines, kMaxStoredLogLine, options_.max_log_bytes);
  log_bytes_kept_ += level.pending_log.text().size() - before;
}

void Parser::TakeLog(TestNode& node, Level& level) {
  if (keep_logs_) {
    node.log.Splice(level.pending_log, options_.max_log_lines);
  } else {
    level.pending_log.Clear();
  }
}

void Parser::Dispatch(const Line& line) {
  switch (line.kind) {
    case LineKind::kBlank:
      return;
    case LineKind::kOther: {
      Level& top = *levels_.back();
      AppendLog(top, line.body());
      return;
    }
    case LineKind::kDiagnostic: {
      size_t idx = MatchLevel(line.key);
      Level& level = *levels_[idx];
      AppendLog(level, line.body());
      if (listener_) listener_->OnDiagnostic(static_cast<int>(idx), line.body());
      return;
    }
    default:
      break;
  }

  size_t idx = MatchLevel(line.key);
  bool same = levels_[idx]->key.size() == line.key.size();  // a matched prefix of equal length
  CloseLevelsAbove(idx);

  switch (line.kind) {
    case LineKind::kResult: {
      if (same) {
        Level& level = *levels_[idx];
        bool closes_flat = level.flat && idx > 0 &&
                           ((!level.node.plan && line.name() == level.node.name) ||
                            (level.node.plan && level.results >= *level.node.plan));
        if (closes_flat) {
          CloseTop();
          ApplyResult(idx - 1, line);
        } else {
          ApplyResult(idx, line);
        }
      } else {
        PushLevel(line.key);  // at the depth limit the result folds into the deepest level
        ApplyResult(levels_.size() - 1, line);
      }
      return;
    }
    case LineKind::kVersion: {
      bool known = line.ktap ? line.number == 1 : (line.number == 13 || line.number == 14);
      if (!known) {
        Errorf(line_no_, "unsupported {} version {}", line.ktap ? "KTAP" : "TAP", line.number);
      }
      if (!same) {
        if (PushLevel(line.key)) levels_.back()->has_version = true;
        return;
      }
      Level& level = *levels_[idx];
      bool fresh = level.results == 0 && !level.pending && !level.node.plan;
      if (fresh && !level.has_version) {
        level.has_version = true;
        return;
      }
      // A second document at the same level (two TAP programs in one
      // kselftest, concatenated logs): what the first one promised and never
      // reported is missing; numbering restarts.
      if (level.pending) AddMissingChild(idx, "missing result line for test");
      if (level.node.plan && level.results < *level.node.plan && !level.node.bail_out) {
        AddMissingChildren(idx, *level.node.plan - level.results);
      }
      level.node.plan.reset();
      level.expected = 1;
      level.results = 0;
      level.has_version = true;
      return;
    }
    case LineKind::kSubtestHeader: {
      if (same) {
        Level& level = *levels_[idx];
        if (!level.has_header && level.results == 0 && !level.pending && !level.node.plan) {
          level.has_header = true;
          level.node.name.assign(CapName(line.name()));
          return;
        }
        if (!PushLevel(line.key, line.name())) return;
        levels_.back()->flat = true;
      } else if (!PushLevel(line.key, line.name())) {
        return;
      }
      levels_.back()->has_header = true;
      return;
    }
    case LineKind::kPlan: {
      size_t at = idx;
      if (!same) {
        PushLevel(line.key);
        at = levels_.size() - 1;
      }
      Level& level = *levels_[at];
      if (level.node.plan) {
        Errorf(line_no_, "duplicate plan 1..{} (already 1..{})", line.number, *level.node.plan);
        return;
      }
      level.node.plan = line.number;
      if (options_.keep_tree) {
        level.node.subtests.reserve(static_cast<size_t>(std::min<int64_t>(line.number, 64)));
      }
      if (line.number == 0 && line.directive == Directive::kSkip) {
        level.skip_all = true;
        level.node.directive = Directive::kSkip;
        level.node.directive_text = std::string(line.directive_text());
      }
      if (listener_) listener_->OnPlan(static_cast<int>(at), line.number);
      return;
    }
    case LineKind::kBailOut: {
      Level& level = *levels_[idx];
      level.node.bail_out = true;
      AppendLog(level, line.body());
      return;
    }
    default:
      return;
  }
}

bool Parser::PushLevel(const NestKey& key, std::string_view name) {
  if (levels_.size() >= options_.max_depth) {
    Errorf(line_no_, "nesting deeper than {} levels; folding into the deepest level", options_.max_depth);
    return false;
  }
  size_t parent = levels_.size() - 1;
  if (levels_[parent]->pending) AddMissingChild(parent, "missing result line for subtest");
  std::unique_ptr<Level> level;
  if (!free_levels_.empty()) {
    level = std::move(free_levels_.back());
    free_levels_.pop_back();
  } else {
    level = std::make_unique<Level>();
  }
  level->Reset(key);
  level->node.name.assign(CapName(name));
  // What the parent saw since its last result belongs to the test now starting.
  TakeLog(level->node, *levels_[parent]);
  levels_.push_back(std::move(level));
  if (listener_) listener_->OnTestStarted(static_cast<int>(levels_.size() - 1), name);
  return true;
}

void Parser::CloseLevelsAbove(size_t index) {
  while (levels_.size() - 1 > index) CloseTop();
}

void Parser::CloseTop() {
  size_t index = levels_.size() - 1;
  Level& level = *levels_[index];
  if (level.pending) AddMissingChild(index, "missing result line for subtest");
  if (level.node.plan) {
    int64_t plan = *level.node.plan;
    if (level.results < plan && !level.node.bail_out) {
      AddMissingChildren(index, plan - level.results);
    } else if (level.results > plan) {
      Errorf(line_no_, "planned {} tests but found {}", plan, level.results);
    }
  }
  size_t parent = index - 1;
  if (levels_[parent]->pending) AddMissingChild(parent, "missing result line for subtest");
  level.node.is_parent = true;
  TakeLog(level.node, level);
  if (level.skip_all) level.node.status = Status::kSkip;
  levels_[parent]->pending = std::move(levels_.back());
  levels_.pop_back();
}

void Parser::ApplyResult(size_t index, const Line& line) {
  Level& level = *levels_[index];
  if (line.number != level.expected) {
    Errorf(line_no_, "expected test number {} but found {}", level.expected, line.number);
  }
  level.expected = line.number + 1;
  if (level.pending) {
    // The block of subtests read before this line is this test.
    std::unique_ptr<Level> block = std::move(level.pending);
    TestNode& node = block->node;
    bool skip_all = node.status == Status::kSkip && node.plan && *node.plan == 0;
    FillFromResult(node, level, line);
    if (skip_all && node.status == Status::kPass) node.status = Status::kSkip;
    FinishNode(node, block->counts, &line);
    AddChild(index, node, &block->counts, &block->kept);
    free_levels_.push_back(std::move(block));
  } else if (options_.keep_tree && !flat_) {
    TestNode node;
    FillFromResult(node, level, line);
    AddChild(index, node, nullptr);  // a leaf: its own status is all there is
  } else if (!observed_) {
    CountLeaf(level, line);
  } else {
    // Streaming mode reuses one node so its buffers are not reallocated.
    scratch_.Reset();
    FillFromResult(scratch_, level, line);
    AddChild(index, scratch_, nullptr);
  }
}

void Parser::CountLeaf(Level& level, const Line& line) {
  TakeLog(scratch_, level);
  ++level.results;
  level.counts.Add(OwnStatus(line));
}

namespace {

// A result line's description as a test name: capped, TAP's escaped hash
// ("\\#") unescaped.
void AssignName(std::string* out, std::string_view description) {
  std::string_view name = CapName(description);
  if (name.find('\\') == std::string_view::npos || name.find("\\#") == std::string_view::npos) {
    out->assign(name);
    return;
  }
  out->clear();
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\' && i + 1 < name.size() && name[i + 1] == '#') continue;
    out->push_back(name[i]);
  }
}

}  // namespace

void Parser::FillFromResult(TestNode& node, Level& level, const Line& line) {
  node.number = line.number;
  node.has_result_line = true;
  node.ok = line.ok;
  node.directive = line.directive;
  node.line = line_no_;
  TakeLog(node, level);
  node.status = OwnStatus(line);
  // What only reports and listeners read: nobody does when tests are not
  // observed (FinishNode() names the test itself if it must report it).
  if (!observed_) return;
  if (!line.name().empty() || node.name.empty()) AssignName(&node.name, line.name());
  if (line.directive_text().empty()) {
    node.directive_text.clear();
  } else {
    node.directive_text.assign(line.directive_text());
  }
  node.exit_code = line.exit_code();
  node.duration_ms = line.duration_ms();
}

void Parser::AddMissingChild(size_t index, std::string reason) {
  Level& level = *levels_[index];
  std::unique_ptr<Level> block = std::move(level.pending);
  TestNode fresh;
  TestNode& node = block ? block->node : fresh;
  Counts counts;
  if (block) counts = block->counts;
  node.number = level.expected++;
  node.has_result_line = false;
  node.line = line_no_;
  node.status = Status::kCrash;
  Errorf(line_no_, "{} {}{}{}", reason, node.number, node.name.empty() ? "" : " ", node.name);
  FinishNode(node, counts);
  AddChild(index, node, &counts, block ? &block->kept : nullptr);
  if (block) free_levels_.push_back(std::move(block));
}

void Parser::AddMissingChildren(size_t index, int64_t missing) {
  // One budget for the whole document: hostile input with many short blocks
  // must not materialise a thousand nodes per block.
  int64_t budget = static_cast<int64_t>(options_.max_missing_nodes) - missing_materialised_;
  int64_t shown = std::clamp<int64_t>(missing, 0, std::max<int64_t>(budget, 0));
  missing_materialised_ += shown;
  for (int64_t i = 0; i < shown; ++i) AddMissingChild(index, "missing expected subtest");
  int64_t rest = missing - shown;
  if (rest <= 0) return;
  // Hostile plans (1..1000000000000) are counted, not materialised.
  Level& level = *levels_[index];
  Errorf(line_no_, "{} more expected subtests missing", rest);
  error_count_ += rest - 1;
  level.results += rest;
  level.expected += rest;
  level.counts.Add(Status::kCrash, rest);
}

// Derives a test's final status and counts from its own result (already in
// node.status; CRASH when it never got one) and its subtests' counts.
void Parser::FinishNode(TestNode& node, Counts& c, const Line* result_line) {
  Status own = node.status;
  bool has_children = c.Total() + c.Get(Status::kNoTests) > 0;
  if (has_children) {
    Status agg = c.Aggregate();
    if (agg == Status::kNoTests) {
      // Only empty parents below: the test's own line is all we know.
      node.status = own;
      c.Add(own);
    } else if (IsFailure(own)) {
      node.status = (own == Status::kTimeout || Severity(own) > Severity(agg)) ? own : agg;
      // A `not ok` its children don't explain, or a timeout (the test was
      // killed, whatever its children said): a result of its own, as the
      // JUnit report's "(own result)" case.
      if (!IsFailure(agg) || own == Status::kTimeout) c.Add(own);
    } else {
      node.status = agg;
    }
  } else if (node.is_parent) {
    if (node.plan && *node.plan == 0 && node.directive == Directive::kSkip && own != Status::kCrash &&
        !IsFailure(own)) {
      node.status = Status::kSkip;
    } else if (own == Status::kPass) {
      node.status = Status::kNoTests;
      if (!observed_ && result_line && !result_line->name().empty()) {
        // FillFromResult() left the name alone: the message still names it.
        AssignName(&node.name, result_line->name());
      }
      Errorf(node.line, "0 tests run in {}", node.name.empty() ? "test" : node.name);
    } else {
      node.status = own;
    }
    c.Add(node.status);
  } else {
    node.status = own;
    c.Add(own);
  }
  if (node.bail_out && !IsFailure(node.status)) {
    node.status = Status::kFail;
    c.Add(Status::kFail);
  }
}

void Parser::AddChild(size_t index, TestNode& node, const Counts* counts, const std::vector<Tree::Id>* kept) {
  Level& level = *levels_[index];
  ++level.results;
  if (counts) {
    level.counts.Merge(*counts);
  } else {
    level.counts.Add(node.status);
  }
  if (listener_) listener_->OnTestFinished(static_cast<int>(index) + 1, node);
  if (!options_.keep_tree) return;
  if (index == 0) kept_below_top_ = 0;  // the budget below the next top-level test starts afresh
  // A parent with kept subtests is kept whatever the counts, or they would be
  // lost with it; at most the open ancestors (max_depth) go over a cap.
  bool room = kept_ < options_.max_tests && (index == 0 || kept_below_top_ < options_.max_subtests);
  bool has_kept = flat_ ? kept != nullptr && !kept->empty() : !node.subtests.empty();
  if (room || has_kept) {
    ++kept_;
    if (index > 0) ++kept_below_top_;
    if (flat_) {
      level.kept.push_back(kept ? tree_.Add(node, *kept) : tree_.Add(node, {}));
      // A batch of whole top-level tests: no open test holds ids in it (and
      // the document is KTAP: reports of one that is not list no tests).
      if (index == 0 && tops_handler_ && found_ktap_ && levels_.size() == 1 && !level.pending &&
          (tree_.bytes() >= batch_bytes_ || tree_.size() >= kBatchTests)) {
        if (tree_.bytes() > max_batch_bytes_) {
          tops_handler_ = nullptr;  // this batch and the rest stay
        } else {
          std::vector<Tree::Id> tops;
          tops.swap(level.kept);
          tree_ = tops_handler_(std::move(tree_), std::move(tops));
          if (options_.big_input) tree_.ExpectBig();
        }
      }
    } else {
      level.node.subtests.push_back(std::move(node));
    }
    return;
  }
  // Counted in its ancestors' statuses already; only the node goes. Its own
  // dropped results were added to every ancestor when they went.
  ++dropped_;
  for (size_t i = 0; i <= index; ++i) ++levels_[i]->node.dropped;
  if (dropped_ == 1) {
    Errorf(line_no_, "more than {} tests, or {} results below a top-level test: the rest are counted, not kept",
           options_.max_tests, options_.max_subtests);
  }
}

void Parser::HandTopsTo(TopsHandler handler, size_t batch_bytes, size_t max_batch_bytes) {
  tops_handler_ = std::move(handler);
  batch_bytes_ = batch_bytes;
  max_batch_bytes_ = max_batch_bytes;
}

void Parser::Finish() {
  if (finished_) return;
  reader_.Flush([this](const ReadLine& r) { Consume(r); });
  line_no_ = reader_line_count();
  CloseLevelsAbove(0);
  Level& root = *levels_[0];
  if (root.pending) AddMissingChild(0, "missing result line for test");
  if (root.node.plan) {
    int64_t plan = *root.node.plan;
    if (root.results < plan && !root.node.bail_out) {
      AddMissingChildren(0, plan - root.results);
    } else if (root.results > plan) {
      Errorf(line_no_, "planned {} tests but found {}", plan, root.results);
    }
  }
  root_ = std::move(root.node);
  root_.is_parent = true;
  root_.has_result_line = false;
  root_.log.Splice(root.pending_log, options_.max_log_lines);
  counts_ = root.counts;
  Status agg = counts_.Aggregate();
  if (!found_ktap_) {
    Error("no KTAP output found");
  } else if (agg == Status::kNoTests && !root.skip_all) {
    Error("0 tests run");
  }
  counts_.errors = error_count_;
  if (agg == Status::kNoTests && root.skip_all) agg = Status::kSkip;
  if (root_.bail_out && !IsFailure(agg)) agg = Status::kFail;
  root_.status = agg;
  if (flat_) {
    tree_.SetRoot(tree_.Add(root_, root.kept));
    tree_.Seal();
  }
  finished_ = true;
}

const TestNode& Parser::root() const { return root_; }

TestNode Parser::TakeRoot() { return std::move(root_); }

Document Parser::TakeDocument() {
  Document doc;
  doc.root = std::move(root_);
  doc.counts = counts_;
  doc.found_ktap = found_ktap_;
  doc.errors = std::move(errors_);
  doc.error_count = error_count_;
  doc.lines = line_no_;
  doc.dropped = dropped_;
  doc.tree = std::move(tree_);
  return doc;
}

std::string_view DocumentStatusName(const Document& doc) {
  return doc.found_ktap ? StatusName(doc.root.status) : std::string_view("NO_KTAP");
}

Document ParseText(std::string_view text, ParserOptions options) {
  Parser parser(options);
  parser.Feed(text);
  parser.Finish();
  return parser.TakeDocument();
}

}  // namespace vigil::ktap
