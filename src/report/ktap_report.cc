#include <fmt/format.h>

#include "report/reports.h"
#include "base/text.h"

namespace vigil::report {
namespace {

using ktap::Directive;
using ktap::TestNode;

// Result-line text can't carry newlines; '#' in names is escaped.
std::string Clean(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      out += ' ';
    } else if (c == '#') {
      out += "\\#";
    } else {
      out += c;
    }
  }
  return SanitizeUtf8(out);
}

void EmitBlock(const TestNode& node, int depth, std::string* out);

// `trailing`: no test after this one in its block has a result line. Missing
// results there stay missing (the plan makes a reader report them as
// crashed, as truncated output is); a missing result before a reported
// sibling must be written, or the sibling would be read as part of it.
void EmitResult(const TestNode& node, int64_t number, int depth, bool trailing, std::string* out) {
  std::string indent(static_cast<size_t>(depth) * 2, ' ');
  if (node.is_parent) {
    std::string inner(static_cast<size_t>(depth + 1) * 2, ' ');
    *out += inner + "KTAP version 1\n";
    if (!node.name.empty()) *out += inner + "# Subtest: " + Clean(node.name) + "\n";
    EmitBlock(node, depth + 1, out);
  }
  if (!node.has_result_line && trailing) return;
  bool ok = node.has_result_line && node.ok;
  *out += indent + (ok ? "ok " : "not ok ") + std::to_string(number);
  if (!node.name.empty()) *out += " " + Clean(node.name);
  std::string directive;
  if (!node.has_result_line) {
    directive = "ERROR result missing (crashed or interrupted)";
  } else if (node.directive != Directive::kNone) {
    directive = std::string(ktap::DirectiveName(node.directive));
    if (!node.directive_text.empty()) directive += " " + SanitizeUtf8(node.directive_text);
  } else if (node.exit_code) {
    directive = fmt::format("exit={}", *node.exit_code);
  }
  if (node.duration_ms && directive.find("time=") == std::string::npos) {
    directive += fmt::format("{}time={}ms", directive.empty() ? "" : " ", *node.duration_ms);
  }
  if (!directive.empty()) *out += " # " + directive;
  *out += "\n";
}

void EmitBlock(const TestNode& node, int depth, std::string* out) {
  std::string indent(static_cast<size_t>(depth) * 2, ' ');
  int64_t shown = static_cast<int64_t>(node.subtests.size());
  // Missing tests beyond those materialised are kept in the plan.
  int64_t plan = node.plan && *node.plan > shown ? *node.plan : shown;
  if (node.plan || !node.subtests.empty() || depth == 0) {
    *out += indent + "1.." + std::to_string(plan);
    if (plan == 0 && node.directive == Directive::kSkip) {
      *out += " # SKIP";
      if (!node.directive_text.empty()) *out += " " + SanitizeUtf8(node.directive_text);
    }
    *out += "\n";
  }
  // Only the last test that prints anything (a result line or a block) and
  // the empty placeholders after it may go without a result line: anything
  // earlier would run into the next block on reading.
  size_t last_printing = 0;  // one past it
  for (size_t i = 0; i < node.subtests.size(); ++i) {
    if (node.subtests[i].has_result_line || node.subtests[i].is_parent) last_printing = i + 1;
  }
  for (size_t i = 0; i < node.subtests.size(); ++i) {
    // Numbered in order: wrong or restarted numbering is normalised away.
    EmitResult(node.subtests[i], static_cast<int64_t>(i) + 1, depth, i + 1 >= last_printing, out);
  }
  if (node.bail_out) *out += indent + "Bail out!\n";
}

}  // namespace

std::string ToKtap(const ktap::Document& doc) {
  std::string out = "KTAP version 1\n";
  if (!doc.found_ktap) return out + "1..0\n";
  EmitBlock(doc.root, 0, &out);
  return out;
}

}  // namespace vigil::report
