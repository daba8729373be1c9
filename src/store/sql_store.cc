#include "store/sql_store.h"

#include <algorithm>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "base/json.h"
#include "base/text.h"
#include "console/detector.h"
#include "model/verdicts.h"
#include "store/postgres.h"

namespace vigil::store {

std::string NewRunUid() {
  // getrandom() under std::random_device, 32 bits a call.
  std::random_device rd;
  return fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
}


using model::AttemptRecord;
using model::BisectionRecord;
using model::BisectRunRecord;
using model::BuildDiagnosticRecord;
using model::BuildRecord;
using model::CrashRecord;
using model::Environment;
using model::RunRecord;
using model::SubtestRecord;
namespace {

// Tool versions and the plan's test paths are any bytes and come back as
// they went in (BytesToJson); the other JSON columns are for display.
std::string ToolsJson(const std::map<std::string, std::string>& tools) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : tools) j[SanitizeUtf8(k)] = BytesToJson(v);
  return DumpJson(j);
}

// A list of byte strings (a plan's test paths, a build's collections,
// config mismatches and a diagnostic's notes) as a JSON array that gives them
// back exactly.
std::string StringsJson(const std::vector<std::string>& strings) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& p : strings) j.push_back(BytesToJson(p));
  return DumpJson(j);
}

// What StringsJson wrote; elements that are not its are left out, and text
// that is not a JSON array is none.
std::vector<std::string> StringsFromJson(const std::string& text) {
  std::vector<std::string> out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (auto s = BytesFromJson(e)) out.push_back(std::move(*s));
  }
  return out;
}

// The environment columns, in the order EnvironmentFromRow reads them.
constexpr const char* kEnvironmentColumns =
    "SELECT kernel_release, uname, arch, cpus, memory_kb, where_run, accel, tools_json, kernel_config, id FROM "
    "environments";

Environment EnvironmentFromRow(const Statement& q) {
  Environment e;
  e.kernel_release = q.Text(0);
  e.uname = q.Text(1);
  e.arch = q.Text(2);
  e.cpus = static_cast<int>(q.Int(3));
  e.memory_kb = q.Int(4);
  e.where = q.Text(5);
  e.accel = q.Text(6);
  e.kernel_config = q.Text(8);
  nlohmann::json tools = nlohmann::json::parse(q.Text(7), nullptr, false);
  if (tools.is_object()) {
    for (const auto& [k, v] : tools.items()) {
      if (auto version = BytesFromJson(v)) e.tools[k] = std::move(*version);
    }
  }
  return e;
}

// The subtests and kernel reports (with their texts and the outputs when
// `with_output`, with their texts alone when `with_crash_texts`) of the
// attempts in `index` (attempt id -> its record), one query each over the
// attempts `a` that `where` selects (its ?1 bound to `arg`, when given), not
// one per attempt.
Status AttachDetails(Database& db, const std::string& where, std::optional<int64_t> arg,
                     const std::map<int64_t, AttemptRecord*>& index, bool with_output,
                     bool with_crash_texts = false) {
  auto run = [&](const std::string& sql, const std::function<void(const Statement&, AttemptRecord*)>& take) {
    auto q = db.Prepare(sql);
    if (!q.ok()) return q.status();
    if (arg) q->Bind(1, *arg);
    Status st;
    while (q->Next(&st)) {
      auto it = index.find(q->Int(0));
      if (it != index.end()) take(*q, it->second);
    }
    return st;
  };
  Status st = run("SELECT s.attempt_id, s.path, s.status, s.duration_ms FROM subtests s JOIN attempts a ON "
                  "s.attempt_id = a.id " + where + " ORDER BY s.attempt_id, s.id",
                  [](const Statement& q, AttemptRecord* a) {
                    SubtestRecord sub{q.Text(1), q.Text(2), std::nullopt};
                    if (!q.IsNull(3)) sub.duration_ms = q.Int(3);
                    a->subtests.push_back(std::move(sub));
                  });
  if (!st.ok()) return st;
  st = run(std::string("SELECT c.attempt_id, c.type, c.title, c.fatal, c.fingerprint, c.guilty, ") +
               (with_output || with_crash_texts ? "c.text" : "''") + " FROM crashes c JOIN attempts a ON c.attempt_id = a.id " + where +
               " ORDER BY c.attempt_id, c.id",
           [](const Statement& q, AttemptRecord* a) {
             a->crashes.push_back({q.Text(1), q.Text(2), q.Int(3) != 0, q.Text(4), q.Text(5), q.Text(6)});
           });
  if (!st.ok() || !with_output) return st;
  return run("SELECT l.attempt_id, l.output FROM logs l JOIN attempts a ON l.attempt_id = a.id " + where,
             [](const Statement& q, AttemptRecord* a) { a->output = q.Text(1); });
}


// The id of the row `q` stands on (... RETURNING id), the statement then
// run to its end.
Result<int64_t> IdOfRow(Statement& q) {
  int64_t id = q.Int(0);
  Status st;
  while (q.Next(&st)) {
  }
  if (!st.ok()) return st;
  return id;
}

// Runs a statement ending in RETURNING id (an INSERT, or the UPDATE that
// locks a row; SQLite and PostgreSQL both have it) and gives the row's id.
Result<int64_t> ReturnedId(Statement& q) {
  Status st;
  if (!q.Next(&st)) return st.ok() ? Status::Internal("a statement returning an id returned no row") : st;
  return IdOfRow(q);
}

// A test's summary, written to its row.
Status WriteSummary(Database& db, int64_t test_id, const model::TestSummary& sum) {
  auto u = db.Prepare(
      "UPDATE tests SET final_status = ?, final_attempts = ?, final_duration_ms = ?, final_crashes = ?, "
      "final_subtests = ? WHERE id = ?");
  if (!u.ok()) return u.status();
  u->Bind(1, sum.status).Bind(2, sum.attempts).Bind(3, sum.duration_ms).Bind(4, sum.crashes);
  u->BindBlob(5, sum.subtests).Bind(6, test_id);
  return u->Run();
}

// The summary of each test whose id is in [first, last] (model::SummarizeTest
// of its attempts), written to its row: what LoadTestSummaries reads.
Status SummarizeTests(Database& db, int64_t first, int64_t last) {
  struct Test {
    int64_t run_id = 0;
    std::string path;
    std::vector<AttemptRecord> attempts;
    std::vector<int64_t> attempt_ids;  // of attempts[i]
  };
  std::map<int64_t, Test> tests;
  auto t = db.Prepare("SELECT id, run_id, path FROM tests WHERE id BETWEEN ?1 AND ?2");
  if (!t.ok()) return t.status();
  t->Bind(1, first).Bind(2, last);
  Status st;
  while (t->Next(&st)) tests[t->Int(0)] = {t->Int(1), t->Text(2), {}, {}};
  if (!st.ok()) return st;
  auto a = db.Prepare(
      "SELECT test_id, id, status, duration_ms FROM attempts WHERE test_id BETWEEN ?1 AND ?2 AND interrupted = 0 "
      "ORDER BY test_id, attempt");
  if (!a.ok()) return a.status();
  a->Bind(1, first).Bind(2, last);
  while (a->Next(&st)) {
    auto it = tests.find(a->Int(0));
    if (it == tests.end()) continue;
    AttemptRecord& r = it->second.attempts.emplace_back();
    r.test_path = it->second.path;
    r.status = a->Text(2);
    r.duration_ms = a->Int(3);
    it->second.attempt_ids.push_back(a->Int(1));
  }
  if (!st.ok()) return st;
  // Every vector is whole: the records stay where they are.
  std::map<int64_t, AttemptRecord*> index;
  for (auto& [id, test] : tests) {
    for (size_t i = 0; i < test.attempts.size(); ++i) index[test.attempt_ids[i]] = &test.attempts[i];
  }
  st = AttachDetails(db, fmt::format("WHERE a.test_id BETWEEN {} AND {} AND a.interrupted = 0", first, last),
                     std::nullopt, index, false);
  if (!st.ok()) return st;
  for (const auto& [id, test] : tests) {
    st = WriteSummary(db, id, model::SummarizeTest(test.run_id, test.path, test.attempts));
    if (!st.ok()) return st;
  }
  return Status::OK();
}

// 9 -> 10: every test's summary, in batches of test ids.
Status SummarizeAllTests(Database& db) {
  auto q = db.Prepare("SELECT min(id), max(id) FROM tests");
  if (!q.ok()) return q.status();
  Status st;
  if (!q->Next(&st) || q->IsNull(0)) return st;
  int64_t lo = q->Int(0), hi = q->Int(1);
  constexpr int64_t kBatch = 2000;
  for (int64_t first = lo; first <= hi; first += kBatch) {
    st = SummarizeTests(db, first, std::min(hi, first + kBatch - 1));
    if (!st.ok()) return st;
  }
  return Status::OK();
}

// 11 -> 12: crash titles in syzkaller's convention, and the fingerprints
// made from them. Each stored report's text is read again by today's
// detector; when that finds one report of the same type, its title, guilty
// function and fingerprint replace the stored ones, so a crash recorded
// before the upgrade is the same crash as one recorded after it (verdicts
// against an older baseline, known issues). A text the detector does not
// read back as one such report keeps what it had.
// 12 -> 13: a uid for every run recorded before runs had one, made from
// what named a run across stores until then (its start, host and command):
// copies of one store migrated apart (shards that started from the same
// history) give the same run the same uid, and vigil merge still finds it.
Status GiveRunsUids(Database& db) {
  std::vector<std::pair<int64_t, std::string>> uids;
  {
    auto q = db.Prepare("SELECT id, started_at, host, command FROM runs WHERE uid = '' ORDER BY id");
    if (!q.ok()) return q.status();
    Status st;
    while (q->Next(&st)) {
      std::string key = fmt::format("{}\n{}\n{}", q->Text(1), q->Text(2), q->Text(3));
      uids.push_back({q->Int(0), fmt::format("{:016x}{:016x}", Fnv1a(key), Fnv1a(key, Fnv1a("vigil run uid")))});
    }
    if (!st.ok()) return st;
  }
  auto upd = db.Prepare("UPDATE runs SET uid = ? WHERE id = ?");
  if (!upd.ok()) return upd.status();
  for (const auto& [id, uid] : uids) {
    upd->Reset();
    upd->Bind(1, uid).Bind(2, id);
    if (Status s = upd->Run(); !s.ok()) return s;
  }
  return Status::OK();
}

Status RetitleCrashes(Database& db) {
  auto q = db.Prepare("SELECT min(id), max(id) FROM crashes");
  if (!q.ok()) return q.status();
  Status st;
  if (!q->Next(&st) || q->IsNull(0)) return st;
  const int64_t lo = q->Int(0), hi = q->Int(1);
  auto read = db.Prepare(
      "SELECT id, type, title, guilty, fingerprint, text FROM crashes WHERE id BETWEEN ? AND ? ORDER BY id");
  if (!read.ok()) return read.status();
  auto upd = db.Prepare("UPDATE crashes SET title = ?, guilty = ?, fingerprint = ? WHERE id = ?");
  if (!upd.ok()) return upd.status();
  // In batches of ids (each report's text is up to 128 KiB), writing only
  // the rows that change.
  constexpr int64_t kBatch = 256;
  struct Change {
    int64_t id;
    std::string title, guilty, fingerprint;
  };
  for (int64_t first = lo; first <= hi; first += kBatch) {
    std::vector<Change> changes;
    read->Reset();
    read->Bind(1, first).Bind(2, std::min(hi, first + kBatch - 1));
    while (read->Next(&st)) {
      console::Detector detector;
      detector.Feed(read->Text(5));
      detector.Finish();
      const auto& reports = detector.reports();
      if (reports.size() != 1 || model::TypeName(reports[0].type) != read->Text(1)) continue;
      const model::KernelReport& r = reports[0];
      if (r.title == read->Text(2) && r.guilty == read->Text(3) && r.fingerprint == read->Text(4)) continue;
      changes.push_back({read->Int(0), r.title, r.guilty, r.fingerprint});
    }
    if (!st.ok()) return st;
    for (const Change& c : changes) {
      upd->Reset();
      upd->Bind(1, c.title).Bind(2, c.guilty).Bind(3, c.fingerprint).Bind(4, c.id);
      st = upd->Run();
      if (!st.ok()) return st;
    }
  }
  return Status::OK();
}

