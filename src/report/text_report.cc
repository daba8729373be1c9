#include <fmt/format.h>

#include "report/reports.h"
#include "base/text.h"

namespace vigil::report {
namespace {

using ktap::Status;
using ktap::TestNode;

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

std::string Name(const TestNode& n) { return SanitizeForTerminal(ktap::DisplayName(n)); }

void Tree(const TestNode& node, int depth, const TextOptions& o, std::string* out) {
  std::string indent(static_cast<size_t>(depth) * 2, ' ');
  std::string extra;
  if (node.directive != ktap::Directive::kNone && !node.directive_text.empty()) {
    extra += " # " + SanitizeForTerminal(node.directive_text);
  }
  if (node.exit_code) extra += fmt::format(" (exit {})", *node.exit_code);
  if (node.duration_ms) extra += fmt::format(" ({} ms)", *node.duration_ms);
  if (!node.has_result_line && !node.name.empty()) extra += " (no result)";
  *out += fmt::format("{}{} {}{}\n", indent, Tag(node.status, o.color), Name(node), extra);
  for (const auto& c : node.subtests) Tree(c, depth + 1, o, out);
}

void CollectFailures(const TestNode& node, const std::string& path, std::vector<std::pair<std::string, const TestNode*>>* out) {
  std::string here = path.empty() ? Name(node) : path + " > " + Name(node);
  if (here.size() > 2048) here = "..." + here.substr(here.size() - 2045);  // deep, long names
  bool child_failed = false;
  for (const auto& c : node.subtests) {
    if (ktap::IsFailure(c.status)) {
      child_failed = true;
      CollectFailures(c, here, out);
    }
  }
  if (!child_failed && ktap::IsFailure(node.status)) out->push_back({here, &node});
}

}  // namespace

std::string StatusTag(Status s, bool color) {
  std::string tag = fmt::format("[{}]", ktap::StatusName(s));
  if (!color) return tag;
  return std::string(Color(s)) + tag + "\033[0m";
}

std::string ToText(const ktap::Document& doc, const TextOptions& o) {
  std::string out;
  if (!doc.found_ktap) {
    out += fmt::format("No KTAP output found in {} lines.\n", doc.lines);
    return out;
  }
  if (o.show_tree) {
    for (const auto& t : doc.root.subtests) Tree(t, 0, o, &out);
  }

  std::vector<std::pair<std::string, const TestNode*>> failures;
  for (const auto& t : doc.root.subtests) {
    if (ktap::IsFailure(t.status)) CollectFailures(t, "", &failures);
  }
  if (o.show_tree) out += "\n";
  if (!failures.empty()) {
    out += fmt::format("Failures ({}):\n", failures.size());
    for (const auto& [path, node] : failures) {
      out += fmt::format("  {} {}\n", Tag(node->status, o.color), path);
      if (o.show_logs) {
        std::vector<std::string_view> lines = node->log.Lines();
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
  return out;
}

}  // namespace vigil::report
