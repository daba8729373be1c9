// vigil.toml: scheduling classes and per-test settings for a test tree.
//
//   [[class]]                       # tests that share something
//   match = "net/packetdrill:*"     # glob on COLLECTION:TEST
//   max_parallel = 2                # at most this many at once
//
//   [[class]]
//   match = "net/mptcp:mptcp_join.sh"
//   serial = true                   # runs alone
//
//   [[test]]
//   match = "net/mptcp:simult_flows.sh"
//   timeout = 600                   # seconds, replaces the settings file's
//   retries = 2                     # replaces --retries
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace vigil::runner {

struct ClassRule {
  std::string match;
  int max_parallel = 0;  // 0: no limit
  bool serial = false;
};

struct TestRule {
  std::string match;
  std::optional<int> timeout_s;
  std::optional<int> retries;
  // Split the test into parts run as tests of their own, each with these
  // arguments (e.g. mptcp_join.sh's test groups: "-f -e -s"); named TEST#1..N.
  std::vector<std::string> shards;
};

struct RunConfig {
  std::vector<ClassRule> classes;
  std::vector<TestRule> tests;
  std::string source;  // the file it came from, "" when none

  // The first test rule matching `path`, if any.
  const TestRule* RuleFor(const std::string& path) const;
};

// Parses a vigil.toml; unknown keys and wrong types are errors, with the
// file and line.
Result<RunConfig> ParseConfig(const std::string& text, const std::string& source);
Result<RunConfig> LoadConfig(const std::string& path);

bool GlobMatch(const std::string& pattern, const std::string& path);

}  // namespace vigil::runner
