// A thin RAII layer over SQLite: a connection and prepared statements whose
// errors come back as Status values. Only what the store needs.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::store {

class Statement;

class Database {
 public:
  // Opens (creating) the database at `path`, in WAL mode with a busy timeout.
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  // Opens an existing database for reading only (SQLITE_OPEN_READONLY): it
  // is never created, written or migrated; readers see what writers commit.
  static Result<std::unique_ptr<Database>> OpenReadOnly(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int Changes() const { return sqlite3_changes(db_); }
  std::string Error() const { return sqlite3_errmsg(db_); }
  sqlite3* raw() { return db_; }
  // The file opened read-only (it, or its directory, is not writable): every
  // write fails.
  bool read_only() { return sqlite3_db_readonly(db_, "main") == 1; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

class Statement {
 public:
  Statement(Statement&& o) noexcept : stmt_(o.stmt_), db_(o.db_), bind_status_(std::move(o.bind_status_)) {
    o.stmt_ = nullptr;
  }
  Statement& operator=(Statement&&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  // Parameters are 1-based, as in SQLite. A failed bind (out of range, too
  // big) is kept and returned by the next Run or Next.
  Statement& Bind(int i, int64_t v);
  Statement& Bind(int i, std::string_view v);
  Statement& Bind(int i, std::nullopt_t);
  Statement& BindBlob(int i, std::string_view v);
  // Runs a statement that returns no rows.
  Status Run();
  // Steps to the next row: true with a row, false at the end; errors in *status.
  bool Next(Status* status);
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  // Ready to run again: bindings cleared, a kept bind error forgotten.
  void Reset();

 private:
  friend class Database;
  Statement(sqlite3_stmt* s, sqlite3* db) : stmt_(s), db_(db) {}
  void Check(int rc, int i);
  sqlite3_stmt* stmt_;
  sqlite3* db_;
  Status bind_status_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Database* db);
  ~Transaction();
  const Status& status() const { return status_; }
  Status Commit();

 private:
  Database* db_;
  Status status_;
  bool done_ = false;
};

}  // namespace vigil::store
