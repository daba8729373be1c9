// The name of a test or subtest across vigil: `COLLECTION:TEST[#N][:SUB > SUB]`.
// COLLECTION may contain '/', TEST is the program's name, #N names the Nth
// shard of a test split in vigil.toml (digits only: "a#b" is a plain name),
// and what follows the second colon is the subtest path, levels joined by
// " > " as the store keeps them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vigil::model {

class TestPath {
 public:
  TestPath() = default;
  TestPath(std::string collection, std::string test, std::string subtest = "");

  // Splits at the first two colons; a path without a colon has only a
  // collection-less test name (test() is the whole text).
  static TestPath Parse(std::string_view path);

  const std::string& collection() const { return collection_; }
  // The test as named in the plan, with its shard suffix: "mptcp_join.sh#2".
  const std::string& test() const { return test_; }
  const std::string& subtest() const { return subtest_; }
  bool has_collection() const { return has_collection_; }

  // 2 for "mptcp_join.sh#2"; nullopt for a whole test.
  std::optional<int> shard() const;
  // The test without its shard suffix.
  std::string test_base() const;

  // "COLLECTION:TEST" (no subtest).
  std::string TestId() const;
  // The test of the shard ("COLLECTION:TEST" without "#N"); TestId() when whole.
  std::string BaseTestId() const;
  // The whole path, subtest included.
  std::string ToString() const;
  // This test's subtest `name` below the current one ("a" -> "a > name").
  TestPath Child(std::string_view name) const;

  bool operator==(const TestPath&) const = default;

 private:
  std::string collection_;
  std::string test_;
  std::string subtest_;
  bool has_collection_ = true;
};

}  // namespace vigil::model
