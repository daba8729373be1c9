#include "store/sql.h"

#include "store/postgres.h"
#include "store/sqlite.h"

namespace vigil::store {

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  if (IsPostgresUri(path)) return OpenPostgres(path, false);
  return OpenSqlite(path);
}

Result<std::unique_ptr<Database>> Database::OpenReadOnly(const std::string& path) {
  if (IsPostgresUri(path)) return OpenPostgres(path, true);
  return OpenSqliteReadOnly(path);
}

Transaction::~Transaction() {
  // A failed ROLLBACK has no one to tell: the engine rolls the transaction
  // back itself when the connection closes, and the caller already has the
  // error that made it give up.
  if (!done_ && status_.ok()) (void)db_->Exec("ROLLBACK");
}

Status Transaction::Commit() {
  if (!status_.ok()) return status_;
  Status s = db_->Exec("COMMIT");
  done_ = s.ok();  // a COMMIT that failed (busy) leaves the transaction open: roll it back
  return s;
}

}  // namespace vigil::store
