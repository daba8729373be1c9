#include "report/run_report.h"

#include <functional>

#include <fmt/format.h>

#include "base/json.h"
#include "base/text.h"
#include "judge/outcome.h"
#include "judge/render.h"
#include "model/status.h"
#include "model/test_path.h"
#include "report/reports.h"
#include "runner/test_plan.h"
#include "runner/test_run.h"
#include "sys/wait_status.h"

namespace vigil::report {
namespace {

using judge::FailingLeaves;
using judge::FinalStatus;
using judge::StatusOf;

// Failures the verdict does not count say why in their directive text.
void MarkJudged(const judge::Verdict& v, ktap::TestNode* root) {
  std::map<std::string, std::string> notes;
  for (const auto& k : v.known) notes[k.path] = "KNOWN: " + k.detail;
  for (const auto& q : v.quarantined) notes[q.path] = "QUARANTINED: " + q.detail;
  for (const auto& p : v.preexisting) notes[p.path] = "PRE-EXISTING: " + p.detail;
  if (notes.empty()) return;
  std::function<void(ktap::TestNode*, const model::TestPath&)> walk = [&](ktap::TestNode* n,
                                                                         const model::TestPath& path) {
    auto it = notes.find(path.ToString());
    if (it != notes.end()) n->directive_text = it->second + (n->directive_text.empty() ? "" : "; " + n->directive_text);
    for (auto& c : n->subtests) walk(&c, path.Child(c.name));
  };
  for (auto& top : root->subtests) {
    // The runner names a test "selftests: COLLECTION: TEST".
    std::string name = top.name;
    if (name.rfind("selftests: ", 0) == 0) name = name.substr(11);
    size_t sep = name.find(": ");
    if (sep == std::string::npos) continue;
    walk(&top, model::TestPath(name.substr(0, sep), name.substr(sep + 2)));
  }
}

nlohmann::json CrashJson(const model::CrashRecord& c) {
  return {{"type", c.type},
          {"title", SanitizeUtf8(c.title)},
          {"fatal", c.fatal},
          {"fingerprint", c.fingerprint}};
}

// The hint under a failure: the run's own command and `-t TEST`, each word
// shell-quoted (a name like `x$(touch PWNED).sh` is a word, not a command).
std::string RerunHint(const FinishedRun& run, const std::string& path) {
  std::vector<std::string> argv = run.rerun;
  if (argv.empty()) argv = {"vigil", "run", "--tests", run.tests_dir};
  argv.insert(argv.end(), {"-t", path});
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + ShellQuote(a);
  return out;
}

// The last `n` lines of `text`, found from its end: the output can be 16 MiB
// of short lines. A serial console's CR before each newline is part of the
// line end, not of the line.
std::vector<std::string_view> LastLines(std::string_view text, size_t n) {
  std::vector<std::string_view> out;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  auto keep = [&out](std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
  };
  while (out.size() < n && !text.empty()) {
    size_t nl = text.rfind('\n');
    if (nl == std::string_view::npos) {
      keep(text);
      break;
    }
    keep(text.substr(nl + 1));
    text = text.substr(0, nl);
  }
  return {out.rbegin(), out.rend()};
}

}  // namespace

std::vector<std::string> CrashExcerpt(const model::CrashRecord& crash, size_t max_frames) {
  std::vector<std::string> out;
  out.push_back(crash.title.empty() ? crash.type : crash.title);
  bool in_trace = false;
  size_t frames = 0;
  ForEachLine(crash.text, [&](std::string_view line) {
    if (frames >= max_frames) return;
    // Console prefixes ("[   1.234] ", "<4>") come before the text.
    size_t at = line.find("Call Trace:");
    if (at == std::string_view::npos) at = line.find("Call trace:");
    if (at != std::string_view::npos) {
      in_trace = true;
      out.emplace_back(line.substr(at));
      return;
    }
    if (!in_trace) return;
    std::string_view t = line;
    size_t ts = t.find("] ");
    if (!t.empty() && t.front() == '[' && ts != std::string_view::npos) t.remove_prefix(ts + 2);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    // The trace ends where the registers or the end marker start.
    if (t.empty() || t.rfind("RIP:", 0) == 0 || t.rfind("RSP:", 0) == 0 || t.rfind("Modules linked in", 0) == 0 ||
        t.rfind("---[ end", 0) == 0 || t.rfind("</TASK>", 0) == 0) {
      if (t.rfind("</TASK>", 0) == 0 || t.rfind("---[ end", 0) == 0 || t.rfind("Modules", 0) == 0) in_trace = false;
      return;
    }
    if (t.rfind("<TASK>", 0) == 0 || t.rfind("<IRQ>", 0) == 0 || t.rfind("</IRQ>", 0) == 0) return;
    out.emplace_back("  " + std::string(t));
    ++frames;
  });
  if (frames == 0) {
    // No call trace: the first lines of the report say what happened.
    size_t n = 0;
    ForEachLine(crash.text, [&](std::string_view line) {
      if (n++ < 6) out.emplace_back(line);
    });
  }
  return out;
}

RunCounts CountResults(const std::vector<model::TestResult>& results) {
  RunCounts c;
  for (const auto& r : results) {
    std::string st = FinalStatus(r.attempts);
    if (model::ParseStatus(st) == model::TestStatus::kFlaky) {
      ++c.flaky;
    } else {
      c.counts.Add(StatusOf(st));
    }
  }
  c.aggregate = c.counts.Aggregate();
  if (c.aggregate == ktap::Status::kNoTests && c.flaky > 0) c.aggregate = ktap::Status::kPass;
  return c;
}

nlohmann::json AttemptJson(const model::AttemptRecord& a) {
  nlohmann::json subtests = nlohmann::json::array();
  for (const auto& s : a.subtests) {
    nlohmann::json j = {{"name", SanitizeUtf8(s.path)}, {"status", s.status}};
    if (s.duration_ms) j["duration_ms"] = *s.duration_ms;
    subtests.push_back(std::move(j));
  }
  nlohmann::json crashes = nlohmann::json::array();
  for (const auto& c : a.crashes) {
    nlohmann::json j = CrashJson(c);
    j["guilty"] = SanitizeUtf8(c.guilty);
    crashes.push_back(std::move(j));
  }
  return {{"attempt", a.attempt},
          {"status", a.status},
          {"crashes", crashes},
          {"exit_code", a.exit_code ? nlohmann::json(*a.exit_code) : nlohmann::json(nullptr)},
          {"signal", a.signal},
          {"timed_out", a.timed_out},
          {"duration_ms", a.duration_ms},
          {"started_at", a.started_at},
          {"output_bytes", a.output_bytes},
          {"subtests", subtests},
          {"subtests_dropped", a.subtests_dropped},
          {"interrupted", a.interrupted}};
}

std::string RunJson(const FinishedRun& run) {
  nlohmann::json tests = nlohmann::json::array();
  for (const auto& r : run.results) {
    if (r.attempts.empty()) continue;
    const model::AttemptRecord& last = r.attempts.back();
    nlohmann::json attempts = nlohmann::json::array();
    for (const auto& a : r.attempts) attempts.push_back(AttemptJson(a));
    nlohmann::json subtests = nlohmann::json::array();
    for (const auto& s : judge::SubtestVerdicts(r.attempts)) {
      subtests.push_back({{"name", SanitizeUtf8(s.path)}, {"status", s.status}});
    }
    nlohmann::json env = nlohmann::json::array();
    for (const auto& e : last.environment_issues) env.push_back(SanitizeUtf8(e));
    nlohmann::json crashes = nlohmann::json::array();
    for (const auto& a : r.attempts) {
      for (const auto& c : a.crashes) {
        nlohmann::json j = CrashJson(c);
        j["attempt"] = a.attempt;
        crashes.push_back(std::move(j));
      }
    }
    tests.push_back({{"path", r.path},
                     {"status", FinalStatus(r.attempts)},
                     {"crashes", crashes},
                     {"exit_code", last.exit_code ? nlohmann::json(*last.exit_code) : nlohmann::json(nullptr)},
                     {"duration_ms", last.duration_ms},
                     {"attempts", attempts},
                     {"subtests", subtests},
                     // Subtests beyond the cap, counted in the status, not kept.
                     {"truncated", last.subtests_dropped > 0},
                     {"subtests_dropped", last.subtests_dropped},
                     {"environment_issues", env}});
  }
  nlohmann::json j = {{"format_version", 1}, {"run_id", run.run_id}, {"status", run.status}, {"tests", tests}};
  if (!run.console_log.empty()) j["console_log"] = run.console_log;
  if (run.status == kInterruptedRunStatus) {
    j["interrupted"] = {{"tests", run.interrupted_tests}, {"not_started", run.not_started}};
  }
  if (run.verdict) j["verdict"] = judge::VerdictJson(*run.verdict);
  return DumpJson(j) + "\n";
}

std::string RunnerLog(const FinishedRun& run) { return ToKtap(RunDocument(run)); }

std::string RunJunit(const FinishedRun& run) {
  ktap::Document doc = RunDocument(run);
  if (run.verdict) MarkJudged(*run.verdict, &doc.root);
  return ToJunit(doc);
}

std::string GithubSummary(const FinishedRun& run) {
  const judge::Verdict* verdict = run.verdict ? &*run.verdict : nullptr;
  std::map<std::string, int> by_status;
  for (const auto& r : run.results) ++by_status[FinalStatus(r.attempts)];
  std::string md = fmt::format("### vigil run {}: {}\n\n", run.run_id, run.status);
  if (verdict) {
    md += fmt::format("**{}**\n\n", EscapeMarkdown(verdict->conclusion));
    if (!verdict->known.empty() || !verdict->known_crashes.empty()) {
      md += "#### KNOWN (matched a known issue, not counted)\n\n";
      for (size_t i = 0; i < verdict->known.size() && i < 50; ++i) {
        md += fmt::format("- {} {}\n", MarkdownCode(verdict->known[i].path), EscapeMarkdown(verdict->known[i].detail));
      }
      if (verdict->known.size() > 50) md += fmt::format("- ... {} more\n", verdict->known.size() - 50);
      // A storm of one known warning can bring thousands: GitHub drops a
      // summary over 1 MiB whole.
      for (size_t i = 0; i < verdict->known_crashes.size() && i < 50; ++i) {
        const auto& c = verdict->known_crashes[i];
        md += fmt::format("- {} in {} {}\n", MarkdownCode(c.title), MarkdownCode(c.test), EscapeMarkdown(c.detail));
      }
      if (verdict->known_crashes.size() > 50) {
        md += fmt::format("- ... {} more kernel reports\n", verdict->known_crashes.size() - 50);
      }
      md += "\n";
    }
    if (!verdict->quarantined.empty()) {
      md += "#### Quarantined (flaky, not counted)\n\n";
      for (size_t i = 0; i < verdict->quarantined.size() && i < 50; ++i) {
        md += fmt::format("- {} {}\n", MarkdownCode(verdict->quarantined[i].path),
                          EscapeMarkdown(verdict->quarantined[i].detail));
      }
      if (verdict->quarantined.size() > 50) md += fmt::format("- ... {} more\n", verdict->quarantined.size() - 50);
      md += "\n";
    }
    for (size_t i = 0; i < verdict->warnings.size() && i < 20; ++i) {
      md += "> warning: " + EscapeMarkdown(verdict->warnings[i]) + "\n";
    }
    if (verdict->warnings.size() > 20) md += fmt::format("> ... {} more warnings\n", verdict->warnings.size() - 20);
    if (!verdict->warnings.empty()) md += "\n";
  }
  md += "| status | tests |\n|---|---|\n";
  for (const auto& [st, n] : by_status) md += fmt::format("| {} | {} |\n", st, n);
  bool header = false;
  for (const auto& r : run.results) {
    std::string st = FinalStatus(r.attempts);
    model::TestStatus status = model::ParseStatus(st);
    bool flaky = status == model::TestStatus::kFlaky;
    if (!model::IsFailure(status) && !flaky) continue;
    if (!header) {
      md += "\n#### Failures and flaky tests\n\n";
      header = true;
    }
    md += fmt::format("- **{}** {}\n", st, MarkdownCode(r.path));
    const model::AttemptRecord& shown = flaky ? r.attempts.front() : r.attempts.back();
    std::vector<std::string> leaves = FailingLeaves(shown);
    for (size_t i = 0; i < leaves.size() && i < 10; ++i) md += "  - " + MarkdownCode(leaves[i]) + "\n";
    if (md.size() > 60000) {
      md += "\n(truncated)\n";
      break;
    }
  }
  return md;
}

std::string GithubAnnotations(const FinishedRun& run) {
  const judge::Verdict* verdict = run.verdict ? &*run.verdict : nullptr;
  std::string out;
  int shown = 0;
  for (const auto& r : run.results) {
    std::string st = FinalStatus(r.attempts);
    if (!model::IsFailure(model::ParseStatus(st))) continue;
    if (verdict) {
      // Only what the verdict counts: known and quarantined failures are no errors.
      bool counted = false;
      for (const auto& f : verdict->failures) counted |= f.path == r.path || f.path.rfind(r.path + ":", 0) == 0;
      for (const auto& c : verdict->crashes) counted |= c.test == r.path;
      if (!counted) continue;
    }
    if (++shown > 10) {
      out += "::warning title=vigil::more failures than GitHub shows; see the job summary\n";
      break;
    }
    std::vector<std::string> leaves = FailingLeaves(r.attempts.back());
    std::string msg = leaves.empty() ? st : fmt::format("{}: {}", st, leaves.front());
    out += fmt::format("::error title={}::{}\n", EscapeWorkflowProperty(r.path), EscapeWorkflowMessage(msg));
  }
  return out;
}

std::string SummaryText(const FinishedRun& run, bool color) {
  std::string out = "\n";
  for (const auto& r : run.results) {
    std::string st = FinalStatus(r.attempts);
    model::TestStatus status = model::ParseStatus(st);
    bool flaky = status == model::TestStatus::kFlaky;
    if (!model::IsFailure(status) && !flaky) continue;
    const model::AttemptRecord& shown = flaky ? r.attempts.front() : r.attempts.back();
    std::string how = shown.interrupted ? "interrupted"
                      : shown.timed_out ? "timeout"
                      : shown.exit_code ? fmt::format("exit {}", *shown.exit_code)
                                        : sys::WaitStatus::Signaled(shown.signal).ToString();
    std::string tag = flaky ? "[FLAKY]" : StatusTag(StatusOf(st), color);
    out += fmt::format("{} {} ({}{})\n", tag, SanitizeForTerminal(r.path), how,
                       r.attempts.size() > 1 ? fmt::format(", {} attempts", r.attempts.size()) : "");
    std::vector<std::string> leaves = FailingLeaves(shown);
    for (size_t i = 0; i < leaves.size() && i < 20; ++i) out += fmt::format("    {}\n", SanitizeForTerminal(leaves[i]));
    if (leaves.size() > 20) out += fmt::format("    ... {} more failing subtests\n", leaves.size() - 20);
    if (shown.subtests_dropped > 0) {
      out += fmt::format("    truncated: {} more subtests counted, not kept (vigil keeps {} per test)\n",
                         shown.subtests_dropped, ktap::kMaxSubtests);
    }
    if (!shown.crashes.empty()) {
      // What the kernel said, not the register dump that ends its report.
      for (const auto& line : CrashExcerpt(shown.crashes.front())) {
        out += fmt::format("      | {}\n", SanitizeForTerminal(line));
      }
      if (shown.crashes.size() > 1) out += fmt::format("      ({} more kernel reports)\n", shown.crashes.size() - 1);
    } else {
      for (std::string_view line : LastLines(shown.output, 10)) {
        out += fmt::format("      | {}\n", SanitizeForTerminal(line));
      }
    }
    out += fmt::format("    rerun: {}\n", RerunHint(run, r.path));
  }
  for (const auto& r : run.results) {
    const auto& a = r.attempts.back();
    if (!a.environment_issues.empty()) {
      out += fmt::format("environment: {}: {}\n", SanitizeForTerminal(r.path),
                         SanitizeForTerminal(a.environment_issues.front()));
    }
  }
  RunCounts c = CountResults(run.results);
  const ktap::Counts& counts = c.counts;
  out += fmt::format(
      "{} run {}: {} tests: {} passed, {} failed, {} crashed, {} timed out, {} skipped, {} flaky, {} xfail, {} xpass\n",
      StatusTag(c.aggregate, color), run.run_id, counts.Total() + c.flaky, counts.Get(ktap::Status::kPass),
      counts.Get(ktap::Status::kFail) + counts.Get(ktap::Status::kError), counts.Get(ktap::Status::kCrash),
      counts.Get(ktap::Status::kTimeout), counts.Get(ktap::Status::kSkip), c.flaky, counts.Get(ktap::Status::kXfail),
      counts.Get(ktap::Status::kXpass));
  if (run.status == kInterruptedRunStatus) {
    out += fmt::format("run {} INTERRUPTED: {} test(s) cut short, {} not started\n", run.run_id,
                       run.interrupted_tests, run.not_started);
  }
  return out;
}

}  // namespace vigil::report
