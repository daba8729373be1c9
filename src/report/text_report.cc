#include <iterator>
#include <span>

#include <fmt/format.h>

#include "report/reports.h"
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

void WriteTree(const Tree& tree, const TreeNode& node, int depth, const TextOptions& o, std::string& b) {
  b.append(static_cast<size_t>(depth) * 2, ' ');
  b += Tag(node.status, o.color);
  b += ' ';
  if (node.name.empty()) {
    AppendForTerminal(b, ktap::DisplayName(node));
  } else {
    AppendForTerminal(b, node.name);
  }
  if (node.directive != ktap::Directive::kNone && !node.directive_text.empty()) {
    b += " # ";
    AppendForTerminal(b, node.directive_text);
  }
  if (node.has_exit_code) fmt::format_to(std::back_inserter(b), " (exit {})", node.exit_code);
  if (node.has_duration) fmt::format_to(std::back_inserter(b), " ({} ms)", node.duration_ms);
  if (!node.has_result_line && !node.name.empty()) b += " (no result)";
  b += '\n';
  for (Tree::Id c : tree.children(node)) WriteTree(tree, tree.node(c), depth + 1, o, b);
}

void CollectFailures(const Tree& tree, Tree::Id id, const std::string& path,
                     std::vector<std::pair<std::string, Tree::Id>>* out) {
  TreeNode node = tree.node(id);
  std::string here = path.empty() ? Name(node) : path + " > " + Name(node);
  if (here.size() > 2048) here = "..." + here.substr(here.size() - 2045);  // deep, long names
  bool child_failed = false;
  for (Tree::Id c : tree.children(node)) {
    if (ktap::IsFailure(tree.node(c).status)) {
      child_failed = true;
      CollectFailures(tree, c, here, out);
    }
  }
  if (!child_failed && ktap::IsFailure(node.status)) out->push_back({here, id});
}

}  // namespace

std::string StatusTag(Status s, bool color) {
  std::string tag = fmt::format("[{}]", ktap::StatusName(s));
  if (!color) return tag;
  return std::string(Color(s)) + tag + "\033[0m";
}

void WriteText(const ktap::Document& doc, const TextOptions& o, Out& sink) {
  if (!doc.found_ktap) {
    sink.buf() += fmt::format("No KTAP output found in {} lines.\n", doc.lines);
    return;
  }
  ktap::Tree converted;
  const Tree& tree = TreeOf(doc, &converted);
  if (o.show_tree) {
    std::span<const Tree::Id> tops = tree.children(tree.root());
    sink.WriteInOrder(tops.size(), [&](size_t i, std::string& into) { WriteTree(tree, tree.node(tops[i]), 0, o, into); });
  }

  std::string& out = sink.buf();
  std::vector<std::pair<std::string, Tree::Id>> failures;
  for (Tree::Id id : tree.children(tree.root())) {
    if (ktap::IsFailure(tree.node(id).status)) CollectFailures(tree, id, "", &failures);
  }
  if (o.show_tree) out += "\n";
  if (!failures.empty()) {
    out += fmt::format("Failures ({}):\n", failures.size());
    for (const auto& [path, id] : failures) {
      TreeNode node = tree.node(id);
      out += fmt::format("  {} {}\n", Tag(node.status, o.color), path);
      if (o.show_logs) {
        std::vector<std::string_view> lines;
        for (std::string_view log = node.log; !log.empty();) {
          size_t nl = log.find('\n');
          lines.push_back(log.substr(0, nl));
          log.remove_prefix(nl + 1);
        }
        size_t start = lines.size() > 20 ? lines.size() - 20 : 0;
        for (size_t i = start; i < lines.size(); ++i) {
          out += "      | " + SanitizeForTerminal(lines[i]) + "\n";
        }
      }
    }
  }
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
  out += fmt::format("{} {}\n", Tag(doc.root.status, o.color), counts);
}

std::string ToText(const ktap::Document& doc, const TextOptions& o) {
  Out out;
  WriteText(doc, o, out);
  return out.Take();
}

}  // namespace vigil::report
