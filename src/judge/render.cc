#include "judge/render.h"

#include <fmt/format.h>

#include "base/text.h"

namespace vigil::judge {
namespace {

// A path stays the test's bytes: the dashboard links to the test with them
// (DumpJson writes an invalid byte as U+FFFD, as for every string).
nlohmann::json Items(const std::vector<VerdictItem>& items) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& i : items) {
    a.push_back({{"path", i.path}, {"status", i.status}, {"detail", vigil::SanitizeUtf8(i.detail)}});
  }
  return a;
}

nlohmann::json Crashes(const std::vector<CrashItem>& items) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& c : items) {
    a.push_back({{"test", c.test},
                 {"type", c.type},
                 {"title", vigil::SanitizeUtf8(c.title)},
                 {"fingerprint", c.fingerprint},
                 {"fatal", c.fatal},
                 {"detail", vigil::SanitizeUtf8(c.detail)}});
  }
  return a;
}

void Section(std::string* out, const char* title, const std::vector<VerdictItem>& items, size_t max = 50) {
  if (items.empty()) return;
  *out += fmt::format("{} ({}):\n", title, items.size());
  for (size_t i = 0; i < items.size() && i < max; ++i) {
    const auto& it = items[i];
    *out += fmt::format("  [{}] {}{}\n", it.status, vigil::SanitizeForTerminal(it.path),
                        it.detail.empty() ? "" : " - " + vigil::SanitizeForTerminal(it.detail));
  }
  if (items.size() > max) *out += fmt::format("  ... {} more\n", items.size() - max);
}

void CrashSection(std::string* out, const char* title, const std::vector<CrashItem>& items) {
  if (items.empty()) return;
  *out += fmt::format("{} ({}):\n", title, items.size());
  for (const auto& c : items) {
    *out += fmt::format("  {}{} in {} [{}]{}\n", vigil::SanitizeForTerminal(c.title), c.fatal ? " (fatal)" : "",
                        vigil::SanitizeForTerminal(c.test), c.fingerprint, c.detail.empty() ? "" : " - " + vigil::SanitizeForTerminal(c.detail));
  }
}

}  // namespace

nlohmann::json VerdictJson(const Verdict& v) {
  nlohmann::json warnings = nlohmann::json::array();
  for (const auto& w : v.warnings) warnings.push_back(vigil::SanitizeUtf8(w));
  return {{"format_version", 1},
          {"run_id", v.run_id},
          {"baseline", v.baseline_id ? nlohmann::json(v.baseline_id) : nlohmann::json(nullptr)},
          {"verdict", LevelName(v.level)},
          {"exit_code", ExitCode(v.level)},
          {"conclusion", vigil::SanitizeUtf8(v.conclusion)},
          {"tests", v.tests},
          {"failures", Items(v.failures)},
          {"crashes", Crashes(v.crashes)},
          {"known", Items(v.known)},
          {"known_crashes", Crashes(v.known_crashes)},
          {"quarantined", Items(v.quarantined)},
          {"preexisting", Items(v.preexisting)},
          {"flaky", Items(v.flaky)},
          {"skipped_by_accident", Items(v.skipped_by_accident)},
          {"missing", Items(v.missing)},
          {"warnings", warnings}};
}

std::string VerdictText(const Verdict& v) {
  std::string out;
  CrashSection(&out, "kernel crashes", v.crashes);
  Section(&out, "failures", v.failures);
  Section(&out, "skipped by accident", v.skipped_by_accident);
  Section(&out, "never ran", v.missing);
  Section(&out, "known issues (not counted)", v.known);
  CrashSection(&out, "known kernel reports (not counted)", v.known_crashes);
  Section(&out, "quarantined (not counted)", v.quarantined);
  if (v.baseline_id) Section(&out, fmt::format("failing in baseline run {} too (not counted)", v.baseline_id).c_str(), v.preexisting);
  Section(&out, "flaky (passed on a retry)", v.flaky);
  for (const auto& w : v.warnings) out += "warning: " + vigil::SanitizeForTerminal(w) + "\n";
  out += vigil::SanitizeForTerminal(v.conclusion) + "\n";
  return out;
}

}  // namespace vigil::judge
