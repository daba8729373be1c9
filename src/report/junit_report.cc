#include <cstring>
#include <deque>
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

// Durations come from the log: a sum of hostile ones stops at the limit.
void AddTime(int64_t& sum, int64_t ms) {
  if (__builtin_add_overflow(sum, ms, &sum)) sum = ms < 0 ? INT64_MIN : INT64_MAX;
}

// Milliseconds as seconds with three decimals, "{:.3f}" of ms / 1000.0: the
// digits of the integer where that is exact (below 2^40 ms the double is
// within 2^-22 of ms / 1000, far from a rounding boundary), fmt beyond. At
// most 32 characters.
char* PutSeconds(char* p, int64_t ms) {
  if (ms < 0 || ms >= (int64_t{1} << 40)) return fmt::format_to(p, "{:.3f}", static_cast<double>(ms) / 1000.0);
  p = PutInt(p, ms / 1000);
  int64_t frac = ms % 1000;
  p[0] = '.';
  p[1] = static_cast<char>('0' + frac / 100);
  p[2] = static_cast<char>('0' + frac / 10 % 10);
  p[3] = static_cast<char>('0' + frac % 10);
  return p + 4;
}

std::string Seconds(int64_t ms) {
  char buf[32];
  return std::string(buf, PutSeconds(buf, ms));
}

std::string NodeName(const TreeNode& n) {
  return n.name.empty() ? fmt::format("test {}", n.number) : std::string(n.name);
}

// One testcase. `own`: the case of a parent that failed on its own, named
// "NAME (own result)" and without its duration. `classname_xml`: escaped
// already (once for all the cases of a parent). `out` null: only counted.
void EmitCase(const TreeNode& leaf, bool own, std::string_view classname_xml, Tally* t, Buffer* out) {
  ++t->tests;
  if (leaf.has_duration && !own) AddTime(t->time_ms, leaf.duration_ms);
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
  // The fixed text, numbers and status names take less than 512 bytes.
  char* p = out->Room(512 + classname_xml.size() +
                      XmlEscapedBound(leaf.name.size() + leaf.directive_text.size() + leaf.log.size()));
  p = PutBytes(p, "    <testcase name=\"");
  if (leaf.name.empty()) {
    p = PutInt(PutBytes(p, "test "), leaf.number);
  } else {
    p = PutXmlEscaped(p, leaf.name);
  }
  if (own) p = PutBytes(p, " (own result)");
  p = PutBytes(p, "\" classname=\"");
  p = PutBytes(p, classname_xml);
  p = PutBytes(p, "\" time=\"");
  p = PutSeconds(p, own || !leaf.has_duration ? 0 : leaf.duration_ms);
  *p++ = '"';
  // The detail of a message: "exit=N", the directive's text, or both.
  auto detail = [&](char* q) {
    if (leaf.has_exit_code) {
      q = PutInt(PutBytes(q, "exit="), leaf.exit_code);
      if (!leaf.directive_text.empty()) *q++ = ' ';
    }
    return PutXmlEscaped(q, leaf.directive_text);
  };
  bool has_detail = leaf.has_exit_code || !leaf.directive_text.empty();
  bool body = false;
  auto open = [&] {
    if (!body) p = PutBytes(p, ">\n");
    body = true;
  };
  switch (status) {
    case Status::kFail:
    case Status::kXpass:
    case Status::kTimeout:
      open();
      p = PutBytes(PutBytes(p, "      <failure message=\""), ktap::StatusName(status));
      if (has_detail) p = detail(PutBytes(p, ": "));
      p = PutBytes(PutBytes(PutBytes(p, "\" type=\""), ktap::StatusName(status)), "\"/>\n");
      break;
    case Status::kCrash:
    case Status::kError:
      open();
      p = PutBytes(p, "      <error message=\"");
      if (status == Status::kCrash) {
        p = PutBytes(p, "CRASH: result missing (interrupted or crashed)");
      } else {
        p = PutBytes(p, "ERROR");
        if (has_detail) p = detail(PutBytes(p, ": "));
      }
      p = PutBytes(PutBytes(PutBytes(p, "\" type=\""), ktap::StatusName(status)), "\"/>\n");
      break;
    case Status::kSkip:
    case Status::kNoTests:
      open();
      p = PutBytes(p, "      <skipped message=\"");
      p = status == Status::kNoTests ? PutBytes(p, "no tests run") : detail(p);
      p = PutBytes(p, "\"/>\n");
      break;
    case Status::kPass:
    case Status::kXfail: break;
  }
  if (!leaf.log.empty() || leaf.log_dropped > 0) {
    open();
    p = PutBytes(p, "      <system-out>");
    p = PutXmlEscaped(p, leaf.log);
    if (leaf.log_dropped > 0) p = PutBytes(PutInt(PutBytes(p, "["), leaf.log_dropped), " more lines not kept]\n");
    p = PutBytes(p, "</system-out>\n");
  }
  p = PutBytes(p, body ? "    </testcase>\n" : "/>\n");
  out->Done(p);
}

// The classnames on the way down to a case, one per depth: each parent's as
// written (the suite's name, then ".child" after ".child") and escaped.
// The strings are reused from parent to parent and suite to suite: a
// deque, so that growing it deeper moves none of them.
struct ClassPath {
  std::deque<std::string> raw, xml;
};

