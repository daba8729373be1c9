#include <algorithm>
#include <cstring>
#include <iterator>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "report/reports.h"
#include "report/tree_report.h"
#include "base/text.h"

namespace vigil::report {
namespace {

using ktap::Status;
using ktap::Tree;
using ktap::TreeNode;

const char* Color(Status s) {
  switch (s) {
    case Status::kPass:
    case Status::kXfail: return "\033[32m";
    case Status::kSkip:
    case Status::kNoTests: return "\033[33m";
    default: return "\033[31m";
  }
}

std::string Tag(Status s, bool color) { return StatusTag(s, color); }

std::string Name(const TreeNode& n) { return SanitizeForTerminal(ktap::DisplayName(n)); }

// Tag() without building a string: "[PASS]", colored or not.
void AppendTag(std::string& b, Status s, bool color) {
  if (color) b += Color(s);
  b += '[';
  b += ktap::StatusName(s);
  b += ']';
  if (color) b += "\033[0m";
}

void WriteTree(const Tree& tree, const TreeNode& node, int depth, const TextOptions& o, Buffer& b) {
  std::string display;
  std::string_view name = node.name;
  if (name.empty()) {
    display = ktap::DisplayName(node);
    name = display;
  }
  std::string_view directive;
  if (node.directive != ktap::Directive::kNone) directive = node.directive_text;
  // The tag, its colors, the numbers and the fixed words take less than 256
  // bytes.
  size_t indent = static_cast<size_t>(depth) * 2;
  char* p = b.Room(256 + indent + ForTerminalBound(name.size() + directive.size()));
  std::memset(p, ' ', indent);
  p += indent;
  if (o.color) p = PutBytes(p, Color(node.status));
  *p++ = '[';
  p = PutBytes(p, ktap::StatusName(node.status));
  *p++ = ']';
  if (o.color) p = PutBytes(p, "\033[0m");
  *p++ = ' ';
  p = PutForTerminal(p, name);
  if (!directive.empty()) p = PutForTerminal(PutBytes(p, " # "), directive);
  if (node.has_exit_code) {
    p = PutBytes(p, " (exit ");
    p = PutInt(p, node.exit_code);
    *p++ = ')';
  }
  if (node.has_duration) {
    p = PutBytes(p, " (");
    p = PutInt(p, node.duration_ms);
    p = PutBytes(p, " ms)");
  }
  if (!node.has_result_line && !node.name.empty()) p = PutBytes(p, " (no result)");
  *p++ = '\n';
  b.Done(p);
  for (Tree::Id c : tree.children(node)) WriteTree(tree, tree.node(c), depth + 1, o, b);
}

// The failing leaves below the failing test `id`: a failing test whose
// children all pass (or that has none) is one, named by its path.
size_t CountFailures(const Tree& tree, Tree::Id id) {
  size_t n = 0;
  for (Tree::Id c : tree.children(tree.node(id))) {
    if (ktap::IsFailure(tree.node(c).status)) n += CountFailures(tree, c);
  }
  return n > 0 ? n : 1;
}

// Lists the failing leaves below `id` with their paths until `out` holds
// `limit`, and counts them all. Paths are built only for those listed: a
// long name above many failing leaves would otherwise be copied into each.
size_t CollectFailures(const Tree& tree, Tree::Id id, const std::string& path, size_t limit,
                       std::vector<std::pair<std::string, Tree::Id>>* out) {
  if (out->size() >= limit) return CountFailures(tree, id);
  TreeNode node = tree.node(id);
  std::string here = path.empty() ? Name(node) : path + " > " + Name(node);
  if (here.size() > 2048) here = "..." + here.substr(here.size() - 2045);  // deep, long names
  size_t n = 0;
  for (Tree::Id c : tree.children(node)) {
    if (ktap::IsFailure(tree.node(c).status)) n += CollectFailures(tree, c, here, limit, out);
  }
  if (n > 0) return n;
  out->push_back({here, id});
  return 1;
}

}  // namespace

std::string StatusTag(Status s, bool color) {
  std::string tag = fmt::format("[{}]", ktap::StatusName(s));
  if (!color) return tag;
  return std::string(Color(s)) + tag + "\033[0m";
}

namespace {

constexpr size_t kTailLines = 20;

// The last kTailLines lines of a '\n'-terminated log.
std::string_view Tail(std::string_view log) {
  size_t start = log.size(), lines = 0;
  while (start > 0 && lines < kTailLines) {
    size_t nl = start >= 2 ? log.rfind('\n', start - 2) : std::string_view::npos;
    start = nl == std::string_view::npos ? 0 : nl + 1;
    ++lines;
  }
  return log.substr(start);
}

// The failures below a failing top-level test as the summary lists them,
// each its path, its status and (with logs) the last lines of its log,
// written to `out` as they are found: the summary comes after the tree. At
// most `room` are listed; returns how many there are.
size_t AddFailures(const Tree& tree, Tree::Id top, const TextOptions& o, size_t room, Buffer& out) {
  std::vector<std::pair<std::string, Tree::Id>> found;
  size_t total = CollectFailures(tree, top, "", room, &found);
  for (auto& [path, id] : found) {
    TreeNode node = tree.node(id);
    std::string head = "  ";
    AppendTag(head, node.status, o.color);
    head += ' ';
    head += path;
    head += '\n';
    out.Put(head);
    if (!o.show_logs) continue;
    for (std::string_view tail = Tail(node.log); !tail.empty();) {
      size_t nl = tail.find('\n');
      std::string_view line = tail.substr(0, nl);
      char* p = out.Room(16 + ForTerminalBound(line.size()));
      p = PutBytes(p, "      | ");
      p = PutForTerminal(p, line);
      *p++ = '\n';
      out.Done(p);
      tail.remove_prefix(nl == std::string_view::npos ? tail.size() : nl + 1);
    }
  }
  return total;
}

class TextReport : public TreeReport {
 public:
  TextReport(const TextOptions& o, Out& live) : o_(o), live_(live) {}

