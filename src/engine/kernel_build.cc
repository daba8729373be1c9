#include "engine/kernel_build.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/json.h"

namespace vigil::engine {

namespace {

const char* StatusName(kbuild::BuildResult::State s) {
  switch (s) {
    case kbuild::BuildResult::State::kBuilt: return "built";
    case kbuild::BuildResult::State::kFailed: return "failed";
    case kbuild::BuildResult::State::kInterrupted: return "interrupted";
  }
  return "failed";
}

kbuild::Severity SeverityOf(std::string_view name) {
  for (auto s : {kbuild::Severity::kNote, kbuild::Severity::kWarning, kbuild::Severity::kError,
                 kbuild::Severity::kFatalError})
    if (kbuild::SeverityName(s) == name) return s;
  return kbuild::Severity::kError;
}

kbuild::Tool ToolOf(std::string_view name) {
  for (auto t : {kbuild::Tool::kCompiler, kbuild::Tool::kLinker, kbuild::Tool::kMake, kbuild::Tool::kModpost,
                 kbuild::Tool::kKconfig})
    if (kbuild::ToolName(t) == name) return t;
  return kbuild::Tool::kCompiler;
}

}  // namespace

std::vector<std::string> BuildCollections(const std::vector<std::string>& collections,
                                          const std::vector<std::string>& tests) {
  std::vector<std::string> out = collections;
  for (const auto& t : tests) {
    std::string coll = t.substr(0, t.find(':'));
    if (std::find(out.begin(), out.end(), coll) == out.end()) out.push_back(coll);
  }
  return out;
}

model::BuildRecord BuildRecordOf(const BuildRequest& request, const kbuild::BuildResult& r,
                                 const std::string& started_at, const std::string& finished_at) {
  model::BuildRecord b;
  b.started_at = started_at;
  b.finished_at = finished_at;
  b.status = StatusName(r.state);
  b.host = request.host;
  b.command = request.command_line;
  b.tree = request.options.tree;
  b.commit = r.commit;
  b.describe = r.describe;
  b.dirty = r.dirty;
  b.variant = request.options.variant.name;
  b.output_dir = r.output_dir;
  b.config_hash = r.config_hash;
  b.compiler = r.compiler;
  b.collections = request.options.collections;
  b.duration_ms = r.duration_ms;
  b.steps = r.steps;
  nlohmann::json artifacts = nlohmann::json::object();
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) artifacts[key] = value;
  };
  put("kernel", r.kernel);
  put("vmlinux", r.vmlinux);
  put("modules", r.modules);
  put("headers", r.headers);
  put("tests", r.tests);
  put("config", r.config);
  put("log", r.log);
  put("release", r.release);
  put("failed_target", r.failed_target);
  put("failed_command", r.failed_command);
  b.artifacts_json = DumpJson(artifacts);
  for (const auto& m : r.mismatches) b.config_mismatches.push_back(m.ToString());
  b.warnings = static_cast<int64_t>(r.warnings);
  b.errors = static_cast<int64_t>(r.errors);
  b.diagnostics_dropped = static_cast<int64_t>(r.dropped);
  b.failure = r.failure;
  return b;
}

std::vector<model::BuildDiagnosticRecord> DiagnosticRecordsOf(const std::vector<kbuild::Diagnostic>& diagnostics) {
  std::vector<model::BuildDiagnosticRecord> out;
  out.reserve(diagnostics.size());
  for (const auto& d : diagnostics) {
    model::BuildDiagnosticRecord r;
    r.tool = std::string(kbuild::ToolName(d.tool));
    r.file = d.file;
    r.line = d.line;
    r.column = d.column;
    r.severity = std::string(kbuild::SeverityName(d.severity));
    r.message = d.message;
    r.flag = d.flag;
    r.function = d.function;
    r.inlined_from = d.inlined_from;
    r.target = d.target;
    for (const auto& n : d.notes) {
      std::string where = n.file;
      if (n.line) where += fmt::format(":{}", n.line);
      if (n.column) where += fmt::format(":{}", n.column);
      r.notes.push_back(where.empty() ? n.message : where + ": " + n.message);
    }
    out.push_back(std::move(r));
  }
  return out;
}

kbuild::Diagnostic DiagnosticOf(const model::BuildDiagnosticRecord& r) {
  kbuild::Diagnostic d;
  d.tool = ToolOf(r.tool);
  d.file = r.file;
  d.line = static_cast<uint32_t>(r.line);
  d.column = static_cast<uint32_t>(r.column);
  d.severity = SeverityOf(r.severity);
  d.message = r.message;
  d.flag = r.flag;
  d.function = r.function;
  d.inlined_from = r.inlined_from;
  d.target = r.target;
  return d;
}