// The schema, one step per version: kSteps[k - 1] takes it from version k - 1
// to k, its SQL first and then its code. Never edit a shipped step; append
// a new one.
struct MigrationStep {
  const char* sql;
  Status (*code)(Database& db);
};

// 5 -> 6: environment fingerprints from FNV-1a instead of std::hash, whose
// values differ between standard libraries; recomputed from each row's
// columns (with today's Environment::Fingerprint). Rows that now share a
// fingerprint (the same environment recorded by builds that hashed
// differently) become one: the oldest keeps its id and takes the runs of
// the others.
Status RecomputeFingerprints(Database& db) {
  std::vector<std::pair<int64_t, std::string>> keep;  // id, new fingerprint
  std::vector<std::pair<int64_t, int64_t>> merge;     // duplicate id, kept id
  {
    auto q = db.Prepare(std::string(kEnvironmentColumns) + " ORDER BY id");
    if (!q.ok()) return q.status();
    std::map<std::string, int64_t> first;
    Status st;
    while (q->Next(&st)) {
      int64_t id = q->Int(9);
      std::string fp;
      try {
        fp = EnvironmentFromRow(*q).Fingerprint();
      } catch (const nlohmann::json::exception&) {
        // Text that isn't UTF-8 has no JSON: a key no environment computes,
        // so the row stays readable and a new run makes a new one.
        fp = fmt::format("unhashable-{}", id);
      }
      auto [it, fresh] = first.emplace(fp, id);
      if (fresh) {
        keep.emplace_back(id, std::move(fp));
      } else {
        merge.emplace_back(id, it->second);
      }
    }
    if (!st.ok()) return st;
  }
  for (const auto& [dup, kept] : merge) {
    Status s = db.Exec(fmt::format("UPDATE runs SET environment_id = {} WHERE environment_id = {}; "
                                   "DELETE FROM environments WHERE id = {}",
                                   kept, dup, dup));
    if (!s.ok()) return s;
  }
  // Two passes, so that no new fingerprint meets another row's old one.
  auto upd = db.Prepare("UPDATE environments SET fingerprint = ? WHERE id = ?");
  if (!upd.ok()) return upd.status();
  Status s;
  for (const auto& [id, fp] : keep) {
    upd->Reset();
    upd->Bind(1, fmt::format("migrating-{}", id)).Bind(2, id);
    s = upd->Run();
    if (!s.ok()) return s;
  }
  for (const auto& [id, fp] : keep) {
    upd->Reset();
    upd->Bind(1, fp).Bind(2, id);
    s = upd->Run();
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// The runs series `id` (of `source`)'s result names, written again (inside
// the caller's transaction): what InsertSeries, UpdateSeries and the 15 -> 16
// step keep.
Status WriteSeriesRuns(Database& db, int64_t id, std::string_view source, const std::string& result_json) {
  auto del = db.Prepare("DELETE FROM series_runs WHERE series = ?");
  if (!del.ok()) return del.status();
  del->Bind(1, id);
  Status st = del->Run();
  if (!st.ok()) return st;
  std::vector<model::SeriesRun> runs = model::SeriesRuns(result_json);
  if (runs.empty()) return Status::OK();
  auto ins = db.Prepare("INSERT INTO series_runs (run_id, role, series, kind) VALUES (?, ?, ?, ?)");
  if (!ins.ok()) return ins.status();
  for (const auto& r : runs) {
    ins->Reset();
    ins->Bind(1, r.run).Bind(2, r.role).Bind(3, id).Bind(4, model::OriginKind(source));
    st = ins->Run();
    if (!st.ok()) return st;
  }
  return Status::OK();
}

// 15 -> 16: series_runs from every series' result, a thousand series at a
// time (results hold whole e-mails).
Status IndexSeriesRuns(Database& db) {
  int64_t after = 0;
  while (true) {
    struct Row {
      int64_t id;
      std::string source, result;
    };
    std::vector<Row> rows;
    {
      auto q = db.Prepare("SELECT id, source, result_json FROM series WHERE id > ? ORDER BY id LIMIT 1000");
      if (!q.ok()) return q.status();
      q->Bind(1, after);
      Status st;
      while (q->Next(&st)) rows.push_back({q->Int(0), q->Text(1), q->Text(2)});
      if (!st.ok()) return st;
    }
    if (rows.empty()) return Status::OK();
    for (const auto& r : rows) {
      Status st = WriteSeriesRuns(db, r.id, r.source, r.result);
      if (!st.ok()) return st;
    }
    after = rows.back().id;
  }
}

constexpr MigrationStep kSteps[] = {
    // 0 -> 1
    {R"sql(
CREATE TABLE environments (
  id INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL UNIQUE,
  kernel_release TEXT NOT NULL,
  uname TEXT NOT NULL,
  arch TEXT NOT NULL,
  cpus INTEGER NOT NULL,
  memory_kb INTEGER NOT NULL,
  where_run TEXT NOT NULL,
  accel TEXT NOT NULL,
  tools_json TEXT NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT,
  host TEXT NOT NULL,
  command TEXT NOT NULL,
  tests_dir TEXT NOT NULL,
  plan_json TEXT NOT NULL,
  environment_id INTEGER REFERENCES environments(id)
);
CREATE TABLE tests (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  path TEXT NOT NULL,
  UNIQUE (run_id, path)
);
CREATE TABLE attempts (
  id INTEGER PRIMARY KEY,
  test_id INTEGER NOT NULL REFERENCES tests(id),
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  exit_code INTEGER,
  signal INTEGER NOT NULL,
  timed_out INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  output_bytes INTEGER NOT NULL,
  environment_issues_json TEXT NOT NULL,
  UNIQUE (test_id, attempt)
);
CREATE TABLE subtests (
  id INTEGER PRIMARY KEY,
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  path TEXT NOT NULL,
  status TEXT NOT NULL,
  duration_ms INTEGER
);
CREATE TABLE logs (
  attempt_id INTEGER PRIMARY KEY REFERENCES attempts(id),
  output BLOB NOT NULL
);
CREATE INDEX attempts_by_test ON attempts(test_id);
CREATE INDEX subtests_by_attempt ON subtests(attempt_id);
CREATE INDEX tests_by_path ON tests(path);
)sql", nullptr},
    // 1 -> 2: kernel reports seen while an attempt ran; the run's console log.
    {R"sql(
CREATE TABLE crashes (
  id INTEGER PRIMARY KEY,
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  type TEXT NOT NULL,
  title TEXT NOT NULL,
  fatal INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  guilty TEXT NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX crashes_by_attempt ON crashes(attempt_id);
CREATE INDEX crashes_by_fingerprint ON crashes(fingerprint);
ALTER TABLE runs ADD COLUMN console_log TEXT;
)sql", nullptr},
    // 2 -> 3: the kernel configuration's hash.
    {R"sql(
ALTER TABLE environments ADD COLUMN kernel_config TEXT NOT NULL DEFAULT '';
)sql", nullptr},
    // 3 -> 4: bisections and their runs.
    {R"sql(
CREATE TABLE bisections (
  id INTEGER PRIMARY KEY,
  repo TEXT NOT NULL,
  good TEXT NOT NULL,
  bad TEXT NOT NULL,
  options_json TEXT NOT NULL,
  status TEXT NOT NULL,
  result_json TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE bisect_runs (
  id INTEGER PRIMARY KEY,
  bisection_id INTEGER NOT NULL REFERENCES bisections(id),
  position INTEGER NOT NULL,
  commit_hash TEXT NOT NULL,
  outcome TEXT NOT NULL,
  exit_code INTEGER,
  duration_ms INTEGER NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX bisect_runs_by_bisection ON bisect_runs(bisection_id);
)sql", nullptr},
    // 4 -> 5: what a VM run booted, for --resume.
    {R"sql(
ALTER TABLE runs ADD COLUMN vm_json TEXT NOT NULL DEFAULT '';
)sql", nullptr},
    // 5 -> 6: environment fingerprints that every build computes alike.
    {nullptr, RecomputeFingerprints},
    // 6 -> 7: subtests beyond the cap per attempt, counted but not kept; who
    // runs a run (resuming a live run is refused); attempts cut short by a
    // cancelled run.
    {R"sql(
ALTER TABLE attempts ADD COLUMN subtests_dropped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
)sql", nullptr},
    // 7 -> 8: kernel builds and their diagnostics; the build a run booted.
    {R"sql(
CREATE TABLE builds (
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  status TEXT NOT NULL,
  host TEXT NOT NULL,
  command TEXT NOT NULL,
  tree TEXT NOT NULL,
  commit_hash TEXT NOT NULL,
  describe TEXT NOT NULL,
  dirty INTEGER NOT NULL,
  variant TEXT NOT NULL,
  output_dir TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  compiler TEXT NOT NULL,
  collections_json TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  steps INTEGER NOT NULL,
  artifacts_json TEXT NOT NULL,
  config_mismatches_json TEXT NOT NULL,
  warnings INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  diagnostics_dropped INTEGER NOT NULL,
  failure TEXT NOT NULL
);
CREATE TABLE build_diagnostics (
  build_id INTEGER NOT NULL REFERENCES builds(id),
  seq INTEGER NOT NULL,
  tool TEXT NOT NULL,
  file TEXT NOT NULL,
  line_no INTEGER NOT NULL,
  column_no INTEGER NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  flag TEXT NOT NULL,
  function_name TEXT NOT NULL,
  target TEXT NOT NULL,
  notes_json TEXT NOT NULL,
  PRIMARY KEY (build_id, seq)
);
CREATE INDEX builds_by_tree_variant ON builds(tree, variant, id);
ALTER TABLE runs ADD COLUMN build_id INTEGER REFERENCES builds(id);
)sql", nullptr},
    // 8 -> 9: the patch loop: poll cursors, accepted events, queued series
    // (one row per round), their checks and e-mail, and baselines.
    {R"sql(
CREATE TABLE series (
  id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  series_id INTEGER NOT NULL,
  round INTEGER NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  submitter TEXT NOT NULL,
  series_json TEXT NOT NULL,
  state TEXT NOT NULL,
  tree TEXT NOT NULL,
  base_commit TEXT NOT NULL,
  head_commit TEXT NOT NULL,
  conclusion TEXT NOT NULL,
  result_json TEXT NOT NULL,
  queued_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (source, series_id, round)
);
CREATE INDEX series_by_source ON series(source, id);
CREATE INDEX series_by_state ON series(state, id);
CREATE TABLE watch_cursors (
  source TEXT PRIMARY KEY,
  cursor TEXT NOT NULL
);
CREATE TABLE watch_events (
  source TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  event_date TEXT NOT NULL,
  series INTEGER REFERENCES series(id),
  PRIMARY KEY (source, event_id)
);
CREATE TABLE series_checks (
  series INTEGER NOT NULL REFERENCES series(id),
  patch_id INTEGER NOT NULL,
  phase TEXT NOT NULL,
  context TEXT NOT NULL,
  state TEXT NOT NULL,
  description TEXT NOT NULL,
  target_url TEXT NOT NULL,
  status TEXT NOT NULL,
  posted_at TEXT NOT NULL,
  PRIMARY KEY (series, patch_id, phase, context)
);
CREATE TABLE series_mails (
  series INTEGER PRIMARY KEY REFERENCES series(id),
  message_id TEXT NOT NULL,
  status TEXT NOT NULL,
  path TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE baselines (
  key TEXT NOT NULL,
  commit_hash TEXT NOT NULL,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  PRIMARY KEY (key, commit_hash)
);
)sql", nullptr},
    // 9 -> 10: each test's result in its run across its attempts, kept on
    // its row (model::TestSummary), so reading many runs' verdicts reads one
    // row per test instead of every subtest of every attempt.
    {R"sql(
ALTER TABLE tests ADD COLUMN final_status TEXT NOT NULL DEFAULT '';
ALTER TABLE tests ADD COLUMN final_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tests ADD COLUMN final_duration_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tests ADD COLUMN final_crashes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tests ADD COLUMN final_subtests BLOB NOT NULL DEFAULT x'';
)sql", &SummarizeAllTests},
    // 10 -> 11: runs split across machines (vigil run --shard I/N
    // --run-group G): the group's one run, and its shards.
    {R"sql(
ALTER TABLE runs ADD COLUMN run_group TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN shards INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX runs_by_group ON runs(run_group) WHERE run_group <> '';
CREATE TABLE run_shards (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  shard INTEGER NOT NULL,
  tests_json TEXT NOT NULL,
  host TEXT NOT NULL DEFAULT '',
  command TEXT NOT NULL DEFAULT '',
  tests_dir TEXT NOT NULL DEFAULT '',
  environment_id INTEGER REFERENCES environments(id),
  started_at TEXT NOT NULL DEFAULT '',
  finished_at TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  console_log TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, shard)
);
)sql", nullptr},
    // 11 -> 12: stored crashes titled as today's detector titles them.
    {nullptr, &RetitleCrashes},
    // 12 -> 13: each run's uid, its name across stores (merge, KCIDB ids).
    {"ALTER TABLE runs ADD COLUMN uid TEXT NOT NULL DEFAULT '';", &GiveRunsUids},
    // 13 -> 14: the options --resume carries over (--retries, --config).
    {"ALTER TABLE runs ADD COLUMN options_json TEXT NOT NULL DEFAULT '';", nullptr},
    // 14 -> 15: a series' e-mail that some recipients refused for now.
    {"ALTER TABLE series_mails ADD COLUMN pending_json TEXT NOT NULL DEFAULT '';", nullptr},
    // 15 -> 16: the runs each series' result names (model::SeriesRuns), so
    // that a run's origin is one indexed read, not a parse of every series.
    {R"sql(
CREATE TABLE series_runs (
  run_id INTEGER NOT NULL,
  role TEXT NOT NULL,
  series INTEGER NOT NULL REFERENCES series(id),
  kind TEXT NOT NULL,
  PRIMARY KEY (run_id, role, series)
);
CREATE INDEX series_runs_by_series ON series_runs(series);
CREATE INDEX series_runs_by_kind ON series_runs(kind, run_id);
)sql", &IndexSeriesRuns},
    // 16 -> 17: the caller a diagnostic's inline function was inlined from
    // (gcc's "inlined from 'g' at x.c:9:3"), part of what makes a warning new.
    {"ALTER TABLE build_diagnostics ADD COLUMN inlined_from TEXT NOT NULL DEFAULT '';", nullptr},
};
constexpr int kNumSteps = sizeof(kSteps) / sizeof(kSteps[0]);
static_assert(kNumSteps == kSchemaVersion);


}  // namespace

Result<int> SchemaVersion(Database& db) {
  Status s = db.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  if (!s.ok()) return s;
  auto q = db.Prepare("SELECT version FROM schema_version");
  if (!q.ok()) return q.status();
  Status st;
  int version = 0;
  if (q->Next(&st)) version = static_cast<int>(q->Int(0));
  if (!st.ok()) return st;
  return version;
}

namespace {

Status MigrateLocked(Database& db, int target) {
  auto v = SchemaVersion(db);
  if (!v.ok()) return v.status();
  int version = v.value();
  if (version > target) {
    return Status::InvalidArgument(fmt::format(
        "the database has schema version {}, newer than this vigil's {}: use a newer vigil", version, target));
  }
  if (target > kSchemaVersion) return Status::InvalidArgument(fmt::format("no schema version {}", target));
  while (version < target) {
    Transaction tx(&db);
    if (!tx.status().ok()) return tx.status();
    // Read again inside the transaction: another process may have taken
    // the step while this one waited for it (SQLite's write lock).
    auto now = SchemaVersion(db);
    if (!now.ok()) return now.status();
    if (*now != version) {
      version = *now;
      if (version > target) return Status::OK();
      continue;
    }
    const MigrationStep& step = kSteps[version];
    Status s = step.sql ? db.Exec(step.sql) : Status::OK();
    if (!s.ok()) return s;
    if (step.code) {
      s = step.code(db);
      if (!s.ok()) return s;
    }
    s = db.Exec(fmt::format("DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES ({})", version + 1));
    if (!s.ok()) return s;
    s = tx.Commit();
    if (!s.ok()) return s;
    ++version;
  }
  return Status::OK();
}

}  // namespace

Status MigrateTo(Database& db, int target) {
  // Two processes opening one store at once migrate it once: the other
  // waits (PostgreSQL: an advisory lock; SQLite: each step's write lock),
  // then finds it done.
  Status locked = db.LockSchema();
  if (!locked.ok()) return locked;
  Status s = MigrateLocked(db, target);
  Status unlocked = db.UnlockSchema();
  return s.ok() ? unlocked : s;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  auto s = SqlStore::Open(path);
  if (!s.ok()) return s.status();
  return std::unique_ptr<Store>(std::move(s.value()));
}

std::optional<std::string> Store::DuplicateInPlan(const std::vector<std::string>& plan) {
  std::set<std::string_view> seen;
  for (const auto& p : plan) {
    if (!seen.insert(p).second) return p;
  }
  return std::nullopt;
}

Status Store::ValidGroupRun(const model::RunRecord& run, const std::vector<std::vector<std::string>>& shard_tests) {
  if (run.run_group.empty()) return Status::InvalidArgument("a run group needs a name");
  if (run.shards < 1 || shard_tests.size() != static_cast<size_t>(run.shards)) {
    return Status::InvalidArgument(
        fmt::format("a run of {} shards given the tests of {}", run.shards, shard_tests.size()));
  }
  if (auto dup = DuplicateInPlan(run.plan)) {
    return Status::InvalidArgument(fmt::format("the plan names {} twice", *dup));
  }
  return Status::OK();
}

std::string SqlStore::ReadOnlyWhy() {
  return db_->engine() == std::string_view("sqlite") ? "the file or its directory is not writable"
                                                      : "the connection is for reading only";
}

Result<std::unique_ptr<SqlStore>> SqlStore::Open(const std::string& path) {
  auto db = Database::Open(path);
  if (!db.ok()) return db.status();
  Status m = MigrateTo(**db, kSchemaVersion);
  if (!m.ok()) return m;
  return std::unique_ptr<SqlStore>(new SqlStore(std::move(db.value()), kSchemaVersion, path));
}

Result<std::unique_ptr<Store>> Store::OpenReadOnly(const std::string& path) {
  auto s = SqlStore::OpenReadOnly(path);
  if (!s.ok()) return s.status();
  return std::unique_ptr<Store>(std::move(s.value()));
}

Result<std::unique_ptr<SqlStore>> SqlStore::OpenReadOnly(const std::string& path) {
  auto db = Database::OpenReadOnly(path);
  if (!db.ok()) return db.status();
  std::string name = ShownPath(path);
  auto q = (*db)->Prepare("SELECT version FROM schema_version");
  if (!q.ok()) return Status::InvalidArgument(fmt::format("{} is not a vigil store (no schema version)", name));
  Status st;
  int version = 0;
  if (q->Next(&st)) version = static_cast<int>(q->Int(0));
  // (PostgreSQL says only now that there is no such table.)
  if (!st.ok()) return Status::InvalidArgument(fmt::format("{} is not a vigil store: {}", name, st.message()));
  if (version != kSchemaVersion) {
    return Status::InvalidArgument(fmt::format(
        "the store {} has schema version {}, this vigil reads version {} only{}", name, version, kSchemaVersion,
        version < kSchemaVersion ? ": any other vigil command on it (vigil flakes, vigil run) migrates it first"
                                 : ": use a newer vigil"));
  }
  return std::unique_ptr<SqlStore>(new SqlStore(std::move(db.value()), kSchemaVersion, path));
}

Result<int64_t> SqlStore::EnsureEnvironment(const Environment& env) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string fp = env.Fingerprint();
  auto q = db_->Prepare("SELECT id FROM environments WHERE fingerprint = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, fp);
  Status st;
  if (q->Next(&st)) return q->Int(0);
  if (!st.ok()) return st;
  // Another writer (another machine, on a shared server) may insert it
  // first: then its row is the one.
  auto ins = db_->Prepare(
      "INSERT INTO environments (fingerprint, kernel_release, uname, arch, cpus, memory_kb, where_run, accel, "
      "tools_json, kernel_config) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING "
      "RETURNING id");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, fp).Bind(2, env.kernel_release).Bind(3, env.uname).Bind(4, env.arch).Bind(5, env.cpus);
  ins->Bind(6, env.memory_kb).Bind(7, env.where).Bind(8, env.accel).Bind(9, ToolsJson(env.tools));
  ins->Bind(10, env.kernel_config);
  if (ins->Next(&st)) return IdOfRow(*ins);
  if (!st.ok()) return st;
  q->Reset();
  q->Bind(1, fp);
  if (q->Next(&st)) return q->Int(0);
  return st.ok() ? Status::Internal("environment row vanished") : st;
}

Result<int64_t> SqlStore::CreateRun(const RunRecord& run) {
  if (auto dup = DuplicateInPlan(run.plan)) {
    return Status::InvalidArgument(fmt::format("the plan names {} twice", *dup));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (db_->read_only()) {
    return Status::IOError(fmt::format("cannot record a run: the store {} is read-only ({})", path_, ReadOnlyWhy()));
  }
  auto ins = db_->Prepare(
      "INSERT INTO runs (started_at, host, command, tests_dir, plan_json, environment_id, owner, build_id, uid, "
      "options_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, run.started_at).Bind(2, run.host).Bind(3, run.command).Bind(4, run.tests_dir);
  ins->Bind(5, StringsJson(run.plan));
  if (run.environment_id > 0) {
    ins->Bind(6, run.environment_id);
  } else {
    ins->Bind(6, std::nullopt);
  }
  ins->Bind(7, run.owner);
  if (run.build_id > 0) {
    ins->Bind(8, run.build_id);
  } else {
    ins->Bind(8, std::nullopt);
  }
  ins->Bind(9, run.uid.empty() ? NewRunUid() : run.uid);
  ins->Bind(10, run.options_json);
  return ReturnedId(*ins);
}

Status SqlStore::RecordAttempt(int64_t run_id, const AttemptRecord& a) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_.get());
  if (!tx.status().ok()) return tx.status();
  auto test = db_->Prepare("INSERT INTO tests (run_id, path) VALUES (?, ?) ON CONFLICT (run_id, path) DO NOTHING");
  if (!test.ok()) return test.status();
  test->Bind(1, run_id).Bind(2, a.test_path);
  Status st = test->Run();
  if (!st.ok()) return st;
  // The test's row, locked until the commit (a no-op UPDATE: PostgreSQL
  // locks the row, SQLite holds the whole database already), so that two
  // writers of one test's attempts summarize it one after the other.
  // It says too how many attempts its summary holds: none (the common
  // case, a first attempt) and this one's summary is of this one alone.
  auto id = db_->Prepare(
      "UPDATE tests SET final_attempts = final_attempts WHERE run_id = ? AND path = ? RETURNING id, final_attempts");
  if (!id.ok()) return id.status();
  id->Bind(1, run_id).Bind(2, a.test_path);
  if (!id->Next(&st)) return st.ok() ? Status::Internal("the test's row vanished") : st;
  int64_t summarized = id->Int(1);
  auto test_id_r = IdOfRow(*id);
  if (!test_id_r.ok()) return test_id_r.status();
  int64_t test_id = test_id_r.value();

  auto att = db_->Prepare(
      "INSERT INTO attempts (test_id, attempt, status, exit_code, signal, timed_out, duration_ms, started_at, "
      "output_bytes, environment_issues_json, subtests_dropped, interrupted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (test_id, attempt) DO NOTHING RETURNING id");
  if (!att.ok()) return att.status();
  att->Bind(1, test_id).Bind(2, a.attempt).Bind(3, a.status);
  if (a.exit_code) {
    att->Bind(4, *a.exit_code);
  } else {
    att->Bind(4, std::nullopt);
  }
  att->Bind(5, a.signal).Bind(6, a.timed_out ? 1 : 0).Bind(7, a.duration_ms).Bind(8, a.started_at);
  att->Bind(9, static_cast<int64_t>(a.output_bytes)).Bind(10, DumpJson(nlohmann::json(a.environment_issues)));
  att->Bind(11, a.subtests_dropped);
  att->Bind(12, a.interrupted ? 1 : 0);
  if (!att->Next(&st)) {
    if (!st.ok()) return st;
    return Status::InvalidArgument(fmt::format("attempt {} of {} is recorded already", a.attempt, a.test_path));
  }
  auto attempt_id_r = IdOfRow(*att);
  if (!attempt_id_r.ok()) return attempt_id_r.status();
  int64_t attempt_id = attempt_id_r.value();

  // The subtests, up to kRows a statement (one round trip to a server
  // instead of one each; rows keep their order, so do their ids).
  constexpr size_t kRows = 100;
  std::optional<Statement> insert;  // of kRows rows, prepared once (the last, shorter chunk gets its own)
  for (size_t first = 0; first < a.subtests.size(); first += kRows) {
    size_t n = std::min(kRows, a.subtests.size() - first);
    if (n < kRows || !insert) {
      std::string sql = "INSERT INTO subtests (attempt_id, path, status, duration_ms) VALUES ";
      for (size_t j = 0; j < n; ++j) sql += fmt::format("{}(?1, ?{}, ?{}, ?{})", j ? ", " : "", 2 + 3 * j, 3 + 3 * j, 4 + 3 * j);
      auto prepared = db_->Prepare(sql);
      if (!prepared.ok()) return prepared.status();
      insert.emplace(std::move(*prepared));
    }
    Statement& sub = *insert;
    sub.Reset();
    sub.Bind(1, attempt_id);
    for (size_t j = 0; j < n; ++j) {
      const SubtestRecord& s = a.subtests[first + j];
      int k = static_cast<int>(2 + 3 * j);
      sub.Bind(k, s.path).Bind(k + 1, s.status);
      if (s.duration_ms) {
        sub.Bind(k + 2, *s.duration_ms);
      } else {
        sub.Bind(k + 2, std::nullopt);
      }
    }
    st = sub.Run();
    if (!st.ok()) return st;
  }
  auto crash = db_->Prepare(
      "INSERT INTO crashes (attempt_id, type, title, fatal, fingerprint, guilty, text) VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!crash.ok()) return crash.status();
  for (const auto& c : a.crashes) {
    crash->Reset();
    crash->Bind(1, attempt_id).Bind(2, c.type).Bind(3, c.title).Bind(4, c.fatal ? 1 : 0);
    crash->Bind(5, c.fingerprint).Bind(6, c.guilty).BindBlob(7, c.text);
    st = crash->Run();
    if (!st.ok()) return st;
  }
  auto log = db_->Prepare("INSERT INTO logs (attempt_id, output) VALUES (?, ?)");
  if (!log.ok()) return log.status();
  log->Bind(1, attempt_id).BindBlob(2, a.output);
  st = log->Run();
  if (!st.ok()) return st;
  if (!a.interrupted) {
    if (summarized == 0) {
      // What the summary reads of the attempt: not its output or crash texts.
      AttemptRecord brief;
      brief.test_path = a.test_path;
      brief.attempt = a.attempt;
      brief.status = a.status;
      brief.duration_ms = a.duration_ms;
      brief.subtests = a.subtests;
      for (const auto& c : a.crashes) brief.crashes.push_back({c.type, c.title, c.fatal, c.fingerprint, c.guilty, ""});
      st = WriteSummary(*db_, test_id, model::SummarizeTest(run_id, a.test_path, {brief}));
    } else {
      st = SummarizeTests(*db_, test_id, test_id);
    }
    if (!st.ok()) return st;
  }
  return tx.Commit();
}

Status SqlStore::SetRunVm(int64_t run_id, const std::string& vm_json) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("UPDATE runs SET vm_json = ? WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, vm_json).Bind(2, run_id);
  return q->Run();
}

Status SqlStore::SetConsoleLog(int64_t run_id, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("UPDATE runs SET console_log = ? WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, path).Bind(2, run_id);
  return q->Run();
}

Status SqlStore::FinishRun(int64_t run_id, const std::string& status, const std::string& finished_at) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("UPDATE runs SET status = ?, finished_at = ?, owner = '' WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, status).Bind(2, finished_at).Bind(3, run_id);
  return q->Run();
}

Result<bool> SqlStore::ClaimRun(int64_t run_id, const std::string& expected, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("UPDATE runs SET owner = ? WHERE id = ? AND owner = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, owner).Bind(2, run_id).Bind(3, expected);
  Status st = q->Run();
  if (!st.ok()) return st;
  if (db_->Changes() == 1) return true;
  auto exists = db_->Prepare("SELECT 1 FROM runs WHERE id = ?");
  if (!exists.ok()) return exists.status();
  exists->Bind(1, run_id);
  if (!exists->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no run {}", run_id)) : st;
  return false;
}

Result<int64_t> SqlStore::CreateGroupRun(const RunRecord& run, const std::vector<std::vector<std::string>>& shard_tests) {
  if (Status valid = ValidGroupRun(run, shard_tests); !valid.ok()) return valid;
  std::lock_guard<std::mutex> lock(mu_);
  if (db_->read_only()) {
    return Status::IOError(fmt::format("cannot record a run: the store {} is read-only ({})", path_, ReadOnlyWhy()));
  }
  Transaction tx(db_.get());
  if (!tx.status().ok()) return tx.status();
  // Of shards creating the group at once, one inserts; the others (on a
  // server: once its transaction commits) find its row.
  auto ins = db_->Prepare(
      "INSERT INTO runs (started_at, host, command, tests_dir, plan_json, environment_id, owner, build_id, "
      "run_group, shards, uid) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?) ON CONFLICT (run_group) WHERE run_group <> '' "
      "DO NOTHING RETURNING id");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, run.started_at).Bind(2, run.host).Bind(3, run.command).Bind(4, run.tests_dir);
  ins->Bind(5, StringsJson(run.plan));
  if (run.environment_id > 0) {
    ins->Bind(6, run.environment_id);
  } else {
    ins->Bind(6, std::nullopt);
  }
  if (run.build_id > 0) {
    ins->Bind(7, run.build_id);
  } else {
    ins->Bind(7, std::nullopt);
  }
  ins->Bind(8, run.run_group).Bind(9, static_cast<int64_t>(run.shards));
  ins->Bind(10, run.uid.empty() ? NewRunUid() : run.uid);
  Status st;
  if (!ins->Next(&st)) {
    if (!st.ok()) return st;
    auto q = db_->Prepare("SELECT id FROM runs WHERE run_group = ?");
    if (!q.ok()) return q.status();
    q->Bind(1, run.run_group);
    if (!q->Next(&st)) return st.ok() ? Status::Internal("the run group's row vanished") : st;
    int64_t id = q->Int(0);
    st = tx.Commit();
    if (!st.ok()) return st;
    return id;
  }
  auto id = IdOfRow(*ins);
  if (!id.ok()) return id.status();
  auto shard = db_->Prepare("INSERT INTO run_shards (run_id, shard, tests_json) VALUES (?, ?, ?)");
  if (!shard.ok()) return shard.status();
  for (size_t k = 0; k < shard_tests.size(); ++k) {
    shard->Reset();
    shard->Bind(1, *id).Bind(2, static_cast<int64_t>(k + 1)).Bind(3, StringsJson(shard_tests[k]));
    st = shard->Run();
    if (!st.ok()) return st;
  }
  st = tx.Commit();
  if (!st.ok()) return st;
  return id;
}

Result<int64_t> SqlStore::FindGroupRun(const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT id FROM runs WHERE run_group = ? AND run_group <> ''");
  if (!q.ok()) return q.status();
  q->Bind(1, group);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no run group {}", group)) : st;
  return q->Int(0);
}

Result<std::vector<model::RunShardRecord>> SqlStore::LoadRunShards(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT run_id, shard, tests_json, host, command, tests_dir, environment_id, started_at, finished_at, status, "
      "owner, console_log FROM run_shards WHERE run_id = ? ORDER BY shard");
  if (!q.ok()) return q.status();
  q->Bind(1, run_id);
  std::vector<model::RunShardRecord> out;
  Status st;
  while (q->Next(&st)) {
    model::RunShardRecord r;
    r.run_id = q->Int(0);
    r.shard = static_cast<int>(q->Int(1));
    r.tests = StringsFromJson(q->Text(2));
    r.host = q->Text(3);
    r.command = q->Text(4);
    r.tests_dir = q->Text(5);
    r.environment_id = q->IsNull(6) ? 0 : q->Int(6);
    r.started_at = q->Text(7);
    r.finished_at = q->Text(8);
    r.status = q->Text(9);
    r.owner = q->Text(10);
    r.console_log = q->Text(11);
    out.push_back(std::move(r));
  }
  if (!st.ok()) return st;
  if (out.empty()) {
    auto exists = db_->Prepare("SELECT 1 FROM runs WHERE id = ?");
    if (!exists.ok()) return exists.status();
    exists->Bind(1, run_id);
    if (!exists->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no run {}", run_id)) : st;
  }
  return out;
}

Result<bool> SqlStore::StartShard(const model::RunShardRecord& s, const std::string& expected) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "UPDATE run_shards SET host = ?, command = ?, tests_dir = ?, environment_id = ?, started_at = ?, owner = ?, "
      "console_log = ?, finished_at = '', status = '' WHERE run_id = ? AND shard = ? AND owner = ? AND finished_at = ''");
  if (!q.ok()) return q.status();
  q->Bind(1, s.host).Bind(2, s.command).Bind(3, s.tests_dir);
  if (s.environment_id > 0) {
    q->Bind(4, s.environment_id);
  } else {
    q->Bind(4, std::nullopt);
  }
  q->Bind(5, s.started_at).Bind(6, s.owner).Bind(7, s.console_log).Bind(8, s.run_id);
  q->Bind(9, static_cast<int64_t>(s.shard)).Bind(10, expected);
  Status st = q->Run();
  if (!st.ok()) return st;
  if (db_->Changes() == 1) return true;
  auto exists = db_->Prepare("SELECT 1 FROM run_shards WHERE run_id = ? AND shard = ?");
  if (!exists.ok()) return exists.status();
  exists->Bind(1, s.run_id).Bind(2, static_cast<int64_t>(s.shard));
  if (!exists->Next(&st)) {
    return st.ok() ? Status::NotFound(fmt::format("no shard {} of run {}", s.shard, s.run_id)) : st;
  }
  return false;
}

Result<int> SqlStore::EndShard(int64_t run_id, int shard, const std::string& status, const std::string& finished_at) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_.get());
  if (!tx.status().ok()) return tx.status();
  // The run's row first, locked until the commit: shards ending at once
  // count one after the other, each seeing the others' ends (PostgreSQL;
  // SQLite holds the whole database already).
  auto lock_run = db_->Prepare("UPDATE runs SET shards = shards WHERE id = ? RETURNING id");
  if (!lock_run.ok()) return lock_run.status();
  lock_run->Bind(1, run_id);
  Status st;
  if (!lock_run->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no run {}", run_id)) : st;
  if (auto id = IdOfRow(*lock_run); !id.ok()) return id.status();
  auto u = db_->Prepare("UPDATE run_shards SET status = ?, finished_at = ?, owner = '' WHERE run_id = ? AND shard = ?");
  if (!u.ok()) return u.status();
  u->Bind(1, status).Bind(2, finished_at).Bind(3, run_id).Bind(4, static_cast<int64_t>(shard));
  st = u->Run();
  if (!st.ok()) return st;
  if (db_->Changes() != 1) return Status::NotFound(fmt::format("no shard {} of run {}", shard, run_id));
  auto left = db_->Prepare("SELECT count(*) FROM run_shards WHERE run_id = ? AND finished_at = ''");
  if (!left.ok()) return left.status();
  left->Bind(1, run_id);
  if (!left->Next(&st)) return st.ok() ? Status::Internal("count(*) returned no row") : st;
  int n = static_cast<int>(left->Int(0));
  while (left->Next(&st)) {
  }
  if (!st.ok()) return st;
  st = tx.Commit();
  if (!st.ok()) return st;
  return n;
}

Status SqlStore::DiscardInterrupted(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_.get());
  if (!tx.status().ok()) return tx.status();
  auto ids = fmt::format(
      "SELECT a.id FROM attempts a JOIN tests t ON a.test_id = t.id WHERE t.run_id = {} AND a.interrupted = 1",
      run_id);
  Status st = db_->Exec(fmt::format("DELETE FROM subtests WHERE attempt_id IN ({0}); "
                                    "DELETE FROM crashes WHERE attempt_id IN ({0}); "
                                    "DELETE FROM logs WHERE attempt_id IN ({0}); "
                                    "DELETE FROM attempts WHERE id IN ({0})",
                                    ids));
  if (!st.ok()) return st;
  return tx.Commit();
}

namespace {

constexpr const char* kRunColumns =
    "SELECT id, started_at, finished_at, status, host, command, tests_dir, plan_json, environment_id, vm_json, "
    "owner, build_id, run_group, shards, uid, options_json FROM runs";

RunRecord RunFromRow(const Statement& q, bool plan = true) {
  RunRecord r;
  r.id = q.Int(0);
  r.started_at = q.Text(1);
  r.finished_at = q.Text(2);
  r.status = q.Text(3);
  r.host = q.Text(4);
  r.command = q.Text(5);
  r.tests_dir = q.Text(6);
  if (plan) r.plan = StringsFromJson(q.Text(7));
  r.environment_id = q.IsNull(8) ? 0 : q.Int(8);
  r.vm_json = q.Text(9);
  r.owner = q.Text(10);
  r.build_id = q.IsNull(11) ? 0 : q.Int(11);
  r.run_group = q.Text(12);
  r.shards = static_cast<int>(q.Int(13));
  r.uid = q.Text(14);
  r.options_json = q.Text(15);
  return r;
}

}  // namespace

Result<RunRecord> SqlStore::LoadRun(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string(kRunColumns) + " WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, run_id);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no run {}", run_id)) : st;
  return RunFromRow(*q);
}

