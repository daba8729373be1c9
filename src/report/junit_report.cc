#include <fmt/format.h>

#include "report/reports.h"
#include "base/text.h"

namespace vigil::report {
namespace {

using ktap::Status;
using ktap::TestNode;

struct Tally {
  int64_t tests = 0, failures = 0, errors = 0, skipped = 0, time_ms = 0;
};

std::string Seconds(int64_t ms) { return fmt::format("{:.3f}", static_cast<double>(ms) / 1000.0); }

std::string NodeName(const TestNode& n) {
  return n.name.empty() ? fmt::format("test {}", n.number) : n.name;
}

std::string JoinLog(const TestNode& n) {
  std::string out = n.log.text();
  if (n.log.dropped() > 0) out += fmt::format("[{} more lines not kept]\n", n.log.dropped());
  return out;
}

void EmitCase(const TestNode& leaf, const std::string& classname, Tally* t, std::string* out) {
  ++t->tests;
  if (leaf.duration_ms) t->time_ms += *leaf.duration_ms;
  *out += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"", XmlEscape(NodeName(leaf)),
                      XmlEscape(classname), Seconds(leaf.duration_ms.value_or(0)));
  std::string body;
  std::string detail = leaf.directive_text;
  if (leaf.exit_code) detail = fmt::format("exit={}{}{}", *leaf.exit_code, detail.empty() ? "" : " ", detail);
  switch (leaf.status) {
    case Status::kFail:
    case Status::kXpass:
    case Status::kTimeout:
      ++t->failures;
      body += fmt::format("      <failure message=\"{}\" type=\"{}\"/>\n",
                          XmlEscape(fmt::format("{}{}{}", ktap::StatusName(leaf.status),
                                                detail.empty() ? "" : ": ", detail)),
                          ktap::StatusName(leaf.status));
      break;
    case Status::kCrash:
    case Status::kError:
      ++t->errors;
      body += fmt::format(
          "      <error message=\"{}\" type=\"{}\"/>\n",
          XmlEscape(leaf.status == Status::kCrash ? std::string("CRASH: result missing (interrupted or crashed)")
                                                  : fmt::format("ERROR{}{}", detail.empty() ? "" : ": ", detail)),
          ktap::StatusName(leaf.status));
      break;
    case Status::kSkip:
    case Status::kNoTests:
      ++t->skipped;
      body += fmt::format("      <skipped message=\"{}\"/>\n",
                          XmlEscape(leaf.status == Status::kNoTests ? std::string("no tests run") : detail));
      break;
    case Status::kPass:
    case Status::kXfail:
      break;
  }
  std::string log = JoinLog(leaf);
  if (!log.empty()) body += "      <system-out>" + XmlEscape(log) + "</system-out>\n";
  if (body.empty()) {
    *out += "/>\n";
  } else {
    *out += ">\n" + body + "    </testcase>\n";
  }
}

// Classnames are capped: hostile input could nest long names deeply.
std::string Child(const std::string& classname, const TestNode& child) {
  std::string c = classname + "." + NodeName(child);
  if (c.size() > 2048) c = "..." + c.substr(c.size() - 2045);
  return c;
}

void EmitLeaves(const TestNode& node, const std::string& classname, Tally* t, std::string* out) {
  if (node.subtests.empty()) {
    EmitCase(node, classname, t, out);
    return;
  }
  bool child_failed = false;
  for (const auto& child : node.subtests) {
    child_failed |= ktap::IsFailure(child.status);
    if (child.subtests.empty()) {
      EmitCase(child, classname, t, out);
    } else {
      EmitLeaves(child, Child(classname, child), t, out);
    }
  }
  if (ktap::IsFailure(node.status) && (!child_failed || node.status == Status::kTimeout)) {
    // The parent failed on its own (`not ok`, its result never came, it was
    // killed at its timeout): a case of its own, or the failure and its log
    // would be lost.
    TestNode self;
    self.name = NodeName(node) + " (own result)";
    self.status = node.status;
    self.directive_text = node.directive_text;
    self.exit_code = node.exit_code;
    self.log = node.log;
    EmitCase(self, classname, t, out);
  }
}

}  // namespace

std::string ToJunit(const ktap::Document& doc, const std::string& suite_name) {
  std::string suites;
  Tally total;
  for (const auto& top : doc.root.subtests) {
    Tally t;
    std::string cases;
    EmitLeaves(top, NodeName(top), &t, &cases);
    if (top.duration_ms && *top.duration_ms > t.time_ms) t.time_ms = *top.duration_ms;
    suites += fmt::format(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n",
        XmlEscape(NodeName(top)), t.tests, t.failures, t.errors, t.skipped, Seconds(t.time_ms));
    if (top.dropped > 0) {
      // Counted in the test's status, not kept: said, not made into cases.
      suites += fmt::format(
          "    <properties>\n      <property name=\"subtests_dropped\" value=\"{}\"/>\n    </properties>\n",
          top.dropped);
    }
    suites += cases;
    if (top.dropped > 0) {
      suites += fmt::format(
          "    <system-err>truncated: {} more subtests were counted, not kept (vigil keeps {} per test)</system-err>\n",
          top.dropped, ktap::kMaxSubtests);
    }
    suites += "  </testsuite>\n";
    total.tests += t.tests;
    total.failures += t.failures;
    total.errors += t.errors;
    total.skipped += t.skipped;
    total.time_ms += t.time_ms;
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n",
      XmlEscape(suite_name), total.tests, total.failures, total.errors, total.skipped, Seconds(total.time_ms));
  out += suites;
  out += "</testsuites>\n";
  return out;
}

}  // namespace vigil::report
