#include "store/copy.h"

#include <utility>

#include <fmt/format.h>

#include "base/hash.h"
#include "store/postgres.h"
#include "store/sql_store.h"
#include "store/store.h"

namespace vigil::store {
namespace {

struct Table {
  const char* name;
  const char* key;  // ORDER BY
  bool identity;    // an id column the engine numbers
  std::vector<std::pair<std::string, char>> columns;
};

// Parents before children (the references hold while rows go in).
const std::vector<Table>& Tables() {
  static const std::vector<Table> tables = {
      {"environments", "id", true,
       {{"id", 'I'}, {"fingerprint", 'T'}, {"kernel_release", 'T'}, {"uname", 'T'}, {"arch", 'T'}, {"cpus", 'I'},
        {"memory_kb", 'I'}, {"where_run", 'T'}, {"accel", 'T'}, {"tools_json", 'T'}, {"kernel_config", 'T'}}},
      {"builds", "id", true,
       {{"id", 'I'}, {"started_at", 'T'}, {"finished_at", 'T'}, {"status", 'T'}, {"host", 'T'}, {"command", 'T'},
        {"tree", 'T'}, {"commit_hash", 'T'}, {"describe", 'T'}, {"dirty", 'I'}, {"variant", 'T'},
        {"output_dir", 'T'}, {"config_hash", 'T'}, {"compiler", 'T'}, {"collections_json", 'T'},
        {"duration_ms", 'I'}, {"steps", 'I'}, {"artifacts_json", 'T'}, {"config_mismatches_json", 'T'},
        {"warnings", 'I'}, {"errors", 'I'}, {"diagnostics_dropped", 'I'}, {"failure", 'T'}}},
      {"build_diagnostics", "build_id, seq", false,
       {{"build_id", 'I'}, {"seq", 'I'}, {"tool", 'T'}, {"file", 'T'}, {"line_no", 'I'}, {"column_no", 'I'},
        {"severity", 'T'}, {"message", 'T'}, {"flag", 'T'}, {"function_name", 'T'}, {"target", 'T'},
        {"notes_json", 'T'}, {"inlined_from", 'T'}}},
      {"runs", "id", true,
       {{"id", 'I'}, {"started_at", 'T'}, {"finished_at", 'T'}, {"status", 'T'}, {"host", 'T'}, {"command", 'T'},
        {"tests_dir", 'T'}, {"plan_json", 'T'}, {"environment_id", 'I'}, {"console_log", 'T'}, {"vm_json", 'T'},
        {"owner", 'T'}, {"build_id", 'I'}, {"run_group", 'T'}, {"shards", 'I'}, {"uid", 'T'},
        {"options_json", 'T'}}},
      {"run_shards", "run_id, shard", false,
       {{"run_id", 'I'}, {"shard", 'I'}, {"tests_json", 'T'}, {"host", 'T'}, {"command", 'T'}, {"tests_dir", 'T'},
        {"environment_id", 'I'}, {"started_at", 'T'}, {"finished_at", 'T'}, {"status", 'T'}, {"owner", 'T'},
        {"console_log", 'T'}}},
      {"tests", "id", true,
       {{"id", 'I'}, {"run_id", 'I'}, {"path", 'T'}, {"final_status", 'T'}, {"final_attempts", 'I'},
        {"final_duration_ms", 'I'}, {"final_crashes", 'I'}, {"final_subtests", 'B'}}},
      {"attempts", "id", true,
       {{"id", 'I'}, {"test_id", 'I'}, {"attempt", 'I'}, {"status", 'T'}, {"exit_code", 'I'}, {"signal", 'I'},
        {"timed_out", 'I'}, {"duration_ms", 'I'}, {"started_at", 'T'}, {"output_bytes", 'I'},
        {"environment_issues_json", 'T'}, {"subtests_dropped", 'I'}, {"interrupted", 'I'}}},
      {"subtests", "id", true,
       {{"id", 'I'}, {"attempt_id", 'I'}, {"path", 'T'}, {"status", 'T'}, {"duration_ms", 'I'}}},
      {"logs", "attempt_id", false, {{"attempt_id", 'I'}, {"output", 'B'}}},
      {"crashes", "id", true,
       {{"id", 'I'}, {"attempt_id", 'I'}, {"type", 'T'}, {"title", 'T'}, {"fatal", 'I'}, {"fingerprint", 'T'},
        {"guilty", 'T'}, {"text", 'B'}}},
      {"bisections", "id", true,
       {{"id", 'I'}, {"repo", 'T'}, {"good", 'T'}, {"bad", 'T'}, {"options_json", 'T'}, {"status", 'T'},
        {"result_json", 'T'}, {"started_at", 'T'}, {"finished_at", 'T'}}},
      {"bisect_runs", "id", true,
       {{"id", 'I'}, {"bisection_id", 'I'}, {"position", 'I'}, {"commit_hash", 'T'}, {"outcome", 'T'},
        {"exit_code", 'I'}, {"duration_ms", 'I'}, {"at", 'T'}}},
      {"series", "id", true,
       {{"id", 'I'}, {"source", 'T'}, {"series_id", 'I'}, {"round", 'I'}, {"name", 'T'}, {"version", 'T'},
        {"submitter", 'T'}, {"series_json", 'T'}, {"state", 'T'}, {"tree", 'T'}, {"base_commit", 'T'},
        {"head_commit", 'T'}, {"conclusion", 'T'}, {"result_json", 'T'}, {"queued_at", 'T'}, {"updated_at", 'T'}}},
      {"series_runs", "run_id, role, series", false,
       {{"run_id", 'I'}, {"role", 'T'}, {"series", 'I'}, {"kind", 'T'}}},
      {"watch_cursors", "source", false, {{"source", 'T'}, {"cursor", 'T'}}},
      {"watch_events", "source, event_id", false,
       {{"source", 'T'}, {"event_id", 'I'}, {"event_date", 'T'}, {"series", 'I'}}},
      {"series_checks", "series, patch_id, phase, context", false,
       {{"series", 'I'}, {"patch_id", 'I'}, {"phase", 'T'}, {"context", 'T'}, {"state", 'T'}, {"description", 'T'},
        {"target_url", 'T'}, {"status", 'T'}, {"posted_at", 'T'}}},
      {"series_mails", "series", false,
       {{"series", 'I'}, {"message_id", 'T'}, {"status", 'T'}, {"path", 'T'}, {"updated_at", 'T'},
        {"pending_json", 'T'}}},
      {"baselines", "key, commit_hash", false, {{"key", 'T'}, {"commit_hash", 'T'}, {"run_id", 'I'}}},
  };
  return tables;
}

std::string ColumnList(const Table& t) {
  std::string cols;
  for (const auto& [name, kind] : t.columns) cols += (cols.empty() ? "" : ", ") + name;
  return cols;
}

// A table's rows hashed: each value its kind, its length and its bytes, so
// no two rows' bytes run together.
class RowHash {
 public:
  void Value(char kind, std::string_view bytes) {
    h_ = Fnv1a(fmt::format("{}{}:", kind, bytes.size()), h_);
    h_ = Fnv1a(bytes, h_);
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = kFnvOffset;
};

Result<TableSum> SumTable(Database& db, const Table& t) {
  auto q = db.Prepare(fmt::format("SELECT {} FROM {} ORDER BY {}", ColumnList(t), t.name, t.key));
  if (!q.ok()) return q.status();
  TableSum sum{t.name, 0, 0};
  RowHash h;
  Status st;
  while (q->Next(&st)) {
    ++sum.rows;
    for (size_t c = 0; c < t.columns.size(); ++c) {
      int col = static_cast<int>(c);
      if (q->IsNull(col)) {
        h.Value('N', "");
      } else if (t.columns[c].second == 'I') {
        h.Value('I', std::to_string(q->Int(col)));
      } else {
        h.Value('T', q->Text(col));
      }
    }
  }
  if (!st.ok()) return st;
  sum.checksum = h.value();
  return sum;
}

Status CopyTable(Database& from, Database& to, const Table& t) {
  auto q = from.Prepare(fmt::format("SELECT {} FROM {} ORDER BY {}", ColumnList(t), t.name, t.key));
  if (!q.ok()) return q.status();
  std::string marks;
  for (size_t c = 0; c < t.columns.size(); ++c) marks += (c ? ", ?" : "?");
  auto ins = to.Prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", t.name, ColumnList(t), marks));
  if (!ins.ok()) return ins.status();
  Status st;
  while (q->Next(&st)) {
    ins->Reset();
    for (size_t c = 0; c < t.columns.size(); ++c) {
      int col = static_cast<int>(c);
      if (q->IsNull(col)) {
        ins->Bind(col + 1, std::nullopt);
      } else if (t.columns[c].second == 'I') {
        ins->Bind(col + 1, q->Int(col));
      } else if (t.columns[c].second == 'B') {
        ins->BindBlob(col + 1, q->Text(col));
      } else {
        ins->Bind(col + 1, q->Text(col));
      }
    }
    Status s = ins->Run();
    if (!s.ok()) return Status::IOError(fmt::format("copying {}: {}", t.name, s.message()));
  }
  return st;
}

}  // namespace

std::vector<std::pair<std::string, std::vector<std::string>>> CopiedTables() {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& t : Tables()) {
    std::vector<std::string> cols;
    for (const auto& [name, kind] : t.columns) cols.push_back(name + ":" + kind);
    out.emplace_back(t.name, std::move(cols));
  }
  return out;
}

Result<std::vector<TableSum>> TableSums(Database& db) {
  std::vector<TableSum> out;
  for (const auto& t : Tables()) {
    auto s = SumTable(db, t);
    if (!s.ok()) return s.status();
    out.push_back(std::move(*s));
  }
  return out;
}

Result<std::vector<TableSum>> CopyStore(const std::string& from_path, const std::string& to_path) {
  auto from = Database::Open(from_path);
  if (!from.ok()) return from.status();
  if (Status s = MigrateTo(**from, kSchemaVersion); !s.ok()) return s;
  auto to = Database::Open(to_path);
  if (!to.ok()) return to.status();
  if (Status s = MigrateTo(**to, kSchemaVersion); !s.ok()) return s;
  {
    auto there = TableSums(**to);
    if (!there.ok()) return there.status();
    for (const auto& t : *there) {
      if (t.rows > 0) {
        return Status::InvalidArgument(fmt::format(
            "{} holds vigil data already ({} rows in {}): the copy goes into an empty store", ShownPath(to_path),
            t.rows, t.table));
      }
    }
  }
  // The source read in one snapshot while it is copied; the copy in one
  // transaction: all or nothing.
  Transaction read(from->get());
  if (!read.status().ok()) return read.status();
  if (std::string_view((*from)->engine()) == "postgresql") {
    if (Status s = (*from)->Exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); !s.ok()) return s;
  }
  auto sums = TableSums(**from);
  if (!sums.ok()) return sums.status();
  {
    Transaction tx(to->get());
    if (!tx.status().ok()) return tx.status();
    for (const auto& t : Tables()) {
      if (Status s = CopyTable(**from, **to, t); !s.ok()) return s;
    }
    if (std::string_view((*to)->engine()) == "postgresql") {
      // Ids given explicitly leave the identity sequences behind: new rows
      // continue after the copied ones.
      for (const auto& t : Tables()) {
        if (!t.identity) continue;
        Status s = (*to)->Exec(fmt::format(
            "SELECT setval(pg_get_serial_sequence('{0}', 'id'), coalesce(max(id), 0) + 1, false) FROM {0}", t.name));
        if (!s.ok()) return s;
      }
    }
    if (Status s = tx.Commit(); !s.ok()) return s;
  }
  auto copied = TableSums(**to);
  if (!copied.ok()) return copied.status();
  for (size_t i = 0; i < sums->size(); ++i) {
    const TableSum& a = (*sums)[i];
    const TableSum& b = (*copied)[i];
    if (a.rows != b.rows || a.checksum != b.checksum) {
      return Status::Corruption(fmt::format("the copy of {} differs: {} rows (checksum {:016x}) there, {} ({:016x}) here",
                                            a.table, a.rows, a.checksum, b.rows, b.checksum));
    }
  }
  return sums;
}

}  // namespace vigil::store
