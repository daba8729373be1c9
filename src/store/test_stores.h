// Test support: a store-reading function must give the same answers from
// every store; this runs a test against two of them.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "store/memory_store.h"
#include "store/store.h"

namespace vigil::store {

// Calls `test` with an empty memory store, then with an empty SQLite store
// in a file named after `name` in the test's temporary directory, which is
// removed afterwards with its -wal and -shm files (the store closed first).
inline void ForEachStore(const std::string& name, const std::function<void(Store&)>& test) {
  std::string file = ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid()) + ".db";
  auto remove = [&file] {
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((file + suffix).c_str());
  };
  remove();
  {
    SCOPED_TRACE("memory store");
    std::unique_ptr<Store> memory = NewMemoryStore();
    test(*memory);
  }
  {
    SCOPED_TRACE("SQLite store " + file);
    auto sqlite = Store::Open(file);
    ASSERT_TRUE(sqlite.ok()) << sqlite.status().ToString();
    test(**sqlite);
  }
  remove();
}

}  // namespace vigil::store
