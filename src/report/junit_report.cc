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

struct Tally {
  int64_t tests = 0, failures = 0, errors = 0, skipped = 0, time_ms = 0;
};

void AppendSeconds(std::string& out, int64_t ms) {
  fmt::format_to(std::back_inserter(out), "{:.3f}", static_cast<double>(ms) / 1000.0);
}

std::string Seconds(int64_t ms) {
  std::string s;
  AppendSeconds(s, ms);
  return s;
}

std::string NodeName(const TreeNode& n) {
  return n.name.empty() ? fmt::format("test {}", n.number) : std::string(n.name);
}

// One testcase. `own`: the case of a parent that failed on its own, named
// "NAME (own result)" and without its duration. `out` null: only counted.
void EmitCase(const TreeNode& leaf, bool own, std::string_view classname, Tally* t, std::string* out) {
  ++t->tests;
  if (leaf.has_duration && !own) t->time_ms += leaf.duration_ms;
  Status status = leaf.status;
  switch (status) {
    case Status::kFail:
    case Status::kXpass:
    case Status::kTimeout: ++t->failures; break;
    case Status::kCrash:
    case Status::kError: ++t->errors; break;
    case Status::kSkip:
    case Status::kNoTests: ++t->skipped; break;
    case Status::kPass:
    case Status::kXfail: break;
  }
  if (out == nullptr) return;
  std::string& o = *out;
  o += "    <testcase name=\"";
  if (leaf.name.empty()) {
    fmt::format_to(std::back_inserter(o), "test {}", leaf.number);
  } else {
    AppendXmlEscaped(o, leaf.name);
  }
  if (own) o += " (own result)";
  o += "\" classname=\"";
  AppendXmlEscaped(o, classname);
  o += "\" time=\"";
  AppendSeconds(o, own || !leaf.has_duration ? 0 : leaf.duration_ms);
  o += '"';
  std::string detail;
  if (leaf.has_exit_code || !leaf.directive_text.empty()) {
    detail = std::string(leaf.directive_text);
    if (leaf.has_exit_code) detail = fmt::format("exit={}{}{}", leaf.exit_code, detail.empty() ? "" : " ", detail);
  }
  bool body = false;
  auto open = [&] {
    if (!body) o += ">\n";
    body = true;
  };
  switch (status) {
    case Status::kFail:
    case Status::kXpass:
    case Status::kTimeout:
      open();
      o += "      <failure message=\"";
      AppendXmlEscaped(o, fmt::format("{}{}{}", ktap::StatusName(status), detail.empty() ? "" : ": ", detail));
      fmt::format_to(std::back_inserter(o), "\" type=\"{}\"/>\n", ktap::StatusName(status));
      break;
    case Status::kCrash:
    case Status::kError:
      open();
      o += "      <error message=\"";
      AppendXmlEscaped(o, status == Status::kCrash ? std::string("CRASH: result missing (interrupted or crashed)")
                                                   : fmt::format("ERROR{}{}", detail.empty() ? "" : ": ", detail));
      fmt::format_to(std::back_inserter(o), "\" type=\"{}\"/>\n", ktap::StatusName(status));
      break;
    case Status::kSkip:
    case Status::kNoTests:
      open();
      o += "      <skipped message=\"";
      AppendXmlEscaped(o, status == Status::kNoTests ? std::string_view("no tests run") : std::string_view(detail));
      o += "\"/>\n";
      break;
    case Status::kPass:
    case Status::kXfail: break;
  }
  if (!leaf.log.empty() || leaf.log_dropped > 0) {
    open();
    o += "      <system-out>";
    AppendXmlEscaped(o, leaf.log);
    if (leaf.log_dropped > 0) AppendXmlEscaped(o, fmt::format("[{} more lines not kept]\n", leaf.log_dropped));
    o += "</system-out>\n";
  }
  o += body ? "    </testcase>\n" : "/>\n";
}

// Classnames are capped: hostile input could nest long names deeply.
std::string Child(const std::string& classname, const TreeNode& child) {
  std::string c = classname + "." + NodeName(child);
  if (c.size() > 2048) c = "..." + c.substr(c.size() - 2045);
  return c;
}

void EmitLeaves(const Tree& tree, const TreeNode& node, const std::string& classname, Tally* t, std::string* out) {
  if (node.num_children == 0) {
    EmitCase(node, false, classname, t, out);
    return;
  }
  bool child_failed = false;
  for (Tree::Id id : tree.children(node)) {
    const TreeNode& child = tree.node(id);
    child_failed |= ktap::IsFailure(child.status);
    if (child.num_children == 0) {
      EmitCase(child, false, classname, t, out);
    } else {
      EmitLeaves(tree, child, Child(classname, child), t, out);
    }
  }
  if (ktap::IsFailure(node.status) && (!child_failed || node.status == Status::kTimeout)) {
    // The parent failed on its own (`not ok`, its result never came, it was
    // killed at its timeout): a case of its own, or the failure and its log
    // would be lost.
    EmitCase(node, true, classname, t, out);
  }
}