namespace {

// "COLUMN IN (1, 2)", or what no row matches when there are no ids (an
// empty IN list is SQLite's alone); with `negate`, NOT IN, or what every
// row matches.
std::string InIds(const std::string& column, const std::vector<int64_t>& ids, bool negate = false) {
  if (ids.empty()) return negate ? "1 = 1" : "1 = 0";
  std::string in;
  for (int64_t id : ids) in += fmt::format("{}{}", in.empty() ? "" : ", ", id);
  return fmt::format("{} {}IN ({})", column, negate ? "NOT " : "", in);
}

// The WHERE clause of a RunQuery's filters (ids are numbers, written in; the
// statuses are bound from ?3 on).
std::string RunWhere(const RunQuery& query) {
  std::string sql = " WHERE (?1 = 0 OR id <= ?1)";
  if (query.environment_ids) {
    // Runs recorded without an environment keep a NULL, asked for as 0.
    std::vector<int64_t> ids;
    bool none = false;
    for (int64_t id : *query.environment_ids) {
      if (id <= 0) {
        none = true;
      } else {
        ids.push_back(id);
      }
    }
    std::string any = ids.empty() ? "" : InIds("environment_id", ids);
    if (none) any += std::string(any.empty() ? "" : " OR ") + "environment_id IS NULL";
    sql += " AND (" + (any.empty() ? std::string("1 = 0") : any) + ")";
  }
  if (query.ids) sql += " AND " + InIds("id", *query.ids);
  if (!query.exclude.empty()) sql += " AND " + InIds("id", query.exclude, true);
  if (query.build_id > 0) sql += fmt::format(" AND build_id = {}", query.build_id);
  if (query.statuses) {
    std::string any;
    for (size_t i = 0; i < query.statuses->size(); ++i) {
      any += fmt::format("{}coalesce(status, '') = ?{}", any.empty() ? "" : " OR ", i + 3);
    }
    sql += " AND (" + (any.empty() ? std::string("1 = 0") : any) + ")";
  }
  return sql;
}

void BindRunQuery(Statement& q, const RunQuery& query) {
  q.Bind(1, query.up_to > 0 ? query.up_to : int64_t{0});
  if (query.statuses) {
    for (size_t i = 0; i < query.statuses->size(); ++i) q.Bind(static_cast<int>(i) + 3, (*query.statuses)[i]);
  }
}

}  // namespace