// raw[depth + 1] = raw[depth] + "." + the child's name. Classnames are
// capped: hostile input could nest long names deeply.
void SetChild(ClassPath& path, size_t depth, const TreeNode& child) {
  if (path.raw.size() <= depth + 1) path.raw.resize(depth + 2);
  std::string& c = path.raw[depth + 1];
  c.assign(path.raw[depth]);
  c += '.';
  if (child.name.empty()) {
    fmt::format_to(std::back_inserter(c), "test {}", child.number);
  } else {
    c += child.name;
  }
  if (c.size() > 2048) c.replace(0, c.size() - 2045, "...");
}

// The cases below `node`, whose classname is path->raw[depth], counted into
// `t` and written to `out` (`path` and `out` both null: only counted).
void EmitLeaves(const Tree& tree, const TreeNode& node, size_t depth, ClassPath* path, Tally* t, Buffer* out) {
  std::string_view classname_xml;
  if (out) {
    if (path->xml.size() <= depth) path->xml.resize(depth + 1);
    std::string& x = path->xml[depth];
    x.clear();
    AppendXmlEscaped(x, path->raw[depth]);
    classname_xml = x;
  }
  if (node.num_children == 0) {
    EmitCase(node, false, classname_xml, t, out);
    return;
  }
  bool child_failed = false;
  for (Tree::Id id : tree.children(node)) {
    const TreeNode& child = tree.node(id);
    child_failed |= ktap::IsFailure(child.status);
    if (child.num_children == 0) {
      EmitCase(child, false, classname_xml, t, out);
    } else {
      if (out) SetChild(*path, depth, child);
      EmitLeaves(tree, child, depth + 1, path, t, out);
    }
  }
  if (ktap::IsFailure(node.status) && (!child_failed || node.status == Status::kTimeout)) {
    // The parent failed on its own (`not ok`, its result never came, it was
    // killed at its timeout): a case of its own, or the failure and its log
    // would be lost.
    EmitCase(node, true, classname_xml, t, out);
  }
}

// A top-level test's tally: its cases counted, its duration if longer.
Tally SuiteTally(const Tree& tree, const TreeNode& top) {
  Tally t;
  EmitLeaves(tree, top, 0, nullptr, &t, nullptr);
  if (top.has_duration && top.duration_ms > t.time_ms) t.time_ms = top.duration_ms;
  return t;
}

void AddTo(Tally& total, const Tally& t) {
  total.tests += t.tests;
  total.failures += t.failures;
  total.errors += t.errors;
  total.skipped += t.skipped;
  AddTime(total.time_ms, t.time_ms);
}

// A top-level test's testsuite up to its cases.
void SuiteHead(const TreeNode& top, const std::string& name, const Tally& t, Buffer& o) {
  char* p = o.Room(512 + XmlEscapedBound(name.size()));
  p = PutXmlEscaped(PutBytes(p, "  <testsuite name=\""), name);
  p = PutInt(PutBytes(p, "\" tests=\""), t.tests);
  p = PutInt(PutBytes(p, "\" failures=\""), t.failures);
  p = PutInt(PutBytes(p, "\" errors=\""), t.errors);
  p = PutInt(PutBytes(p, "\" skipped=\""), t.skipped);
  p = PutSeconds(PutBytes(p, "\" time=\""), t.time_ms);
  p = PutBytes(p, "\">\n");
  if (top.dropped > 0) {
    // Counted in the test's status, not kept: said, not made into cases.
    p = PutInt(PutBytes(p, "    <properties>\n      <property name=\"subtests_dropped\" value=\""), top.dropped);
    p = PutBytes(p, "\"/>\n    </properties>\n");
  }
  o.Done(p);
}

// Its end, after the cases.
void SuiteTail(const TreeNode& top, Buffer& o) {
  if (top.dropped > 0) {
    o.Put(fmt::format(
        "    <system-err>truncated: {} more subtests were counted, not kept (vigil keeps {} per test)</system-err>\n",
        top.dropped, ktap::kMaxSubtests));
  }
  o.Put("  </testsuite>\n");
}

// A counted top-level test's testsuite: its head with the tally `t`, its
// cases, its end.
void WriteSuite(const Tree& tree, const TreeNode& top, const std::string& name, const Tally& t, Buffer& o) {
  SuiteHead(top, name, t, o);
  // Each thread that writes suites keeps its classnames' memory.
  thread_local ClassPath path;
  if (path.raw.empty()) path.raw.resize(1);
  path.raw[0] = name;
  Tally again;  // t once more
  EmitLeaves(tree, top, 0, &path, &again, &o);
  SuiteTail(top, o);
}

class JunitReport : public TreeReport {
 public:
  explicit JunitReport(std::string suite_name) : suite_name_(std::move(suite_name)) {}

  void Take(const Tree& tree, std::span<const Tree::Id> tops) override {
    for (Tree::Id id : tops) {
      TreeNode top = tree.node(id);
      std::string name = NodeName(top);
      // The totals head the suite: its cases are counted first, then written
      // where they stay.
      Tally t = SuiteTally(tree, top);
      AddTo(total_, t);
      WriteSuite(tree, top, name, t, body_.buf());
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
      tallies.push_back(SuiteTally(tree, top));
      AddTo(total, tallies.back());
    }
    out.buf() += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out.buf() += fmt::format(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\">\n",
        XmlEscape(suite_name_), total.tests, total.failures, total.errors, total.skipped, Seconds(total.time_ms));
    body_.WriteTo(out);
    out.WriteInOrder(tops.size(), [&](size_t i, Buffer& o) {
      TreeNode top = tree.node(tops[i]);
      WriteSuite(tree, top, NodeName(top), tallies[i], o);
    });
    out.buf() += "</testsuites>\n";
  }

 private:
  std::string suite_name_;
  Pieces body_;
  Tally total_;  // of the suites taken
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
