// A finished run as one KTAP document, built from its records (the live
// parse of each test, as the store and the JSON report keep it), never by
// parsing the test's capped output again: the KTAP and JUnit reports of a run
// say what its JSON says.
#include <fmt/format.h>

#include "judge/outcome.h"
#include "model/test_path.h"
#include "report/reports.h"
#include "report/run_report.h"
#include "runner/test_plan.h"

namespace vigil::report {
namespace {

using ktap::Directive;
using ktap::Status;
using ktap::TestNode;

// A result line that gives `node` its status when read again.
void SetResult(Status status, TestNode* node) {
  node->status = status;
  node->has_result_line = status != Status::kCrash;
  node->ok = node->has_result_line && !ktap::IsFailure(status);
  switch (status) {
    case Status::kSkip: node->directive = Directive::kSkip; break;
    case Status::kXfail: node->directive = Directive::kXfail; break;
    case Status::kXpass: node->directive = Directive::kXpass; break;
    case Status::kTimeout: node->directive = Directive::kTimeout; break;
    case Status::kError: node->directive = Directive::kError; break;
    case Status::kNoTests:  // a block that planned nothing
      node->is_parent = true;
      node->plan = 0;
      break;
    default: break;
  }
}

// Whether `path` is a subtest of the subtest at `parent` ("parent > name").
bool IsBelow(const std::string& path, const std::string& parent) {
  return path.size() > parent.size() + 3 && path.compare(0, parent.size(), parent) == 0 &&
         path.compare(parent.size(), 3, " > ") == 0;
}

}  // namespace

void AddSubtestTree(const std::vector<model::SubtestRecord>& subtests, TestNode* test) {
  // Records are in preorder: a subtest follows its parent, and its path is
  // the parent's path, " > ", its name.
  struct Open {
    TestNode* node;
    const std::string* path;
  };
  std::vector<Open> open;
  for (const auto& s : subtests) {
    while (!open.empty() && !IsBelow(s.path, *open.back().path)) open.pop_back();
    // The test is depth 1: its subtests go as deep as the parser reads.
    if (open.size() + 2 > ktap::kMaxNestingDepth) open.pop_back();
    TestNode* parent = open.empty() ? test : open.back().node;
    TestNode child;
    child.name = open.empty() ? s.path : s.path.substr(open.back().path->size() + 3);
    child.number = static_cast<int64_t>(parent->subtests.size()) + 1;
    child.duration_ms = s.duration_ms;
    SetResult(judge::StatusOf(s.status), &child);
    parent->is_parent = true;
    parent->plan.reset();
    // Only ancestors are held: adding to the deepest open vector moves none of them.
    parent->subtests.push_back(std::move(child));
    open.push_back({&parent->subtests.back(), &s.path});
  }
}

ktap::Document RunDocument(const FinishedRun& run) {
  ktap::Document doc;
  doc.found_ktap = true;
  doc.root.is_parent = true;
  int64_t index = 0;
  for (const auto& r : run.results) {
    if (r.attempts.empty()) continue;
    const model::AttemptRecord& a = r.attempts.back();
    // An attempt's path is COLLECTION:TEST, and a test's own name may have
    // a colon: the test is all after the first.
    size_t colon = a.test_path.find(':');
    std::string collection = colon == std::string::npos ? std::string() : a.test_path.substr(0, colon);
    std::string test = colon == std::string::npos ? a.test_path : a.test_path.substr(colon + 1);
    TestNode t;
    t.name = fmt::format("selftests: {}: {}", collection, test);
    t.number = ++index;
    AddSubtestTree(a.subtests, &t);
    t.dropped = a.subtests_dropped;
    if (t.dropped > 0) t.is_parent = true;
    // The kselftest runner's result line: its directive, then vigil's status.
    Status status = judge::StatusOf(a.status);
    SetResult(status, &t);
    if (a.interrupted) {
      t.directive = Directive::kError;
      t.directive_text = "interrupted (vigil was stopped)";
    } else if (a.timed_out) {
      auto it = run.timeouts.find(a.test_path);
      auto timeout = it != run.timeouts.end() ? it->second : runner::kDefaultKselftestTimeout;
      t.directive = Directive::kTimeout;
      t.directive_text = fmt::format("{} seconds", timeout.count());
    } else if (a.exit_code && *a.exit_code != 0 && *a.exit_code != 4) {
      t.exit_code = *a.exit_code;
    } else if (!a.exit_code && a.signal != 0) {
      t.exit_code = 128 + a.signal;
    }
    t.duration_ms = a.duration_ms;
    doc.counts.Add(status);
    doc.root.subtests.push_back(std::move(t));
  }
  doc.root.status = doc.counts.Aggregate();
  return doc;
}

}  // namespace vigil::report