namespace {

// The columns of an attempt both attempt reads select, in this order.
constexpr const char* kAttemptColumns =
    "a.attempt, a.status, a.exit_code, a.signal, a.timed_out, a.duration_ms, a.started_at, a.output_bytes, "
    "a.environment_issues_json, a.subtests_dropped, a.interrupted";

// kAttemptColumns from column `c` of `q` on.
void AttemptFromRow(const Statement& q, int c, AttemptRecord* a) {
  a->attempt = static_cast<int>(q.Int(c));
  a->status = q.Text(c + 1);
  if (!q.IsNull(c + 2)) a->exit_code = static_cast<int>(q.Int(c + 2));
  a->signal = static_cast<int>(q.Int(c + 3));
  a->timed_out = q.Int(c + 4) != 0;
  a->duration_ms = q.Int(c + 5);
  a->started_at = q.Text(c + 6);
  a->output_bytes = static_cast<uint64_t>(q.Int(c + 7));
  nlohmann::json env = nlohmann::json::parse(q.Text(c + 8), nullptr, false);
  if (env.is_array()) {
    for (const auto& e : env) {
      if (e.is_string()) a->environment_issues.push_back(e.get<std::string>());
    }
  }
  a->subtests_dropped = q.Int(c + 9);
  a->interrupted = q.Int(c + 10) != 0;
}

}  // namespace

