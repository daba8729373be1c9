// libFuzzer target for known-issues.toml: whatever a user writes is parsed
// (toml++ and vigil's checks) and every entry is matched against a failure
// and a kernel report; nothing may crash. Kernel version strings of any shape
// go through the range matcher.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "judge/known_issues.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto k = vigil::judge::ParseKnownIssues(text, "fuzz.toml");
  if (!k.ok()) {
    if (k.status().message().empty()) abort();
    return 0;
  }
  vigil::model::Environment env;
  env.kernel_release = text.substr(0, 40);
  env.where = "vm";
  env.accel = "tcg";
  vigil::judge::KnownIssueMatcher m(k.value(), env, "2026-11-25");
  std::vector<vigil::model::CrashRecord> crashes = {
      {"WARNING", "WARNING in mptcp_subflow_create", false, "0123456789abcdef", "mptcp_subflow_create", ""}};
  (void)m.Match({"net/mptcp:mptcp_join.sh#2", "001 no JOIN", &crashes});
  (void)m.MatchCrash("net/mptcp:diag.sh", crashes[0]);
  (void)m.Expired();
  for (const auto& e : k->entries) {
    if (e.reason.empty() || e.match.empty()) abort();
    (void)vigil::judge::InRange(e.range, env.kernel_release);
  }
  return 0;
}
