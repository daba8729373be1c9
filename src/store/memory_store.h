// The in-memory backend of the store: the same reads as SQLite for the same
// writes (ids, order, NotFound messages, refusals), nothing persisted. A
// fake for the tests of whatever records or judges runs.
#pragma once

#include <memory>

#include "store/store.h"

namespace vigil::store {

// An empty store at kSchemaVersion; thread-safe like every Store.
std::unique_ptr<Store> NewMemoryStore();

}  // namespace vigil::store