Result<std::vector<RunRecord>> SqlStore::ListRuns(const RunQuery& query) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string(kRunColumns) + RunWhere(query);
  sql += query.newest > 0 ? " ORDER BY id DESC LIMIT ?2 OFFSET " + std::to_string(std::max(query.skip, 0))
                          : " ORDER BY id";
  auto q = db_->Prepare(sql);
  if (!q.ok()) return q.status();
  BindRunQuery(*q, query);
  if (query.newest > 0) q->Bind(2, static_cast<int64_t>(query.newest));
  std::vector<RunRecord> out;
  Status st;
  while (q->Next(&st)) out.push_back(RunFromRow(*q, query.plans));
  if (!st.ok()) return st;
  if (query.newest > 0) std::reverse(out.begin(), out.end());
  return out;
}

Result<int64_t> SqlStore::DataVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  return db_->DataVersion();
}

Result<int64_t> SqlStore::CountRuns(const RunQuery& query) {
  std::lock_guard<std::mutex> lock(mu_);
  // (?2, ListRuns' limit, is left out: numbered parameters may have gaps.)
  auto q = db_->Prepare("SELECT count(*) FROM runs" + RunWhere(query));
  if (!q.ok()) return q.status();
  BindRunQuery(*q, query);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::Internal("count(*) returned no row") : st;
  return q->Int(0);
}

Result<std::vector<model::AttemptBrief>> SqlStore::LoadAttemptBriefs(const std::vector<int64_t>& run_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT t.run_id, t.path, a.attempt, a.status, a.duration_ms, a.interrupted, "
      "(SELECT count(*) FROM crashes c WHERE c.attempt_id = a.id) FROM tests t JOIN attempts a ON a.test_id = t.id "
      "WHERE t.run_id = ? ORDER BY a.id");
  if (!q.ok()) return q.status();
  std::vector<model::AttemptBrief> out;
  for (int64_t run : run_ids) {
    q->Reset();
    q->Bind(1, run);
    Status st;
    while (q->Next(&st)) {
      model::AttemptBrief b;
      b.run_id = q->Int(0);
      b.test_path = q->Text(1);
      b.attempt = static_cast<int>(q->Int(2));
      b.status = q->Text(3);
      b.duration_ms = q->Int(4);
      b.interrupted = q->Int(5) != 0;
      b.crashes = static_cast<int>(q->Int(6));
      out.push_back(std::move(b));
    }
    if (!st.ok()) return st;
  }
  return out;
}

Result<std::vector<model::TestSummary>> SqlStore::LoadTestSummaries(const std::vector<int64_t>& run_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT run_id, path, final_status, final_attempts, final_duration_ms, final_crashes, final_subtests "
      "FROM tests WHERE run_id = ? AND final_attempts > 0 ORDER BY path");
  if (!q.ok()) return q.status();
  std::vector<model::TestSummary> out;
  for (int64_t run : run_ids) {
    q->Reset();
    q->Bind(1, run);
    Status st;
    while (q->Next(&st)) {
      model::TestSummary& t = out.emplace_back();
      t.run_id = q->Int(0);
      t.test_path = q->Text(1);
      t.status = q->Text(2);
      t.attempts = static_cast<int>(q->Int(3));
      t.duration_ms = q->Int(4);
      t.crashes = static_cast<int>(q->Int(5));
      t.subtests = q->Text(6);
    }
    if (!st.ok()) return st;
  }
  return out;
}