  void Take(const Tree& tree, std::span<const Tree::Id> tops) override {
    for (Tree::Id id : tops) {
      TreeNode top = tree.node(id);
      if (o_.show_tree) {
        // Nothing above the tree depends on the rest of the document: it
        // goes out as it is formatted.
        WriteTree(tree, top, 0, o_, tree_);
        if (tree_.size() >= kPiece) PassTree();
      }
      if (ktap::IsFailure(top.status)) AddTop(tree, id);
    }
  }

  void Write(const ktap::Document& doc, Out& sink) override {
    PassTree();
    if (!doc.found_ktap) {
      sink.buf() += fmt::format("No KTAP output found in {} lines.\n", doc.lines);
      return;
    }
    ktap::Tree converted;
    const Tree& tree = TreeOf(doc, &converted);
    std::span<const Tree::Id> tops = tree.children(tree.root());
    if (o_.show_tree) {
      sink.WriteInOrder(tops.size(), [&](size_t i, Buffer& into) { WriteTree(tree, tree.node(tops[i]), 0, o_, into); });
    }
    for (Tree::Id id : tops) {
      if (ktap::IsFailure(tree.node(id).status)) AddTop(tree, id);
    }

    if (o_.show_tree) sink.buf() += "\n";
    if (failures_ > 0) {
      sink.buf() += fmt::format("Failures ({}):\n", failures_);
      sink.Append(failures_text_.view());
      if (failures_ > listed_) sink.buf() += fmt::format("  ... {} more\n", failures_ - listed_);
    }
    std::string& out = sink.buf();
    if (doc.error_count > 0) {
      out += fmt::format("Parse errors ({}):\n", doc.error_count);
      for (const auto& e : doc.errors) out += fmt::format("  line {}: {}\n", e.line, SanitizeForTerminal(e.message));
      if (doc.error_count > static_cast<int64_t>(doc.errors.size())) {
        out += fmt::format("  ... {} more\n", doc.error_count - static_cast<int64_t>(doc.errors.size()));
      }
    }
    const ktap::Counts& c = doc.counts;
    std::string counts = fmt::format("{} test{}: {} passed, {} failed, {} crashed, {} skipped", c.Total(),
                                     c.Total() == 1 ? "" : "s",
                                     c.Get(Status::kPass), c.Get(Status::kFail), c.Get(Status::kCrash),
                                     c.Get(Status::kSkip));
    for (auto [s, label] : {std::pair{Status::kTimeout, "timed out"}, std::pair{Status::kError, "test errors"},
                            std::pair{Status::kXfail, "xfailed"}, std::pair{Status::kXpass, "xpassed"}}) {
      if (c.Get(s) > 0) counts += fmt::format(", {} {}", c.Get(s), label);
    }
    counts += fmt::format(", {} parse errors", doc.error_count);
    out += fmt::format("{} {}\n", Tag(doc.root.status, o_.color), counts);
  }

 private:
  static constexpr size_t kPiece = 1 << 20;
  // Failures listed in the summary, as `vigil parse --stream` lists them:
  // the tree above shows every one, and the list's memory stays bounded
  // whatever the log holds.
  static constexpr size_t kMaxListed = 1000;
  void AddTop(const Tree& tree, Tree::Id id) {
    size_t n = AddFailures(tree, id, o_, kMaxListed - listed_, failures_text_);
    listed_ += std::min(n, kMaxListed - listed_);
    failures_ += n;
  }
  // Hands the taken tests' tree on.
  void PassTree() {
    if (tree_.size() > 0) live_.Append(tree_.view());
    tree_.clear();
  }
  TextOptions o_;
  Out& live_;    // where the taken tests' tree goes
  Buffer tree_;  // the taken tests' tree not yet handed on
  size_t failures_ = 0;    // found so far
  size_t listed_ = 0;      // ... and listed
  Buffer failures_text_;  // their part of the summary
};

}  // namespace

std::unique_ptr<TreeReport> NewTextReport(const TextOptions& options, Out& live) {
  return std::make_unique<TextReport>(options, live);
}

void WriteText(const ktap::Document& doc, const TextOptions& o, Out& sink) { TextReport(o, sink).Write(doc, sink); }

std::string ToText(const ktap::Document& doc, const TextOptions& o) {
  Out out;
  WriteText(doc, o, out);
  return out.Take();
}

}  // namespace vigil::report