Result<int64_t> ResolveCompareTo(store::Store& db, const std::string& spec, const std::string& tree,
                                 const std::string& variant, int64_t before) {
  if (spec == "auto") {
    store::BuildQuery q;
    q.tree = tree;
    q.variant = variant;
    q.status = "built";
    q.before = before;
    q.newest = 1;
    auto builds = db.ListBuilds(q);
    if (!builds.ok()) return builds.status();
    return builds->empty() ? int64_t{0} : builds->front().id;
  }
  char* end = nullptr;
  long long id = std::strtoll(spec.c_str(), &end, 10);
  if (spec.empty() || *end != '\0' || id <= 0)
    return Status::InvalidArgument(fmt::format("--compare-to takes a build id or auto, not '{}'", spec));
  auto b = db.LoadBuild(id);
  if (!b.ok()) return b.status();
  return static_cast<int64_t>(id);
}

namespace {

// Earlier builds into one output directory whose warnings a comparison
// takes with the compared build's.
constexpr int kIncrementalChain = 50;

}  // namespace

Result<BuildOutcome> BuildAndRecord(store::Store& db, const BuildRequest& request, kbuild::BuildObserver& observer) {
  if (Status s = kbuild::CheckBuildEnvironment(request.options); !s.ok()) return s;
  BuildRequest req = request;
  // The tree as recorded and compared: its real path.
  std::error_code ec;
  auto real = std::filesystem::weakly_canonical(req.options.tree, ec);
  if (!ec) req.options.tree = real.string();
  // An explicit id is checked before the build, not after an hour of it.
  int64_t compare_id = 0;
  if (!req.compare_to.empty() && req.compare_to != "auto") {
    auto id = ResolveCompareTo(db, req.compare_to, req.options.tree, req.options.variant.name, 0);
    if (!id.ok()) return id.status();
    compare_id = *id;
  }
  std::string started = UtcNow();
  auto built = kbuild::Build(req.options, observer);
  if (!built.ok()) return built.status();
  BuildOutcome out;
  out.result = std::move(*built);
  out.record = BuildRecordOf(req, out.result, started, UtcNow());
  auto id = db.RecordBuild(out.record, DiagnosticRecordsOf(out.result.diagnostics));
  if (!id.ok()) return id.status();
  out.build_id = *id;
  out.record.id = *id;

  if (req.compare_to == "auto") {
    auto base = ResolveCompareTo(db, "auto", req.options.tree, req.options.variant.name, out.build_id);
    if (!base.ok()) return base.status();
    compare_id = *base;
    if (compare_id == 0) out.compare_note = "no earlier successful build of this tree and variant to compare with";
  }
  if (compare_id > 0) {
    // An incremental build reports only what it compiled: what the earlier
    // builds into the same output directory reported of the files it did
    // not compile again still stands. The base is the compared build and
    // those before it there (built, at most kIncrementalChain) of its
    // history.
    auto compared = db.LoadBuild(compare_id);
    if (!compared.ok()) return compared.status();
    std::vector<int64_t> chain = {compare_id};
    store::BuildQuery q;
    q.tree = compared->tree;
    q.variant = compared->variant;
    q.status = "built";
    q.before = compare_id;
    q.newest = kIncrementalChain;
    auto earlier = db.ListBuilds(q);
    if (!earlier.ok()) return earlier.status();
    // Only builds of the compared build's history: a build of another
    // line (an earlier series, or its earlier version, in vigil watch's
    // shared build directory) would pass its own warnings off as the
    // base's, and a series that brings them again would have none new.
    for (const auto& b : *earlier) {
      if (b.output_dir != compared->output_dir) continue;
      if (b.commit.empty() || compared->commit.empty() || kbuild::IsAncestor(req.options, b.commit, compared->commit))
        chain.push_back(b.id);
    }
    // Each warning as many times as the build of the chain that had it
    // most often (a copy more than that is new).
    std::map<std::string, std::pair<size_t, kbuild::Diagnostic>> most;
    for (int64_t id : chain) {
      auto base = db.LoadBuildDiagnostics(id);
      if (!base.ok()) return base.status();
      std::map<std::string, std::pair<size_t, kbuild::Diagnostic>> here;
      for (const auto& r : *base) {
        if (r.severity == "note") continue;
        kbuild::Diagnostic d = DiagnosticOf(r);
        auto& [n, first] = here[kbuild::MatchKey(d)];
        if (n++ == 0) first = std::move(d);
      }
      for (auto& [key, counted] : here) {
        auto& m = most[key];
        if (counted.first > m.first) m = std::move(counted);
      }
    }
    std::vector<kbuild::Diagnostic> before, now;
    for (const auto& [key, counted] : most) before.insert(before.end(), counted.first, counted.second);
    for (const auto& d : out.result.diagnostics)
      if (d.severity != kbuild::Severity::kNote && d.tool != kbuild::Tool::kMake) now.push_back(d);
    out.base_build_id = compare_id;
    out.new_diagnostics = kbuild::NewWarnings(before, now);
  }
  return out;
}

}  // namespace vigil::engine