Result<std::vector<model::RunAttempt>> SqlStore::LoadTestAttempts(
    const std::string& test_path, int runs, int64_t up_to, const std::optional<std::vector<int64_t>>& only_runs) {
  std::lock_guard<std::mutex> lock(mu_);
  // The newest runs that recorded the test (tests_by_path, or the (run, path)
  // key for given runs), then their attempts.
  auto t = db_->Prepare(std::string("SELECT id, run_id FROM tests WHERE path = ?1 AND (?2 = 0 OR run_id <= ?2)") +
                        (only_runs ? " AND " + InIds("run_id", *only_runs) : std::string()) + " ORDER BY run_id DESC" +
                        (runs > 0 ? " LIMIT ?3" : ""));
  if (!t.ok()) return t.status();
  t->Bind(1, test_path).Bind(2, up_to > 0 ? up_to : int64_t{0});
  if (runs > 0) t->Bind(3, int64_t{runs});
  std::vector<std::pair<int64_t, int64_t>> tests;  // (test id, run id)
  Status st;
  while (t->Next(&st)) tests.emplace_back(t->Int(0), t->Int(1));
  if (!st.ok()) return st;
  if (tests.empty()) return std::vector<model::RunAttempt>();
  // The oldest run first; within a run, the attempts as recorded.
  std::map<int64_t, std::pair<size_t, int64_t>> run_of;  // test id -> (position, run id)
  std::vector<int64_t> test_ids;
  for (size_t i = 0; i < tests.size(); ++i) {
    run_of[tests[i].first] = {tests.size() - 1 - i, tests[i].second};
    test_ids.push_back(tests[i].first);
  }
  const std::string where = "WHERE " + InIds("a.test_id", test_ids);
  auto q = db_->Prepare(std::string("SELECT a.id, a.test_id, ") + kAttemptColumns + " FROM attempts a " + where +
                        " ORDER BY a.id");
  if (!q.ok()) return q.status();
  std::vector<std::pair<size_t, model::RunAttempt>> rows;
  std::vector<int64_t> ids;
  while (q->Next(&st)) {
    auto [position, run_id] = run_of.at(q->Int(1));
    model::RunAttempt ra;
    ra.run_id = run_id;
    ra.attempt.test_path = test_path;
    AttemptFromRow(*q, 2, &ra.attempt);
    ids.push_back(q->Int(0));
    rows.emplace_back(position, std::move(ra));
  }
  if (!st.ok()) return st;
  std::map<int64_t, AttemptRecord*> index;
  for (size_t i = 0; i < rows.size(); ++i) index[ids[i]] = &rows[i].second.attempt;
  st = AttachDetails(*db_, where, std::nullopt, index, false);
  if (!st.ok()) return st;
  std::stable_sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<model::RunAttempt> out;
  out.reserve(rows.size());
  for (auto& [position, ra] : rows) out.push_back(std::move(ra));
  return out;
}

Result<std::vector<model::CrashSighting>> SqlStore::ListCrashSightings() {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT c.id, t.run_id, t.path, a.attempt, a.started_at, c.type, c.title, c.fatal, c.fingerprint, c.guilty "
      "FROM crashes c JOIN attempts a ON c.attempt_id = a.id JOIN tests t ON a.test_id = t.id ORDER BY c.id");
  if (!q.ok()) return q.status();
  std::vector<model::CrashSighting> out;
  Status st;
  while (q->Next(&st)) {
    model::CrashSighting c;
    c.id = q->Int(0);
    c.run_id = q->Int(1);
    c.test_path = q->Text(2);
    c.attempt = static_cast<int>(q->Int(3));
    c.started_at = q->Text(4);
    c.crash = {q->Text(5), q->Text(6), q->Int(7) != 0, q->Text(8), q->Text(9), std::string()};
    out.push_back(std::move(c));
  }
  if (!st.ok()) return st;
  return out;
}

Result<std::string> SqlStore::LoadCrashText(int64_t crash_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT text FROM crashes WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, crash_id);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no kernel report {}", crash_id)) : st;
  return q->Text(0);
}

Result<Environment> SqlStore::LoadEnvironment(int64_t environment_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string(kEnvironmentColumns) + " WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, environment_id);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no environment {}", environment_id)) : st;
  return EnvironmentFromRow(*q);
}

Result<std::map<int64_t, Environment>> SqlStore::ListEnvironments() {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string(kEnvironmentColumns) + " ORDER BY id");
  if (!q.ok()) return q.status();
  std::map<int64_t, Environment> out;
  Status st;
  while (q->Next(&st)) out[q->Int(9)] = EnvironmentFromRow(*q);
  if (!st.ok()) return st;
  return out;
}

Result<std::string> SqlStore::LoadConsoleLog(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT console_log FROM runs WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, run_id);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no run {}", run_id)) : st;
  return q->Text(0);
}

Result<int64_t> SqlStore::LatestRun() {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT MAX(id) FROM runs");
  if (!q.ok()) return q.status();
  Status st;
  if (!q->Next(&st) || q->IsNull(0)) return st.ok() ? Status::NotFound("no runs in the database") : st;
  return q->Int(0);
}

Result<std::vector<AttemptRecord>> SqlStore::LoadAttempts(int64_t run_id, bool with_output, bool with_crash_texts) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string("SELECT a.id, t.path, ") + kAttemptColumns +
                        " FROM attempts a JOIN tests t ON a.test_id = t.id WHERE t.run_id = ? ORDER BY a.id");
  if (!q.ok()) return q.status();
  q->Bind(1, run_id);
  std::vector<AttemptRecord> out;
  std::vector<int64_t> ids;
  Status st;
  while (q->Next(&st)) {
    AttemptRecord& a = out.emplace_back();
    ids.push_back(q->Int(0));
    a.test_path = q->Text(1);
    AttemptFromRow(*q, 2, &a);
  }
  if (!st.ok()) return st;
  if (out.empty()) return out;
  std::map<int64_t, AttemptRecord*> index;
  for (size_t i = 0; i < out.size(); ++i) index[ids[i]] = &out[i];
  st = AttachDetails(*db_, "JOIN tests t ON a.test_id = t.id WHERE t.run_id = ?1", run_id, index, with_output,
                     with_crash_texts);
  if (!st.ok()) return st;
  return out;
}

Result<std::string> SqlStore::LoadAttemptOutput(int64_t run_id, const std::string& test_path, int attempt) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT a.id, l.output FROM attempts a JOIN tests t ON a.test_id = t.id LEFT JOIN logs l ON l.attempt_id = a.id "
      "WHERE t.run_id = ? AND t.path = ? AND a.attempt = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, run_id).Bind(2, test_path).Bind(3, static_cast<int64_t>(attempt));
  Status st;
  if (!q->Next(&st)) {
    if (!st.ok()) return st;
    return Status::NotFound(fmt::format("run {} has no attempt {} of {}", run_id, attempt, test_path));
  }
  return q->IsNull(1) ? std::string() : q->Text(1);
}

Result<std::map<std::string, int64_t>> SqlStore::LastDurations() {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT t.path, a.duration_ms FROM attempts a JOIN tests t ON a.test_id = t.id WHERE a.interrupted = 0 "
      "ORDER BY a.id");
  if (!q.ok()) return q.status();
  std::map<std::string, int64_t> out;
  Status st;
  while (q->Next(&st)) out[q->Text(0)] = q->Int(1);
  if (!st.ok()) return st;
  return out;
}

namespace {

BisectionRecord BisectionFromRow(const Statement& q) {
  BisectionRecord b;
  b.id = q.Int(0);
  b.repo = q.Text(1);
  b.good = q.Text(2);
  b.bad = q.Text(3);
  b.options_json = q.Text(4);
  b.status = q.Text(5);
  b.result_json = q.Text(6);
  b.started_at = q.Text(7);
  b.finished_at = q.Text(8);
  return b;
}

constexpr const char* kBisectionColumns =
    "SELECT id, repo, good, bad, options_json, status, result_json, started_at, finished_at FROM bisections";

}  // namespace

Result<int64_t> SqlStore::CreateBisection(const BisectionRecord& b) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "INSERT INTO bisections (repo, good, bad, options_json, status, started_at) VALUES (?, ?, ?, ?, ?, ?) "
      "RETURNING id");
  if (!q.ok()) return q.status();
  q->Bind(1, b.repo).Bind(2, b.good).Bind(3, b.bad).Bind(4, b.options_json).Bind(5, b.status).Bind(6, b.started_at);
  return ReturnedId(*q);
}

Result<BisectionRecord> SqlStore::ActiveBisection(const std::string& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindBisection(repo, true);
}

Result<BisectionRecord> SqlStore::LatestBisection(const std::string& repo) {
  std::lock_guard<std::mutex> lock(mu_);
  return FindBisection(repo, false);
}

Result<BisectionRecord> SqlStore::FindBisection(const std::string& repo, bool running_only) {
  auto q = db_->Prepare(std::string(kBisectionColumns) + " WHERE repo = ?" +
                        (running_only ? " AND status = 'running'" : "") + " ORDER BY id DESC");
  if (!q.ok()) return q.status();
  q->Bind(1, repo);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound("no bisection in progress") : st;
  return BisectionFromRow(*q);
}

Result<BisectionRecord> SqlStore::LoadBisection(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string(kBisectionColumns) + " WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, id);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no bisection {}", id)) : st;
  return BisectionFromRow(*q);
}

Status SqlStore::RecordBisectRun(int64_t bisection_id, const BisectRunRecord& r) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "INSERT INTO bisect_runs (bisection_id, position, commit_hash, outcome, exit_code, duration_ms, at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return q.status();
  q->Bind(1, bisection_id).Bind(2, static_cast<int64_t>(r.position)).Bind(3, r.commit).Bind(4, r.outcome);
  if (r.exit_code) {
    q->Bind(5, static_cast<int64_t>(*r.exit_code));
  } else {
    q->Bind(5, std::nullopt);
  }
  q->Bind(6, r.duration_ms).Bind(7, r.at);
  return q->Run();
}

Result<std::vector<BisectRunRecord>> SqlStore::LoadBisectRuns(int64_t bisection_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT position, commit_hash, outcome, exit_code, duration_ms, at FROM bisect_runs WHERE bisection_id = ? "
      "ORDER BY id");
  if (!q.ok()) return q.status();
  q->Bind(1, bisection_id);
  std::vector<BisectRunRecord> out;
  Status st;
  while (q->Next(&st)) {
    BisectRunRecord r;
    r.position = static_cast<int>(q->Int(0));
    r.commit = q->Text(1);
    r.outcome = q->Text(2);
    if (!q->IsNull(3)) r.exit_code = static_cast<int>(q->Int(3));
    r.duration_ms = q->Int(4);
    r.at = q->Text(5);
    out.push_back(std::move(r));
  }
  if (!st.ok()) return st;
  return out;
}

Status SqlStore::FinishBisection(int64_t id, const std::string& status, const std::string& result_json,
                              const std::string& finished_at) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("UPDATE bisections SET status = ?, result_json = ?, finished_at = ? WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, status).Bind(2, result_json).Bind(3, finished_at).Bind(4, id);
  return q->Run();
}

namespace {

constexpr const char* kBuildColumns =
    "SELECT id, started_at, finished_at, status, host, command, tree, commit_hash, describe, dirty, variant, "
    "output_dir, config_hash, compiler, collections_json, duration_ms, steps, artifacts_json, "
    "config_mismatches_json, warnings, errors, diagnostics_dropped, failure FROM builds";

BuildRecord BuildFromRow(const Statement& q) {
  BuildRecord b;
  b.id = q.Int(0);
  b.started_at = q.Text(1);
  b.finished_at = q.Text(2);
  b.status = q.Text(3);
  b.host = q.Text(4);
  b.command = q.Text(5);
  b.tree = q.Text(6);
  b.commit = q.Text(7);
  b.describe = q.Text(8);
  b.dirty = q.Int(9) != 0;
  b.variant = q.Text(10);
  b.output_dir = q.Text(11);
  b.config_hash = q.Text(12);
  b.compiler = q.Text(13);
  b.collections = StringsFromJson(q.Text(14));
  b.duration_ms = q.Int(15);
  b.steps = q.Int(16);
  b.artifacts_json = q.Text(17);
  b.config_mismatches = StringsFromJson(q.Text(18));
  b.warnings = q.Int(19);
  b.errors = q.Int(20);
  b.diagnostics_dropped = q.Int(21);
  b.failure = q.Text(22);
  return b;
}

}  // namespace

