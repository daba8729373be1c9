// The store's Database on PostgreSQL through libpq, in vigil-net.so
// (sys/net_module.h); store/postgres.cc has the rest.
#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "base/hash.h"
#include "store/postgres.h"

namespace vigil::store {
namespace {

constexpr Oid kInt8 = 20;
constexpr Oid kBytea = 17;

// Rows of a finished command, or its error as a Status.
Status Check(PGconn* conn, PGresult* r) {
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Status::OK();
  std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (msg.rfind("ERROR:  ", 0) == 0) msg = msg.substr(8);
  return Status::IOError(fmt::format("postgresql: {}{}", msg, state ? fmt::format(" (SQLSTATE {})", state) : ""));
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

class PgDatabase;

class PgStatement final : public StatementImpl {
 public:
  PgStatement(PgDatabase* db, std::string sql, std::vector<int> param_of)
      : db_(db), sql_(std::move(sql)), param_of_(std::move(param_of)) {
    values_.resize(param_of_.size());
    types_.assign(param_of_.size(), 0);
  }
  void Bind(int i, int64_t v) override { Set(i, std::to_string(v), kInt8); }
  void Bind(int i, std::string_view v) override { Set(i, std::string(v), kBytea); }
  void BindBlob(int i, std::string_view v) override { Set(i, std::string(v), kBytea); }
  // A NULL of no type: the server infers it from where it stands.
  void BindNull(int i) override { Set(i, std::nullopt, 0); }
  Status Run() override {
    Status s = Execute();
    result_.reset();
    return s;
  }
  bool Next(Status* status) override {
    if (!result_) {
      Status s = Execute();
      if (!s.ok()) {
        *status = s;
        return false;
      }
      row_ = -1;
    }
    if (++row_ < PQntuples(result_.get())) return true;
    return false;
  }
  int64_t Int(int col) const override {
    if (PQgetisnull(result_.get(), row_, col)) return 0;
    return std::strtoll(PQgetvalue(result_.get(), row_, col), nullptr, 10);
  }
  bool IsNull(int col) const override { return PQgetisnull(result_.get(), row_, col) != 0; }
  std::string Text(int col) const override {
    if (PQgetisnull(result_.get(), row_, col)) return "";
    const char* v = PQgetvalue(result_.get(), row_, col);
    int n = PQgetlength(result_.get(), row_, col);
    if (PQftype(result_.get(), col) != kBytea) return std::string(v, static_cast<size_t>(n));
    return Unhex(std::string_view(v, static_cast<size_t>(n)));
  }
  void Reset() override {
    result_.reset();
    for (auto& v : values_) v.reset();
    std::fill(types_.begin(), types_.end(), 0);
  }

 private:
  // Every $k that stands for ?i (a numbered parameter may appear twice).
  void Set(int i, const std::optional<std::string>& v, Oid type) {
    for (size_t k = 0; k < param_of_.size(); ++k) {
      if (param_of_[k] == i) {
        values_[k] = v;
        types_[k] = type;
      }
    }
  }
  static std::string Unhex(std::string_view v) {
    // bytea_output = hex: \x then two digits a byte.
    if (v.size() < 2 || v[0] != '\\' || v[1] != 'x') return std::string(v);
    auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
    std::string out;
    out.reserve((v.size() - 2) / 2);
    for (size_t i = 2; i + 1 < v.size(); i += 2) out.push_back(static_cast<char>(digit(v[i]) << 4 | digit(v[i + 1])));
    return out;
  }
  Status Execute();

  PgDatabase* db_;
  std::string sql_;
  std::vector<int> param_of_;
  std::vector<std::optional<std::string>> values_;
  std::vector<Oid> types_;
  ResultPtr result_;
  int row_ = -1;
};

class PgDatabase final : public Database {
 public:
  PgDatabase(PGconn* conn, bool read_only) : conn_(conn), read_only_(read_only) {}
  ~PgDatabase() override { PQfinish(conn_); }

  Status Exec(std::string_view sql) override {
    for (const std::string& text : TranslateStatements(sql)) {
      ResultPtr r(PQexec(conn_, text.c_str()));
      Status s = Check(conn_, r.get());
      if (!s.ok()) return s;
      // A COMMIT of a transaction a statement failed in rolls it back, and
      // says so only here.
      if (text == "COMMIT" && std::string_view(PQcmdStatus(r.get())) == "ROLLBACK") {
        return Status::IOError("postgresql: the transaction was rolled back");
      }
      Count(r.get());
    }
    return Status::OK();
  }
  Result<Statement> Prepare(std::string_view sql) override {
    std::vector<int> param_of;
    std::string text = TranslatePlaceholders(sql, &param_of);
    return Statement(std::make_unique<PgStatement>(this, std::move(text), std::move(param_of)));
  }
  int Changes() override { return changes_; }
  bool read_only() override { return read_only_; }
  Result<int64_t> DataVersion() override {
    // The snapshot a new statement would take: it moves whenever a
    // transaction that wrote (here or in another database of the server)
    // commits, and pure reads assign no transaction id.
    ResultPtr r(PQexec(conn_, "SELECT pg_current_snapshot()::text"));
    Status s = Check(conn_, r.get());
    if (!s.ok()) return s;
    if (PQntuples(r.get()) != 1) return Status::Internal("postgresql: no snapshot");
    return static_cast<int64_t>(Fnv1a(PQgetvalue(r.get(), 0, 0)) & 0x7fffffffffffffffULL);
  }
  Status Begin() override { return Exec("BEGIN"); }
  // Any number of this database's own: vigil's schema.
  Status LockSchema() override { return Exec("SELECT pg_advisory_lock(1986618732)"); }
  Status UnlockSchema() override { return Exec("SELECT pg_advisory_unlock(1986618732)"); }
  const char* engine() const override { return "postgresql"; }

  PGconn* conn() { return conn_; }

  // The name of `sql` prepared on this connection for parameters of
  // `types`, prepared at its second run: a text run once (one whose ids are
  // written into it) is not worth a statement kept on the server and a
  // second round trip. "" when the statement runs unprepared (its first
  // run, or kMaxPrepared are). A statement that cannot be prepared gives
  // the server's error, as running it would.
  Result<std::string> Prepared(const std::string& sql, const std::vector<Oid>& types) {
    if (!prepare_) return std::string();
    std::string key(reinterpret_cast<const char*>(types.data()), types.size() * sizeof(Oid));
    key += '\0';
    key += sql;
    if (auto it = prepared_.find(key); it != prepared_.end()) return it->second;
    if (prepared_.size() >= kMaxPrepared) return std::string();
    if (seen_once_.size() >= kMaxSeen) seen_once_.clear();
    if (seen_once_.insert(Fnv1a(key)).second) return std::string();
    std::string name = fmt::format("vigil_{}", prepared_.size() + 1);
    ResultPtr r(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(types.size()), types.data()));
    Status s = Check(conn_, r.get());
    if (!s.ok()) return s;
    prepared_.emplace(std::move(key), name);
    return name;
  }
  // The connection lost its prepared statements (a pooler that hands each
  // transaction another server connection, or DISCARD ALL): statements
  // are run unprepared from now on.
  void LostPrepared() {
    prepared_.clear();
    seen_once_.clear();
    prepare_ = false;
  }
  void Count(PGresult* r) {
    const char* n = PQcmdTuples(r);
    changes_ = n && *n ? std::atoi(n) : 0;
  }

 private:
  // vigil's statements are a few hundred texts; those built with a varying
  // number of parameters could make more.
  static constexpr size_t kMaxPrepared = 1000;
  static constexpr size_t kMaxSeen = 100000;
  PGconn* conn_;
  bool read_only_;
  int changes_ = 0;
  std::unordered_map<std::string, std::string> prepared_;  // types and text -> name
  std::unordered_set<uint64_t> seen_once_;                 // hashes of those run once, unprepared
  bool prepare_ = true;
};

Status PgStatement::Execute() {
  std::vector<const char*> values(values_.size());
  std::vector<int> lengths(values_.size()), formats(values_.size());
  for (size_t k = 0; k < values_.size(); ++k) {
    values[k] = values_[k] ? values_[k]->data() : nullptr;
    lengths[k] = values_[k] ? static_cast<int>(values_[k]->size()) : 0;
    formats[k] = types_[k] == kBytea ? 1 : 0;  // bytes as they are; numbers as text
  }
  auto unprepared = [&] {
    result_.reset(PQexecParams(db_->conn(), sql_.c_str(), static_cast<int>(values.size()), types_.data(),
                               values.data(), lengths.data(), formats.data(), 0));
  };
  // A text run again is prepared on its connection (PgDatabase::Prepared):
  // the server parses and plans it once, not at every run.
  auto name = db_->Prepared(sql_, types_);
  if (!name.ok()) return name.status();
  if (name->empty()) {
    unprepared();
  } else {
    result_.reset(PQexecPrepared(db_->conn(), name->c_str(), static_cast<int>(values.size()), values.data(),
                                 lengths.data(), formats.data(), 0));
    const char* state = result_ ? PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (state && std::string_view(state) == "26000") {
      // The statement is gone from the connection. Outside a transaction
      // it runs again unprepared; inside one the failure aborted it, and
      // the error says why.
      db_->LostPrepared();
      if (PQtransactionStatus(db_->conn()) == PQTRANS_IDLE) {
        unprepared();
      } else {
        Status lost = Check(db_->conn(), result_.get());
        result_.reset();
        return Status::IOError(lost.message() +
                               ": the connection lost vigil's prepared statements (a pooler in transaction mode that "
                               "does not keep them?); they are no longer used on it");
      }
    }
  }
  Status s = Check(db_->conn(), result_.get());
  if (!s.ok()) {
    result_.reset();
    return s;
  }
  db_->Count(result_.get());
  return Status::OK();
}

void IgnoreNotice(void*, const char*) {}

Result<std::unique_ptr<Database>> OpenWithLibpq(const std::string& uri, bool read_only) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (!conn) return Status::IOError(fmt::format("cannot open the store {}: out of memory", RedactUri(uri)));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    // One line: libpq's hints come on lines of their own.
    for (char& c : msg) {
      if (c == '\n' || c == '\t') c = ' ';
    }
    while (!msg.empty() && msg.back() == ' ') msg.pop_back();
    for (size_t p; (p = msg.find("  ")) != std::string::npos;) msg.erase(p, 1);
    return Status::IOError(fmt::format("cannot open the store {}: {}", RedactUri(uri), msg));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  auto db = std::make_unique<PgDatabase>(conn, read_only);
  // bytea comes back as hex; a lock held by another writer is waited for
  // 10 s, as SQLite's busy timeout; a reader's every transaction is
  // read-only.
  Status s = db->Exec("SET bytea_output = 'hex'; SET lock_timeout = '10s'");
  if (s.ok() && read_only) s = db->Exec("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY");
  if (!s.ok()) return Status::IOError(fmt::format("cannot open the store {}: {}", RedactUri(uri), s.message()));
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace
}  // namespace vigil::store

// The module's entry point behind store::OpenPostgres.
extern "C" void vigil_net_open_postgres(const std::string& uri, bool read_only,
                                        vigil::Result<std::unique_ptr<vigil::store::Database>>* out) {
  *out = vigil::store::OpenWithLibpq(uri, read_only);
}
