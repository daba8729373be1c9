#include "store/sqlite.h"

#include <fmt/format.h>

namespace vigil::store {

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::IOError(fmt::format("cannot open {}: {}", path, msg));
  }
  sqlite3_busy_timeout(db, 10000);
  std::unique_ptr<Database> d(new Database(db));
  // WAL: a crash or kill -9 loses nothing that was committed; readers don't
  // block the runner. synchronous=NORMAL is durable across process crashes.
  Status s = d->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!s.ok()) return s;
  return d;
}

Database::~Database() { sqlite3_close(db_); }

Status Database::Exec(std::string_view sql) {
  char* err = nullptr;
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status::IOError(fmt::format("sqlite: {}", msg));
  }
  return Status::OK();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) return Status::Internal(fmt::format("sqlite prepare: {}", sqlite3_errmsg(db_)));
  return Statement(s, db_);
}

Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Statement& Statement::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int i, std::nullopt_t) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Statement& Statement::BindBlob(int i, std::string_view v) {
  sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

Status Statement::Run() {
  int rc = sqlite3_step(stmt_);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    return Status::IOError(fmt::format("sqlite: {}", sqlite3_errmsg(db_)));
  }
  return Status::OK();
}

bool Statement::Next(Status* status) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) *status = Status::IOError(fmt::format("sqlite: {}", sqlite3_errmsg(db_)));
  return false;
}

std::string Statement::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(n)) : std::string();
}

Status Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  return Status::OK();
}

Transaction::Transaction(Database* db) : db_(db), status_(db->Exec("BEGIN IMMEDIATE")) {}

Transaction::~Transaction() {
  if (!done_ && status_.ok()) (void)db_->Exec("ROLLBACK");
}

Status Transaction::Commit() {
  if (!status_.ok()) return status_;
  done_ = true;
  return db_->Exec("COMMIT");
}

}  // namespace vigil::store