Result<int64_t> SqlStore::RecordBuild(const BuildRecord& b,
                                         const std::vector<BuildDiagnosticRecord>& diagnostics) {
  std::lock_guard<std::mutex> lock(mu_);
  if (db_->read_only()) {
    return Status::IOError(
        fmt::format("cannot record a build: the store {} is read-only ({})", path_, ReadOnlyWhy()));
  }
  Transaction tx(db_.get());
  if (!tx.status().ok()) return tx.status();
  auto ins = db_->Prepare(
      "INSERT INTO builds (started_at, finished_at, status, host, command, tree, commit_hash, describe, dirty, "
      "variant, output_dir, config_hash, compiler, collections_json, duration_ms, steps, artifacts_json, "
      "config_mismatches_json, warnings, errors, diagnostics_dropped, failure) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, b.started_at).Bind(2, b.finished_at).Bind(3, b.status).Bind(4, b.host).Bind(5, b.command);
  ins->Bind(6, b.tree).Bind(7, b.commit).Bind(8, b.describe).Bind(9, b.dirty ? 1 : 0).Bind(10, b.variant);
  ins->Bind(11, b.output_dir).Bind(12, b.config_hash).Bind(13, b.compiler).Bind(14, StringsJson(b.collections));
  ins->Bind(15, b.duration_ms).Bind(16, b.steps).Bind(17, b.artifacts_json);
  ins->Bind(18, StringsJson(b.config_mismatches)).Bind(19, b.warnings).Bind(20, b.errors);
  ins->Bind(21, b.diagnostics_dropped).Bind(22, b.failure);
  auto id_r = ReturnedId(*ins);
  if (!id_r.ok()) return id_r.status();
  int64_t id = id_r.value();
  Status st;
  auto diag = db_->Prepare(
      "INSERT INTO build_diagnostics (build_id, seq, tool, file, line_no, column_no, severity, message, flag, "
      "function_name, target, notes_json, inlined_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!diag.ok()) return diag.status();
  int64_t seq = 0;
  for (const auto& d : diagnostics) {
    diag->Reset();
    diag->Bind(1, id).Bind(2, seq++).Bind(3, d.tool).Bind(4, d.file).Bind(5, d.line).Bind(6, d.column);
    diag->Bind(7, d.severity).Bind(8, d.message).Bind(9, d.flag).Bind(10, d.function).Bind(11, d.target);
    diag->Bind(12, StringsJson(d.notes)).Bind(13, d.inlined_from);
    st = diag->Run();
    if (!st.ok()) return st;
  }
  st = tx.Commit();
  if (!st.ok()) return st;
  return id;
}

Result<BuildRecord> SqlStore::LoadBuild(int64_t build_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string(kBuildColumns) + " WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, build_id);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no build {}", build_id)) : st;
  return BuildFromRow(*q);
}

Result<std::vector<BuildRecord>> SqlStore::ListBuilds(const BuildQuery& query) {
  std::lock_guard<std::mutex> lock(mu_);
  // Only the conditions asked for, so that (tree, variant, id) serves them.
  std::string sql = std::string(kBuildColumns) + " WHERE 1 = 1";
  if (!query.tree.empty()) sql += " AND tree = ?1";
  if (!query.variant.empty()) sql += " AND variant = ?2";
  if (!query.status.empty()) sql += " AND status = ?3";
  if (query.before > 0) sql += " AND id < ?4";
  sql += " ORDER BY id DESC";
  if (query.newest > 0) sql += " LIMIT ?5";
  auto q = db_->Prepare(sql);
  if (!q.ok()) return q.status();
  if (!query.tree.empty()) q->Bind(1, query.tree);
  if (!query.variant.empty()) q->Bind(2, query.variant);
  if (!query.status.empty()) q->Bind(3, query.status);
  if (query.before > 0) q->Bind(4, query.before);
  if (query.newest > 0) q->Bind(5, static_cast<int64_t>(query.newest));
  std::vector<BuildRecord> out;
  Status st;
  while (q->Next(&st)) out.push_back(BuildFromRow(*q));
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<BuildDiagnosticRecord>> SqlStore::LoadBuildDiagnostics(int64_t build_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto exists = db_->Prepare("SELECT 1 FROM builds WHERE id = ?");
  if (!exists.ok()) return exists.status();
  exists->Bind(1, build_id);
  Status st;
  if (!exists->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no build {}", build_id)) : st;
  auto q = db_->Prepare(
      "SELECT tool, file, line_no, column_no, severity, message, flag, function_name, target, notes_json, "
      "inlined_from FROM build_diagnostics WHERE build_id = ? ORDER BY seq");
  if (!q.ok()) return q.status();
  q->Bind(1, build_id);
  std::vector<BuildDiagnosticRecord> out;
  while (q->Next(&st)) {
    BuildDiagnosticRecord d;
    d.tool = q->Text(0);
    d.file = q->Text(1);
    d.line = q->Int(2);
    d.column = q->Int(3);
    d.severity = q->Text(4);
    d.message = q->Text(5);
    d.flag = q->Text(6);
    d.function = q->Text(7);
    d.target = q->Text(8);
    d.notes = StringsFromJson(q->Text(9));
    d.inlined_from = q->Text(10);
    out.push_back(std::move(d));
  }
  if (!st.ok()) return st;
  return out;
}

}  // namespace vigil::store

namespace vigil::store {
namespace {

bool OneOf(const std::string& v, std::initializer_list<const char*> allowed) {
  for (const char* a : allowed) {
    if (v == a) return true;
  }
  return false;
}

}  // namespace

Status Store::ValidSeries(const model::SeriesRecord& s) {
  if (!OneOf(s.state, {"queued", "testing", "reporting", "done", "failed", "error"})) {
    return Status::InvalidArgument(fmt::format("unknown series state '{}'", SanitizeUtf8(s.state)));
  }
  return Status::OK();
}

Status Store::ValidSeriesCheck(const model::SeriesCheckRecord& c) {
  if (!OneOf(c.phase, {"pending", "final"})) {
    return Status::InvalidArgument(fmt::format("unknown check phase '{}'", SanitizeUtf8(c.phase)));
  }
  if (!OneOf(c.status, {"planned", "posting", "posted", "gone"})) {
    return Status::InvalidArgument(fmt::format("unknown check status '{}'", SanitizeUtf8(c.status)));
  }
  return Status::OK();
}

Status Store::ValidSeriesMail(const model::SeriesMailRecord& m) {
  if (!OneOf(m.status, {"sending", "sent", "written", "failed", "partial", "given-up"})) {
    return Status::InvalidArgument(fmt::format("unknown e-mail status '{}'", SanitizeUtf8(m.status)));
  }
  return Status::OK();
}

namespace {

constexpr const char* kSeriesColumns =
    "SELECT id, source, series_id, round, name, version, submitter, series_json, state, tree, base_commit, "
    "head_commit, conclusion, result_json, queued_at, updated_at FROM series";

model::SeriesRecord SeriesFromRow(const Statement& q) {
  model::SeriesRecord s;
  s.id = q.Int(0);
  s.source = q.Text(1);
  s.series_id = q.Int(2);
  s.round = static_cast<int>(q.Int(3));
  s.name = q.Text(4);
  s.version = q.Text(5);
  s.submitter = q.Text(6);
  s.series_json = q.Text(7);
  s.state = q.Text(8);
  s.tree = q.Text(9);
  s.base_commit = q.Text(10);
  s.head_commit = q.Text(11);
  s.conclusion = q.Text(12);
  s.result_json = q.Text(13);
  s.queued_at = q.Text(14);
  s.updated_at = q.Text(15);
  return s;
}

}  // namespace

Result<std::string> SqlStore::WatchCursor(const std::string& source) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT cursor FROM watch_cursors WHERE source = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, source);
  Status st;
  if (q->Next(&st)) return q->Text(0);
  if (!st.ok()) return st;
  return std::string();
}

Status SqlStore::StartWatchCursor(const std::string& source, const std::string& date) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("INSERT INTO watch_cursors (source, cursor) VALUES (?, ?) ON CONFLICT (source) DO NOTHING");
  if (!q.ok()) return q.status();
  q->Bind(1, source).Bind(2, date);
  return q->Run();
}

Result<bool> SqlStore::EventAccepted(const std::string& source, int64_t event_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT 1 FROM watch_events WHERE source = ? AND event_id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, source).Bind(2, event_id);
  Status st;
  if (q->Next(&st)) return true;
  if (!st.ok()) return st;
  return false;
}

Result<int64_t> SqlStore::InsertSeries(const model::SeriesRecord& s) {
  Status valid = ValidSeries(s);
  if (!valid.ok()) return valid;
  auto ins = db_->Prepare(
      "INSERT INTO series (source, series_id, round, name, version, submitter, series_json, state, tree, "
      "base_commit, head_commit, conclusion, result_json, queued_at, updated_at) "
      "VALUES (?1, ?2, 1 + (SELECT COALESCE(MAX(round), 0) FROM series WHERE source = ?1 "
      "AND series_id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) RETURNING id");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, s.source).Bind(2, s.series_id).Bind(3, s.name).Bind(4, s.version).Bind(5, s.submitter);
  ins->Bind(6, s.series_json).Bind(7, s.state).Bind(8, s.tree).Bind(9, s.base_commit).Bind(10, s.head_commit);
  ins->Bind(11, s.conclusion).Bind(12, s.result_json).Bind(13, s.queued_at).Bind(14, s.updated_at);
  auto id = ReturnedId(*ins);
  if (!id.ok()) return id.status();
  Status st = WriteSeriesRuns(*db_, *id, s.source, s.result_json);
  if (!st.ok()) return st;
  return *id;
}

Result<int64_t> SqlStore::AcceptEvent(const std::string& source, int64_t event_id,
                                         const std::string& event_date,
                                         const std::optional<model::SeriesRecord>& queue) {
  std::lock_guard<std::mutex> lock(mu_);
  Transaction tx(db_.get());
  if (!tx.status().ok()) return tx.status();
  auto had = db_->Prepare("SELECT 1 FROM watch_events WHERE source = ? AND event_id = ?");
  if (!had.ok()) return had.status();
  had->Bind(1, source).Bind(2, event_id);
  Status st;
  if (had->Next(&st)) {
    return Status::InvalidArgument(
        fmt::format("event {} of {} was accepted already", event_id, SanitizeUtf8(source)));
  }
  if (!st.ok()) return st;
  int64_t series = 0;
  if (queue) {
    auto id = InsertSeries(*queue);
    if (!id.ok()) return id.status();
    series = *id;
  }
  auto ev =
      db_->Prepare("INSERT INTO watch_events (source, event_id, event_date, series) VALUES (?, ?, ?, ?)");
  if (!ev.ok()) return ev.status();
  ev->Bind(1, source).Bind(2, event_id).Bind(3, event_date);
  if (series > 0) {
    ev->Bind(4, series);
  } else {
    ev->Bind(4, std::nullopt);
  }
  st = ev->Run();
  if (!st.ok()) return st;
  auto cur = db_->Prepare(
      "INSERT INTO watch_cursors (source, cursor) VALUES (?, ?) "
      "ON CONFLICT (source) DO UPDATE SET cursor = CASE WHEN excluded.cursor > watch_cursors.cursor "
      "THEN excluded.cursor ELSE watch_cursors.cursor END");
  if (!cur.ok()) return cur.status();
  cur->Bind(1, source).Bind(2, event_date);
  st = cur->Run();
  if (!st.ok()) return st;
  st = tx.Commit();
  if (!st.ok()) return st;
  return series;
}

