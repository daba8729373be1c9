#include "store/sqlite.h"

#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include <fmt/format.h>

namespace vigil::store {

namespace {

// Why `path` could not be opened: the system's reason when SQLite had one,
// a directory named as one, else SQLite's words.
std::string WhyNot(sqlite3* db, int rc, const std::string& path) {
  struct stat st {};
  bool exists = stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) return std::strerror(EISDIR);
  std::string words = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  // A new file in a directory this process cannot write to: SQLite's last
  // errno is from its read-only retry, so look at the directory itself.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  if (!exists && access(dir.c_str(), W_OK) != 0) return fmt::format("{}: {} ({})", dir, std::strerror(errno), words);
  if (exists && (access(path.c_str(), W_OK) != 0 || access(dir.c_str(), W_OK) != 0)) {
    return fmt::format("{} or its directory is not writable: {} ({})", path, std::strerror(errno), words);
  }
  int sys = db ? sqlite3_system_errno(db) : 0;
  if (sys != 0) return fmt::format("{} ({})", std::strerror(sys), words);
  return words;
}

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3_stmt* s, sqlite3* db) : stmt_(s), db_(db) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  void Bind(int i, int64_t v) override { Check(sqlite3_bind_int64(stmt_, i, v), i); }
  void Bind(int i, std::string_view v) override {
    Check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT), i);
  }
  void BindNull(int i) override { Check(sqlite3_bind_null(stmt_, i), i); }
  void BindBlob(int i, std::string_view v) override {
    Check(sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT), i);
  }
  Status Run() override {
    if (!bind_status_.ok()) return bind_status_;
    int rc = sqlite3_step(stmt_);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      return Status::IOError(fmt::format("sqlite: {}", sqlite3_errmsg(db_)));
    }
    return Status::OK();
  }
  bool Next(Status* status) override {
    if (!bind_status_.ok()) {
      *status = bind_status_;
      return false;
    }
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) *status = Status::IOError(fmt::format("sqlite: {}", sqlite3_errmsg(db_)));
    return false;
  }
  int64_t Int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const override {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(n)) : std::string();
  }
  void Reset() override {
    // sqlite3_reset repeats the error of the last step, which Run or Next
    // reported already.
    (void)sqlite3_reset(stmt_);
    (void)sqlite3_clear_bindings(stmt_);
    bind_status_ = Status::OK();
  }

 private:
  // A failed bind (out of range, too big) is kept and returned by the next
  // Run or Next.
  void Check(int rc, int i) {
    if (rc != SQLITE_OK && bind_status_.ok()) {
      bind_status_ = Status::Internal(fmt::format("sqlite bind of parameter {}: {}", i, sqlite3_errmsg(db_)));
    }
  }
  sqlite3_stmt* stmt_;
  sqlite3* db_;
  Status bind_status_;
};

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  ~SqliteDatabase() override { sqlite3_close(db_); }

  Status Exec(std::string_view sql) override {
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
  Result<Statement> Prepare(std::string_view sql) override {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
    if (rc != SQLITE_OK) return Status::Internal(fmt::format("sqlite prepare: {}", sqlite3_errmsg(db_)));
    return Statement(std::make_unique<SqliteStatement>(s, db_));
  }
  int Changes() override { return sqlite3_changes(db_); }
  bool read_only() override { return sqlite3_db_readonly(db_, "main") == 1; }
  Result<int64_t> DataVersion() override {
    // Changes when another connection commits; with total_changes() this
    // connection's own writes count too.
    auto q = Prepare("PRAGMA data_version");
    if (!q.ok()) return q.status();
    Status st;
    if (!q->Next(&st)) return st.ok() ? Status::Internal("PRAGMA data_version returned no row") : st;
    return q->Int(0) * 1'000'000'007LL + sqlite3_total_changes(db_);
  }
  Status Begin() override { return Exec("BEGIN IMMEDIATE"); }
  Status LockSchema() override { return Status::OK(); }
  Status UnlockSchema() override { return Status::OK(); }
  const char* engine() const override { return "sqlite"; }

 private:
  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = WhyNot(db, rc, path);
    sqlite3_close(db);
    return Status::IOError(fmt::format("cannot open the store {}: {}", path, msg));
  }
  sqlite3_busy_timeout(db, 10000);
  std::unique_ptr<Database> d(new SqliteDatabase(db));
  // WAL: a crash or kill -9 loses nothing that was committed; readers don't
  // block the runner. synchronous=NORMAL is durable across process crashes.
  // (The first statement is where a file that cannot be created or read fails.)
  char* err = nullptr;
  rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", nullptr,
                    nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = WhyNot(db, rc, path);
    sqlite3_free(err);
    return Status::IOError(fmt::format("cannot open the store {}: {}", path, msg));
  }
  return d;
}

Result<std::unique_ptr<Database>> OpenSqliteReadOnly(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    int sys = db ? sqlite3_system_errno(db) : 0;
    std::string msg = sys != 0 ? std::strerror(sys) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::IOError(fmt::format("cannot open the store {}: {}", path, msg));
  }
  sqlite3_busy_timeout(db, 10000);
  std::unique_ptr<Database> d(new SqliteDatabase(db));
  // The first read is where a file that is not a database fails.
  char* err = nullptr;
  rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return Status::IOError(fmt::format("cannot read the store {}: {}", path, msg));
  }
  return d;
}

}  // namespace vigil::store
