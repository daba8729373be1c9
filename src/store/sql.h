// The SQL connection the store speaks through, over one of two engines:
// SQLite (sqlite.{h,cc}: a file) and PostgreSQL (postgres.{h,cc}: a server,
// through libpq). The store's SQL is written once, in what both accept;
// what differs (placeholders, DDL types, identity columns, transactions,
// the data version) is each engine's own.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace vigil::store {

// One statement of an engine (Statement is its handle).
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void Bind(int i, int64_t v) = 0;
  virtual void Bind(int i, std::string_view v) = 0;
  virtual void BindNull(int i) = 0;
  virtual void BindBlob(int i, std::string_view v) = 0;
  virtual Status Run() = 0;
  virtual bool Next(Status* status) = 0;
  virtual int64_t Int(int col) const = 0;
  virtual bool IsNull(int col) const = 0;
  virtual std::string Text(int col) const = 0;
  virtual void Reset() = 0;
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}
  // Parameters are 1-based (?N in the SQL). A failed bind is kept and
  // returned by the next Run or Next.
  Statement& Bind(int i, int64_t v) {
    impl_->Bind(i, v);
    return *this;
  }
  Statement& Bind(int i, std::string_view v) {
    impl_->Bind(i, v);
    return *this;
  }
  Statement& Bind(int i, std::nullopt_t) {
    impl_->BindNull(i);
    return *this;
  }
  Statement& BindBlob(int i, std::string_view v) {
    impl_->BindBlob(i, v);
    return *this;
  }
  // Runs a statement that returns no rows.
  Status Run() { return impl_->Run(); }
  // Steps to the next row: true with a row, false at the end; errors in *status.
  bool Next(Status* status) { return impl_->Next(status); }
  int64_t Int(int col) const { return impl_->Int(col); }
  bool IsNull(int col) const { return impl_->IsNull(col); }
  std::string Text(int col) const { return impl_->Text(col); }
  // Ready to run again: bindings cleared, a kept bind error forgotten.
  void Reset() { impl_->Reset(); }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

class Database {
 public:
  // Opens (creating) a store database: a PostgreSQL server when `path` is a
  // postgresql:// (or postgres://) URI, else a SQLite file.
  static Result<std::unique_ptr<Database>> Open(const std::string& path);
  // The same for reading only: nothing is created or written.
  static Result<std::unique_ptr<Database>> OpenReadOnly(const std::string& path);

  virtual ~Database() = default;
  // Runs one or more statements without results (migration steps in
  // SQLite's DDL, which PostgreSQL's engine translates).
  virtual Status Exec(std::string_view sql) = 0;
  virtual Result<Statement> Prepare(std::string_view sql) = 0;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  virtual int Changes() = 0;
  // Opened for reading only: every write fails.
  virtual bool read_only() = 0;
  // A number that changes when anyone commits a change to the data.
  virtual Result<int64_t> DataVersion() = 0;
  // Starts a transaction that writes: SQLite's BEGIN IMMEDIATE (the write
  // lock at once), PostgreSQL's BEGIN.
  virtual Status Begin() = 0;
  // Held while the schema is migrated, so two processes opening a store at
  // once migrate it once (PostgreSQL: an advisory lock; SQLite: nothing,
  // each step's BEGIN IMMEDIATE serializes them).
  virtual Status LockSchema() = 0;
  virtual Status UnlockSchema() = 0;
  // "sqlite" or "postgresql", for messages.
  virtual const char* engine() const = 0;
};

// Begin() on construction; ROLLBACK unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Database* db) : db_(db), status_(db->Begin()) {}
  ~Transaction();
  const Status& status() const { return status_; }
  Status Commit();

 private:
  Database* db_;
  Status status_;
  bool done_ = false;
};

}  // namespace vigil::store
