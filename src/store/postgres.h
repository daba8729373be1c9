// The store's SQL on a PostgreSQL server, through libpq: Database and
// Statement as sql.h has them. Every TEXT and BLOB column is BYTEA there
// (test names and logs are any bytes: NULs and invalid UTF-8 included, which
// PostgreSQL's text refuses; BYTEA orders bytewise, as SQLite's BINARY
// does), INTEGER is BIGINT and `id INTEGER PRIMARY KEY` an identity column:
// the migrations' SQLite DDL is translated as it is run (TranslateSchema).
// Parameters (?N) become $k; integers go as int8, strings and blobs as bytea.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/sql.h"

namespace vigil::store {

// postgresql://... or postgres://... (a libpq connection URI).
bool IsPostgresUri(std::string_view path);
// The URI without its password (user:secret@ -> user:***@, password=...).
std::string RedactUri(std::string_view uri);
// A store's --db as messages show it: a path as it is, a URI redacted.
std::string ShownPath(const std::string& path);

// Through vigil-net.so (sys/net_module.h), loaded on the first call.
Result<std::unique_ptr<Database>> OpenPostgres(const std::string& uri, bool read_only);

// SQLite's DDL as PostgreSQL takes it (exposed for tests): the statements
// of `sql` one by one, and all of them joined with ";\n".
std::vector<std::string> TranslateStatements(std::string_view sql);
std::string TranslateSchema(std::string_view sql);
// ?N and ? placeholders as $k, numbered by first use; `param_of[k-1]` is the
// ?N that $k stands for. Quoted text is left alone.
std::string TranslatePlaceholders(std::string_view sql, std::vector<int>* param_of);

}  // namespace vigil::store
