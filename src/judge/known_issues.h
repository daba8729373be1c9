// Known issues: failures that are understood and tracked elsewhere. A
// matching failure becomes KNOWN: shown everywhere, not counted in the
// verdict. known-issues.toml:
//
//   [[issue]]
//   match = "net/mptcp:mptcp_join.sh:*link failure*"  # COLLECTION:TEST[:SUBTEST] glob
//   reason = "netem missing on the CI hosts"           # required
//   link = "https://github.com/multipath-tcp/mptcp_net-next/issues/1"
//   kernel = ">=6.1, <6.7"      # release range (optional)
//   where = "vm"                # host | vm (optional)
//   accel = "tcg"               # kvm | tcg (optional)
//   crash = "WARNING in mptcp_*"  # only when a kernel report with this title came
//   fingerprint = "1f2e..."       # ... or with this fingerprint
//   expires = 2027-03-01        # after this day the entry warns and no longer matches
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/records.h"

namespace vigil::judge {

struct VersionBound {
  enum class Op { kLt, kLe, kGt, kGe, kEq } op;
  std::vector<int> version;
};

struct KnownIssue {
  std::string match;
  std::string reason;
  std::string link;
  std::string kernel;  // as written
  std::vector<VersionBound> range;
  std::string where, accel;
  std::string crash, fingerprint;
  std::string expires;  // YYYY-MM-DD, "" = never
  std::string where_defined;  // file:line
};

struct KnownIssues {
  std::vector<KnownIssue> entries;
  std::string source;
};

Result<KnownIssues> ParseKnownIssues(const std::string& text, const std::string& source);
Result<KnownIssues> LoadKnownIssues(const std::string& path);

// "6.12.57+deb13-amd64" -> {6, 12, 57}.
std::vector<int> ParseVersion(const std::string& release);
bool InRange(const std::vector<VersionBound>& range, const std::string& release);

// What a failure looks like to the matcher.
struct FailureKey {
  std::string test;     // COLLECTION:TEST (a shard TEST#N also matches TEST's entries)
  std::string subtest;  // "" for the test itself
  const std::vector<model::CrashRecord>* crashes = nullptr;  // the test's kernel reports
};

class KnownIssueMatcher {
 public:
  // `today` is YYYY-MM-DD: entries that expired before it do not match.
  KnownIssueMatcher(const KnownIssues& issues, const model::Environment& env, std::string today);
  // The entry that explains this failure, or null.
  const KnownIssue* Match(const FailureKey& f) const;
  // The entry that explains this kernel report (only entries with crash= or
  // fingerprint= do), or null.
  const KnownIssue* MatchCrash(const std::string& test, const model::CrashRecord& c) const;
  // Entries past their expiry date.
  std::vector<const KnownIssue*> Expired() const;

 private:
  bool Applies(const KnownIssue& k) const;
  bool PathMatches(const KnownIssue& k, const std::string& test, const std::string& subtest) const;
  bool CrashMatches(const KnownIssue& k, const model::CrashRecord& c) const;
  const KnownIssues& issues_;
  const model::Environment& env_;
  std::string today_;
};


}  // namespace vigil::judge
