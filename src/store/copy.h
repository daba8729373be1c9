// A whole store copied into another database (vigil migrate: a SQLite file
// to a PostgreSQL server, or back): every table's rows with their ids, in
// one transaction, then checked: both sides must have the same number of
// rows and the same checksum in every table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/sql.h"

namespace vigil::store {

struct TableSum {
  std::string table;
  int64_t rows = 0;
  uint64_t checksum = 0;  // FNV-1a over the rows in key order, each value typed and length-prefixed
};

// Every table of the schema (kSchemaVersion) with its row count and
// checksum, in the order CopyStore copies them.
Result<std::vector<TableSum>> TableSums(Database& db);

// The tables CopyStore copies and their columns, "name:kind" (I integer, T
// text, B bytes), in the order of the schema; for tests that hold them
// against the schema itself.
std::vector<std::pair<std::string, std::vector<std::string>>> CopiedTables();

// Copies the store `from` (brought to kSchemaVersion first, as any command
// does) into `to`, which must hold no vigil data (a new SQLite file, an
// empty PostgreSQL database or schema). Returns the source's sums, which
// the copy was checked to have too; Corruption naming the first table that
// differs otherwise.
Result<std::vector<TableSum>> CopyStore(const std::string& from, const std::string& to);

}  // namespace vigil::store
