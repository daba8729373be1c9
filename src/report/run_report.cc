#include "report/run_report.h"

#include <functional>

#include <fmt/format.h>

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

// GitHub Markdown: table and emphasis characters escaped, at most 300 bytes.
std::string EscapeMarkdown(std::string_view s) {
  std::string out;
  for (char c : SanitizeForTerminal(s)) {
    if (c == '|' || c == '`' || c == '*' || c == '_' || c == '<' || c == '>') out += '\\';
    out += c;
  }
  return out.size() > 300 ? out.substr(0, 300) + "..." : out;
}

// Inside a code span nothing is escaped; a backquote would end it.
std::string CodeSpan(std::string_view s) {
  std::string out = SanitizeForTerminal(s.substr(0, 300));
  for (char& c : out) {
    if (c == '`') c = '\'';
  }
  return "`" + out + "`";
}

// Annotation text is one line; %, CR and LF are escaped as GitHub asks.
std::string EscapeAnnotation(std::string_view t) {
  std::string o;
  for (char c : SanitizeForTerminal(t)) {
    if (c == '%') o += "%25";
    else if (c == '\r') o += "%0D";
    else if (c == '\n') o += "%0A";
    else o += c;
  }
  return o;
}

}  // namespace

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
                     {"environment_issues", env}});
  }
  nlohmann::json j = {{"format_version", 1}, {"run_id", run.run_id}, {"status", run.status}, {"tests", tests}};
  if (!run.console_log.empty()) j["console_log"] = run.console_log;
  if (run.status == kInterruptedRunStatus) {
    j["interrupted"] = {{"tests", run.interrupted_tests}, {"not_started", run.not_started}};
  }
  if (run.verdict) j["verdict"] = judge::VerdictJson(*run.verdict);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string RunnerLog(const FinishedRun& run) {
  size_t n = 0;
  for (const auto& r : run.results) n += r.attempts.empty() ? 0 : 1;
  std::string out = fmt::format("TAP version 13\n1..{}\n", n);
  int index = 0;
  for (const auto& r : run.results) {
    if (r.attempts.empty()) continue;
    const model::AttemptRecord& a = r.attempts.back();
    ++index;
    model::TestPath path = model::TestPath::Parse(a.test_path);
    const std::string& collection = path.collection();
    const std::string& name = path.test();
    out += fmt::format("# selftests: {}: {}\n", collection, name);
    ForEachLine(a.output, [&](std::string_view line) {
      out += "# ";
      out += line;
      out += '\n';
    });
    sys::WaitStatus ws = a.exit_code ? sys::WaitStatus::Exited(*a.exit_code) : sys::WaitStatus::Signaled(a.signal);
    auto it = run.timeouts.find(a.test_path);
    auto timeout = it != run.timeouts.end() ? it->second : runner::kDefaultKselftestTimeout;
    out += (a.interrupted ? runner::InterruptedLine(collection, name, index)
                          : runner::RunnerLine(collection, name, index, ws, a.timed_out, timeout)) +
           "\n";
  }
  return out;
}

std::string RunJunit(const FinishedRun& run) {
  ktap::Document doc = ktap::ParseText(RunnerLog(run));
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
        md += fmt::format("- {} {}\n", CodeSpan(verdict->known[i].path), EscapeMarkdown(verdict->known[i].detail));
      }
      for (const auto& c : verdict->known_crashes) {
        md += fmt::format("- {} in {} {}\n", CodeSpan(c.title), CodeSpan(c.test), EscapeMarkdown(c.detail));
      }
      md += "\n";
    }
    if (!verdict->quarantined.empty()) {
      md += "#### Quarantined (flaky, not counted)\n\n";
      for (size_t i = 0; i < verdict->quarantined.size() && i < 50; ++i) {
        md += fmt::format("- {} {}\n", CodeSpan(verdict->quarantined[i].path),
                          EscapeMarkdown(verdict->quarantined[i].detail));
      }
      md += "\n";
    }
    for (const auto& w : verdict->warnings) md += "> warning: " + EscapeMarkdown(w) + "\n";
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
    md += fmt::format("- **{}** {}\n", st, CodeSpan(r.path));
    const model::AttemptRecord& shown = flaky ? r.attempts.front() : r.attempts.back();
    std::vector<std::string> leaves = FailingLeaves(shown);
    for (size_t i = 0; i < leaves.size() && i < 10; ++i) md += "  - " + EscapeMarkdown(leaves[i]) + "\n";
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
    out += fmt::format("::error title={}::{}\n", EscapeAnnotation(r.path), EscapeAnnotation(msg));
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
    out += fmt::format("{} {} ({}{})\n", tag, r.path, how,
                       r.attempts.size() > 1 ? fmt::format(", {} attempts", r.attempts.size()) : "");
    std::vector<std::string> leaves = FailingLeaves(shown);
    for (size_t i = 0; i < leaves.size() && i < 20; ++i) out += fmt::format("    {}\n", SanitizeForTerminal(leaves[i]));
    if (leaves.size() > 20) out += fmt::format("    ... {} more failing subtests\n", leaves.size() - 20);
    std::vector<std::string_view> lines;
    ForEachLine(shown.output, [&](std::string_view line) { lines.push_back(line); });
    for (size_t i = lines.size() > 10 ? lines.size() - 10 : 0; i < lines.size(); ++i) {
      out += fmt::format("      | {}\n", SanitizeForTerminal(lines[i]));
    }
    out += fmt::format("    rerun: vigil run --tests {} -t {}\n", run.tests_dir, r.path);
  }
  for (const auto& r : run.results) {
    const auto& a = r.attempts.back();
    if (!a.environment_issues.empty()) {
      out += fmt::format("environment: {}: {}\n", r.path, SanitizeForTerminal(a.environment_issues.front()));
    }
  }
  RunCounts c = CountResults(run.results);
  const ktap::Counts& counts = c.counts;
  out += fmt::format(
      "{} run {}: {} tests: {} passed, {} failed, {} timed out, {} skipped, {} flaky, {} xfail, {} xpass\n",
      StatusTag(c.aggregate, color), run.run_id, counts.Total() + c.flaky, counts.Get(ktap::Status::kPass),
      counts.Get(ktap::Status::kFail) + counts.Get(ktap::Status::kError) + counts.Get(ktap::Status::kCrash),
      counts.Get(ktap::Status::kTimeout), counts.Get(ktap::Status::kSkip), c.flaky, counts.Get(ktap::Status::kXfail),
      counts.Get(ktap::Status::kXpass));
  if (run.status == kInterruptedRunStatus) {
    out += fmt::format("run {} INTERRUPTED: {} test(s) cut short, {} not started\n", run.run_id,
                       run.interrupted_tests, run.not_started);
  }
  return out;
}

}  // namespace vigil::report