// A top-level test's tally: its cases counted (and written to `cases`
// unless null), its duration if longer.
Tally SuiteTally(const Tree& tree, const TreeNode& top, const std::string& name, std::string* cases) {
  Tally t;
  EmitLeaves(tree, top, name, &t, cases);
  if (top.has_duration && top.duration_ms > t.time_ms) t.time_ms = top.duration_ms;
  return t;
}

void AddTo(Tally& total, const Tally& t) {
  total.tests += t.tests;
  total.failures += t.failures;
  total.errors += t.errors;
  total.skipped += t.skipped;
  total.time_ms += t.time_ms;
}

// A top-level test's testsuite up to its cases.
void SuiteHead(const TreeNode& top, const std::string& name, const Tally& t, std::string& o) {
  fmt::format_to(std::back_inserter(o),
                 "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n",
                 XmlEscape(name), t.tests, t.failures, t.errors, t.skipped, Seconds(t.time_ms));
  if (top.dropped > 0) {
    // Counted in the test's status, not kept: said, not made into cases.
    fmt::format_to(std::back_inserter(o),
                   "    <properties>\n      <property name=\"subtests_dropped\" value=\"{}\"/>\n    </properties>\n",
                   top.dropped);
  }
}

// Its end, after the cases.
void SuiteTail(const TreeNode& top, std::string& o) {
  if (top.dropped > 0) {
    fmt::format_to(
        std::back_inserter(o),
        "    <system-err>truncated: {} more subtests were counted, not kept (vigil keeps {} per test)</system-err>\n",
        top.dropped, ktap::kMaxSubtests);
  }
  o += "  </testsuite>\n";
}

class JunitReport : public TreeReport {
 public:
  explicit JunitReport(std::string suite_name) : suite_name_(std::move(suite_name)) {}

  void Take(const Tree& tree, std::span<const Tree::Id> tops) override {
    for (Tree::Id id : tops) {
      TreeNode top = tree.node(id);
      std::string name = NodeName(top);
      // The totals head the suite: its cases are counted as they are written.
      cases_.clear();
      Tally t = SuiteTally(tree, top, name, &cases_);
      AddTo(total_, t);
      std::string& b = body_.buf();
      SuiteHead(top, name, t, b);
      b += cases_;
      SuiteTail(top, b);
      body_.Step();
    }
  }

  void Write(const ktap::Document& doc, Out& out) override {
    ktap::Tree converted;
    const Tree& tree = TreeOf(doc, &converted);
    // The totals head the document: each suite counted first, then written.
    std::span<const Tree::Id> tops = tree.children(tree.root());
    std::vector<Tally> tallies;
    tallies.reserve(tops.size());
    Tally total = total_;
    for (Tree::Id id : tops) {
      TreeNode top = tree.node(id);
      tallies.push_back(SuiteTally(tree, top, NodeName(top), nullptr));
      AddTo(total, tallies.back());
    }
    out.buf() += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out.buf() += fmt::format(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n",
        XmlEscape(suite_name_), total.tests, total.failures, total.errors, total.skipped, Seconds(total.time_ms));
    body_.WriteTo(out);
    out.WriteInOrder(tops.size(), [&](size_t i, std::string& o) {
      TreeNode top = tree.node(tops[i]);
      std::string name = NodeName(top);
      SuiteHead(top, name, tallies[i], o);
      Tally again;
      EmitLeaves(tree, top, name, &again, &o);
      SuiteTail(top, o);
    });
    out.buf() += "</testsuites>\n";
  }

 private:
  std::string suite_name_;
  Pieces body_;
  Tally total_;        // of the suites taken
  std::string cases_;  // scratch
};

}  // namespace

std::unique_ptr<TreeReport> NewJunitReport(const std::string& suite_name) {
  return std::make_unique<JunitReport>(suite_name);
}

void WriteJunit(const ktap::Document& doc, Out& out, const std::string& suite_name) {
  JunitReport(suite_name).Write(doc, out);
}

std::string ToJunit(const ktap::Document& doc, const std::string& suite_name) {
  Out o;
  WriteJunit(doc, o, suite_name);
  return o.Take();
}

}  // namespace vigil::report
