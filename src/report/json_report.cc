#include "report/reports.h"
#include "base/json.h"
#include "base/text.h"

namespace vigil::report {
namespace {

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

// The same document as ToJson(), written one top-level test at a time so a
// huge result never exists twice in memory.
std::string ToJsonText(const ktap::Document& doc) {
  std::string out = "{\"format_version\":" + std::to_string(kJsonFormatVersion);
  out += ",\"status\":" + Dump(std::string(ktap::DocumentStatusName(doc)));
  out += ",\"counts\":" + Dump(CountsToJson(doc.counts, doc.error_count));
  out += ",\"tests\":[";
  for (size_t i = 0; i < doc.root.subtests.size(); ++i) {
    if (i > 0) out += ',';
    out += Dump(NodeToJson(doc.root.subtests[i]));
  }
  out += "],\"errors\":" + Dump(ErrorsToJson(doc));
  if (doc.error_count > static_cast<int64_t>(doc.errors.size())) {
    out += ",\"errors_dropped\":" + std::to_string(doc.error_count - static_cast<int64_t>(doc.errors.size()));
  }
  if (doc.dropped > 0) out += ",\"dropped\":" + std::to_string(doc.dropped);
  out += ",\"lines\":" + std::to_string(doc.lines) + "}\n";
  return out;
}

}  // namespace vigil::report
