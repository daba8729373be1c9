#include <fmt/format.h>

#include "report/reports.h"
#include "base/text.h"

namespace vigil::report {
namespace {

using ktap::Directive;
using ktap::TestNode;

// Text on one KTAP line: a line break would start a line of its own (a
// forged result), so control characters are written visibly as \n, \r,
// \xNN; '#' in names is escaped as TAP does; invalid UTF-8 is replaced.
std::string OneLine(std::string_view s, bool escape_hash) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else if (c == '#' && escape_hash) {
      out += "\\#";
    } else {
      out += c;
    }
  }
  return SanitizeUtf8(out);
}

std::string Clean(std::string_view s) { return OneLine(s, true); }

// Results below `node` that were counted but not kept, less those its kept
// subtests account for.
int64_t DroppedHere(const TestNode& node) {
  int64_t n = node.dropped;
  for (const auto& c : node.subtests) n -= c.dropped;
  return n > 0 ? n : 0;
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
  if (!node.has_result_line && trailing) {
    // A reader makes it CRASH; a header keeps its name (a block without a
    // result line is read as a test missing its result).
    if (!node.is_parent && !node.name.empty()) {
      std::string inner(static_cast<size_t>(depth + 1) * 2, ' ');
      *out += inner + "KTAP version 1\n" + inner + "# Subtest: " + Clean(node.name) + "\n";
    }
    return;
  }
  // A failure among results not kept must still show: its parent says `not ok`.
  bool ok = node.has_result_line && node.ok && !(DroppedHere(node) > 0 && ktap::IsFailure(node.status));
  *out += indent + (ok ? "ok " : "not ok ") + std::to_string(number);
  if (!node.name.empty()) *out += " " + Clean(node.name);
  std::string directive;
  if (!node.has_result_line) {
    directive = "ERROR result missing (crashed or interrupted)";
  } else if (node.directive != Directive::kNone) {
    directive = std::string(ktap::DirectiveName(node.directive));
    if (!node.directive_text.empty()) directive += " " + OneLine(node.directive_text, false);
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
  // Missing tests beyond those materialised are kept in the plan; when
  // results were dropped the plan is what is shown (the rest are no missing
  // results, and a diagnostic says how many went).
  int64_t dropped = DroppedHere(node);
  int64_t plan = node.plan && *node.plan > shown && dropped == 0 ? *node.plan : shown;
  if (node.plan || !node.subtests.empty() || depth == 0) {
    *out += indent + "1.." + std::to_string(plan);
    if (plan == 0 && node.directive == Directive::kSkip) {
      *out += " # SKIP";
      if (!node.directive_text.empty()) *out += " " + OneLine(node.directive_text, false);
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
  if (dropped > 0) *out += fmt::format("{}# {} more results not kept (vigil keeps {} per test)\n", indent, dropped, ktap::kMaxSubtests);
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
