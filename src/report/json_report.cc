#include <cstring>
#include <iterator>
#include <span>

#include <fmt/format.h>

#include "report/reports.h"
#include "report/tree_report.h"
#include "base/json.h"
#include "base/text.h"

namespace vigil::report {
namespace {

using namespace std::string_view_literals;

using ktap::Status;

nlohmann::json NodeToJson(const ktap::TestNode& node) {
  nlohmann::json j;
  j["name"] = SanitizeUtf8(ktap::DisplayName(node));
  j["number"] = node.number;
  j["status"] = ktap::StatusName(node.status);
  if (node.directive == ktap::Directive::kNone) {
    j["directive"] = nullptr;
  } else {
    j["directive"] = ktap::DirectiveName(node.directive);
    j["directive_text"] = SanitizeUtf8(node.directive_text);
  }
  j["duration_ms"] = node.duration_ms ? nlohmann::json(*node.duration_ms) : nlohmann::json(nullptr);
  if (node.exit_code) j["exit_code"] = *node.exit_code;
  if (!node.has_result_line) j["missing_result"] = true;
  if (node.plan) j["plan"] = *node.plan;
  if (node.dropped > 0) j["dropped"] = node.dropped;  // results below it counted, not kept
  nlohmann::json subtests = nlohmann::json::array();
  for (const auto& t : node.subtests) subtests.push_back(NodeToJson(t));
  j["subtests"] = std::move(subtests);
  nlohmann::json log = nlohmann::json::array();
  for (std::string_view l : node.log.Lines()) log.push_back(SanitizeUtf8(l));
  j["log"] = std::move(log);
  if (node.log.dropped() > 0) j["log_dropped"] = node.log.dropped();
  return j;
}

}  // namespace

nlohmann::json CountsToJson(const ktap::Counts& c, int64_t parse_errors) {
  return {
      {"passed", c.Get(Status::kPass)},       {"failed", c.Get(Status::kFail)},
      {"crashed", c.Get(Status::kCrash)},     {"skipped", c.Get(Status::kSkip)},
      {"errors", parse_errors},               {"xfailed", c.Get(Status::kXfail)},
      {"xpassed", c.Get(Status::kXpass)},     {"timed_out", c.Get(Status::kTimeout)},
      {"test_errors", c.Get(Status::kError)}, {"total", c.Total()},
  };
}

namespace {

nlohmann::json ErrorsToJson(const ktap::Document& doc) {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : doc.errors) {
    errors.push_back({{"line", e.line}, {"message", SanitizeUtf8(e.message)}});
  }
  return errors;
}

std::string Dump(const nlohmann::json& j) {
  return DumpJson(j);
}

}  // namespace

nlohmann::json ToJson(const ktap::Document& doc) {
  nlohmann::json j;
  j["format_version"] = kJsonFormatVersion;
  j["status"] = ktap::DocumentStatusName(doc);
  j["counts"] = CountsToJson(doc.counts, doc.error_count);
  nlohmann::json tests = nlohmann::json::array();
  for (const auto& t : doc.root.subtests) tests.push_back(NodeToJson(t));
  j["tests"] = std::move(tests);
  j["errors"] = ErrorsToJson(doc);
  if (doc.error_count > static_cast<int64_t>(doc.errors.size())) {
    j["errors_dropped"] = doc.error_count - static_cast<int64_t>(doc.errors.size());
  }
  if (doc.dropped > 0) j["dropped"] = doc.dropped;  // tests counted, not kept
  j["lines"] = doc.lines;
  return j;
}