Result<int64_t> SqlStore::QueueSeries(const model::SeriesRecord& s) {
  std::lock_guard<std::mutex> lock(mu_);
  // One transaction, so that the round read is the round written.
  Transaction tx(db_.get());
  if (!tx.status().ok()) return tx.status();
  auto id = InsertSeries(s);
  if (!id.ok()) return id.status();
  Status st = tx.Commit();
  if (!st.ok()) return st;
  return *id;
}

Status SqlStore::UpdateSeries(const model::SeriesRecord& s) {
  Status valid = ValidSeries(s);
  if (!valid.ok()) return valid;
  std::lock_guard<std::mutex> lock(mu_);
  // One transaction: the runs it names change with its result.
  Transaction tx(db_.get());
  if (!tx.status().ok()) return tx.status();
  // The source is the stored one (UpdateSeries does not change it).
  auto q = db_->Prepare(
      "UPDATE series SET state = ?, tree = ?, base_commit = ?, head_commit = ?, conclusion = ?, "
      "result_json = ?, series_json = ?, updated_at = ? WHERE id = ? RETURNING source");
  if (!q.ok()) return q.status();
  q->Bind(1, s.state).Bind(2, s.tree).Bind(3, s.base_commit).Bind(4, s.head_commit).Bind(5, s.conclusion);
  q->Bind(6, s.result_json).Bind(7, s.series_json).Bind(8, s.updated_at).Bind(9, s.id);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no series {}", s.id)) : st;
  std::string source = q->Text(0);
  while (q->Next(&st)) {
  }
  if (!st.ok()) return st;
  st = WriteSeriesRuns(*db_, s.id, source, s.result_json);
  if (!st.ok()) return st;
  return tx.Commit();
}

Result<model::SeriesRecord> SqlStore::LoadSeries(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string(kSeriesColumns) + " WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, id);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no series {}", id)) : st;
  return SeriesFromRow(*q);
}

Result<model::SeriesRecord> SqlStore::FindSeries(const std::string& source, int64_t series_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(std::string(kSeriesColumns) +
                        " WHERE source = ? AND series_id = ? ORDER BY round DESC LIMIT 1");
  if (!q.ok()) return q.status();
  q->Bind(1, source).Bind(2, series_id);
  Status st;
  if (!q->Next(&st)) {
    return st.ok() ? Status::NotFound(fmt::format("no series {} of {}", series_id, SanitizeUtf8(source)))
                   : st;
  }
  return SeriesFromRow(*q);
}

Result<std::vector<model::SeriesRecord>> SqlStore::ListSeries(const SeriesQuery& query) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string(kSeriesColumns) + " WHERE 1 = 1";
  if (!query.source.empty()) sql += " AND source = ?1";
  if (!query.states.empty()) {
    sql += " AND state IN (";
    for (size_t i = 0; i < query.states.size(); ++i) sql += fmt::format("{}?{}", i ? ", " : "", i + 3);
    sql += ")";
  }
  sql += " ORDER BY id DESC";
  if (query.limit > 0) sql += " LIMIT ?2";
  auto q = db_->Prepare(sql);
  if (!q.ok()) return q.status();
  if (!query.source.empty()) q->Bind(1, query.source);
  if (query.limit > 0) q->Bind(2, static_cast<int64_t>(query.limit));
  for (size_t i = 0; i < query.states.size(); ++i) q->Bind(static_cast<int>(i) + 3, query.states[i]);
  std::vector<model::SeriesRecord> out;
  Status st;
  while (q->Next(&st)) out.push_back(SeriesFromRow(*q));
  if (!st.ok()) return st;
  return out;
}

Result<std::map<int64_t, RunOrigin>> SqlStore::LoadRunOrigins(const std::vector<int64_t>& run_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  // One query for a few hundred runs (a history's window asks for 200; on
  // PostgreSQL each query is a round trip): each run's rows in the order
  // that puts its origin first ("tested" sorts after "base"; the oldest
  // series of the role: a base run can be the base of thousands of series).
  std::map<int64_t, RunOrigin> out;
  constexpr size_t kChunk = 500;
  for (size_t from = 0; from < run_ids.size(); from += kChunk) {
    std::vector<int64_t> ids(run_ids.begin() + static_cast<std::ptrdiff_t>(from),
                             run_ids.begin() + static_cast<std::ptrdiff_t>(std::min(run_ids.size(), from + kChunk)));
    auto q = db_->Prepare("SELECT r.run_id, r.series, r.kind, s.name, r.role FROM series_runs r JOIN series s ON "
                          "s.id = r.series WHERE " +
                          InIds("r.run_id", ids) + " ORDER BY r.run_id, r.role DESC, r.series");
    if (!q.ok()) return q.status();
    Status st;
    while (q->Next(&st)) {
      int64_t run = q->Int(0);
      if (out.count(run)) continue;  // not its first row: not its origin
      out[run] = {q->Text(2), q->Int(1), q->Text(3), q->Text(4)};
    }
    if (!st.ok()) return st;
  }
  return out;
}

Result<std::vector<int64_t>> SqlStore::ListRunsWithOrigin(const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  // Each run's origin by LoadRunOrigins' rule (a run a branch tested and a
  // series used as its base is the branch's): the rows of each run in the
  // order that puts its origin first ("tested" sorts after "base").
  auto q = db_->Prepare("SELECT run_id, role, kind FROM series_runs ORDER BY run_id, role DESC, series");
  if (!q.ok()) return q.status();
  std::vector<int64_t> out;
  Status st;
  int64_t last = 0;
  while (q->Next(&st)) {
    int64_t run = q->Int(0);
    if (run == last) continue;  // not its first row: not its origin
    last = run;
    if (kind.empty() || q->Text(2) == kind) out.push_back(run);
  }
  if (!st.ok()) return st;
  return out;
}

Status SqlStore::SeriesExists(int64_t id) {
  auto q = db_->Prepare("SELECT 1 FROM series WHERE id = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, id);
  Status st;
  if (q->Next(&st)) return Status::OK();
  return st.ok() ? Status::NotFound(fmt::format("no series {}", id)) : st;
}

Status SqlStore::SetSeriesCheck(const model::SeriesCheckRecord& c) {
  Status valid = ValidSeriesCheck(c);
  if (!valid.ok()) return valid;
  std::lock_guard<std::mutex> lock(mu_);
  Status st = SeriesExists(c.series);
  if (!st.ok()) return st;
  auto q = db_->Prepare(
      "INSERT INTO series_checks (series, patch_id, phase, context, state, description, target_url, status, "
      "posted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series, patch_id, phase, context) "
      "DO UPDATE SET state = excluded.state, description = excluded.description, target_url = "
      "excluded.target_url, "
      "status = excluded.status, posted_at = excluded.posted_at");
  if (!q.ok()) return q.status();
  q->Bind(1, c.series).Bind(2, c.patch_id).Bind(3, c.phase).Bind(4, c.context).Bind(5, c.state);
  q->Bind(6, c.description).Bind(7, c.target_url).Bind(8, c.status).Bind(9, c.posted_at);
  return q->Run();
}

Result<std::vector<model::SeriesCheckRecord>> SqlStore::LoadSeriesChecks(int64_t series) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare(
      "SELECT series, patch_id, phase, context, state, description, target_url, status, posted_at "
      "FROM series_checks WHERE series = ? ORDER BY patch_id, phase <> 'pending', phase, context");
  if (!q.ok()) return q.status();
  q->Bind(1, series);
  std::vector<model::SeriesCheckRecord> out;
  Status st;
  while (q->Next(&st)) {
    model::SeriesCheckRecord c;
    c.series = q->Int(0);
    c.patch_id = q->Int(1);
    c.phase = q->Text(2);
    c.context = q->Text(3);
    c.state = q->Text(4);
    c.description = q->Text(5);
    c.target_url = q->Text(6);
    c.status = q->Text(7);
    c.posted_at = q->Text(8);
    out.push_back(std::move(c));
  }
  if (!st.ok()) return st;
  return out;
}

Status SqlStore::SetSeriesMail(const model::SeriesMailRecord& m) {
  Status valid = ValidSeriesMail(m);
  if (!valid.ok()) return valid;
  std::lock_guard<std::mutex> lock(mu_);
  Status st = SeriesExists(m.series);
  if (!st.ok()) return st;
  auto q = db_->Prepare(
      "INSERT INTO series_mails (series, message_id, status, path, updated_at, pending_json) VALUES (?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (series) DO UPDATE SET message_id = excluded.message_id, status = excluded.status, "
      "path = excluded.path, updated_at = excluded.updated_at, pending_json = excluded.pending_json");
  if (!q.ok()) return q.status();
  q->Bind(1, m.series).Bind(2, m.message_id).Bind(3, m.status).Bind(4, m.path).Bind(5, m.updated_at);
  std::string pending;
  if (!m.pending.empty() || !m.pending_since.empty()) {
    pending = DumpJson(nlohmann::json{{"recipients", m.pending}, {"since", m.pending_since}});
  }
  q->Bind(6, pending);
  return q->Run();
}

Result<model::SeriesMailRecord> SqlStore::LoadSeriesMail(int64_t series) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q =
      db_->Prepare("SELECT series, message_id, status, path, updated_at, pending_json FROM series_mails WHERE series = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, series);
  Status st;
  if (!q->Next(&st)) return st.ok() ? Status::NotFound(fmt::format("no e-mail of series {}", series)) : st;
  model::SeriesMailRecord m;
  m.series = q->Int(0);
  m.message_id = q->Text(1);
  m.status = q->Text(2);
  m.path = q->Text(3);
  m.updated_at = q->Text(4);
  if (std::string pending = q->Text(5); !pending.empty()) {
    auto j = nlohmann::json::parse(pending, nullptr, false);
    if (j.is_object() && j.contains("recipients") && j["recipients"].is_array()) {
      for (const auto& r : j["recipients"]) {
        if (r.is_string()) m.pending.push_back(r.get<std::string>());
      }
    }
    if (j.is_object() && j.contains("since") && j["since"].is_string()) m.pending_since = j["since"].get<std::string>();
  }
  return m;
}

Status SqlStore::SetBaseline(const std::string& key, const std::string& commit, int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto run = db_->Prepare("SELECT 1 FROM runs WHERE id = ?");
  if (!run.ok()) return run.status();
  run->Bind(1, run_id);
  Status st;
  if (!run->Next(&st)) return st.ok() ? Status::InvalidArgument(fmt::format("no run {}", run_id)) : st;
  auto q = db_->Prepare(
      "INSERT INTO baselines (key, commit_hash, run_id) VALUES (?, ?, ?) "
      "ON CONFLICT (key, commit_hash) DO UPDATE SET run_id = excluded.run_id");
  if (!q.ok()) return q.status();
  q->Bind(1, key).Bind(2, commit).Bind(3, run_id);
  return q->Run();
}

Result<int64_t> SqlStore::FindBaseline(const std::string& key, const std::string& commit) {
  std::lock_guard<std::mutex> lock(mu_);
  auto q = db_->Prepare("SELECT run_id FROM baselines WHERE key = ? AND commit_hash = ?");
  if (!q.ok()) return q.status();
  q->Bind(1, key).Bind(2, commit);
  Status st;
  if (!q->Next(&st)) {
    return st.ok() ? Status::NotFound(
                         fmt::format("no baseline of {} at {}", SanitizeUtf8(key), SanitizeUtf8(commit)))
                   : st;
  }
  return q->Int(0);
}

}  // namespace vigil::store
