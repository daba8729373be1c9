// The store's SQL on SQLite: Database and Statement (sql.h) over a file, in
// WAL mode with a busy timeout; errors come back as Status values.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "store/sql.h"

namespace vigil::store {

// Opens (creating) the database at `path`, in WAL mode with a busy timeout.
Result<std::unique_ptr<Database>> OpenSqlite(const std::string& path);
// Opens an existing database for reading only (SQLITE_OPEN_READONLY): it
// is never created, written or migrated; readers see what writers commit.
Result<std::unique_ptr<Database>> OpenSqliteReadOnly(const std::string& path);

}  // namespace vigil::store