namespace {

void AppendInt(std::string& out, int64_t v) { fmt::format_to(std::back_inserter(out), "{}", v); }

// One test as NodeToJson() makes it, written straight from the tree: the
// same keys in the same (sorted) order, the same bytes.
void WriteNode(const ktap::Tree& tree, const ktap::TreeNode& n, Buffer& b) {
  std::string display;
  std::string_view name = n.name;
  if (name.empty()) {
    display = ktap::DisplayName(n);
    name = display;
  }
  // The keys, numbers and names of a directive and a status take less than
  // 512 bytes; each log line at most six bytes a byte and its quotes and
  // comma (which its newline's six cover).
  char* p = b.Room(512 + JsonStringBound(n.directive_text.size()) + JsonStringBound(name.size()) + JsonStringBound(n.log.size()));
  if (n.directive == ktap::Directive::kNone) {
    p = PutBytes(p, "{\"directive\":null");
  } else {
    p = PutBytes(p, "{\"directive\":\"");
    p = PutBytes(p, ktap::DirectiveName(n.directive));
    p = PutBytes(p, "\",\"directive_text\":");
    p = PutJsonString(p, n.directive_text);
  }
  if (n.dropped > 0) {
    p = PutBytes(p, ",\"dropped\":");
    p = PutInt(p, n.dropped);
  }
  p = PutBytes(p, ",\"duration_ms\":");
  p = n.has_duration ? PutInt(p, n.duration_ms) : PutBytes(p, "null");
  if (n.has_exit_code) {
    p = PutBytes(p, ",\"exit_code\":");
    p = PutInt(p, n.exit_code);
  }
  p = PutBytes(p, ",\"log\":[");
  p = PutJsonLines(p, n.log);
  *p++ = ']';
  if (n.log_dropped > 0) {
    p = PutBytes(p, ",\"log_dropped\":");
    p = PutInt(p, n.log_dropped);
  }
  if (!n.has_result_line) p = PutBytes(p, ",\"missing_result\":true");
  p = PutBytes(p, ",\"name\":");
  p = PutJsonString(p, name);
  p = PutBytes(p, ",\"number\":");
  p = PutInt(p, n.number);
  if (n.has_plan) {
    p = PutBytes(p, ",\"plan\":");
    p = PutInt(p, n.plan);
  }
  p = PutBytes(p, ",\"status\":\"");
  p = PutBytes(p, ktap::StatusName(n.status));
  p = PutBytes(p, "\",\"subtests\":[");
  b.Done(p);
  bool first = true;
  for (ktap::Tree::Id c : tree.children(n)) {
    if (!first) b.Put(",");
    first = false;
    WriteNode(tree, tree.node(c), b);
  }
  b.Put("]}");
}

class JsonReport : public TreeReport {
 public:
  void Take(const ktap::Tree& tree, std::span<const ktap::Tree::Id> tops) override {
    for (ktap::Tree::Id id : tops) {
      Buffer& b = body_.buf();
      if (any_) b.Put(",");
      any_ = true;
      WriteNode(tree, tree.node(id), b);
    }
  }

  void Write(const ktap::Document& doc, Out& o) override {
    ktap::Tree converted;
    const ktap::Tree& tree = TreeOf(doc, &converted);
    std::string& b = o.buf();
    b += "{\"format_version\":"sv;
    AppendInt(b, kJsonFormatVersion);
    b += ",\"status\":"sv;
    AppendJsonString(b, ktap::DocumentStatusName(doc));
    b += ",\"counts\":" + Dump(CountsToJson(doc.counts, doc.error_count));
    b += ",\"tests\":["sv;
    body_.WriteTo(o);
    std::span<const ktap::Tree::Id> tests = tree.children(tree.root());
    o.WriteInOrder(tests.size(), [&](size_t i, Buffer& into) {
      if (i > 0 || any_) into.Put(",");
      WriteNode(tree, tree.node(tests[i]), into);
    });
    std::string& e = o.buf();
    e += "],\"errors\":" + Dump(ErrorsToJson(doc));
    if (doc.error_count > static_cast<int64_t>(doc.errors.size())) {
      e += ",\"errors_dropped\":" + std::to_string(doc.error_count - static_cast<int64_t>(doc.errors.size()));
    }
    if (doc.dropped > 0) e += ",\"dropped\":" + std::to_string(doc.dropped);
    e += ",\"lines\":" + std::to_string(doc.lines) + "}\n";
  }

 private:
  Pieces body_;
  bool any_ = false;  // a test was taken
};

}  // namespace

std::unique_ptr<TreeReport> NewJsonReport() { return std::make_unique<JsonReport>(); }

void WriteJson(const ktap::Document& doc, Out& o) { JsonReport().Write(doc, o); }

std::string ToJsonText(const ktap::Document& doc) {
  Out o;
  WriteJson(doc, o);
  return o.Take();
}

const ktap::Tree& TreeOf(const ktap::Document& doc, ktap::Tree* storage) {
  if (!doc.tree.empty()) return doc.tree;
  *storage = ktap::Tree::FromNode(doc.root);
  return *storage;
}

}  // namespace vigil::report
