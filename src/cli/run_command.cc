// vigil run --tests DIR [-t COLL:TEST]... [-c COLL]... [--skip PATTERN]... [-j N]
//           [--slowdown X] [--json FILE] [--junit FILE] [--ktap FILE]
#include <unistd.h>

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "cli/command.h"
#include "cli/judge_common.h"
#include "judge/outcome.h"
#include "judge/render.h"
#include "cli/status_line.h"
#include "cli/terminal.h"
#include "ktap/result.h"
#include "report/reports.h"
#include "base/text.h"
#include "runner/test_plan.h"
#include "sys/cgroup.h"
#include "runner/config.h"
#include "runner/scheduler.h"
#include "runner/environment.h"
#include "runner/test_run.h"
#include "store/store.h"
#include "vm/vm_runner.h"

namespace vigil::cli {
namespace {

struct RunFlags {
  std::string tests_dir;
  runner::PlanFilter filter;
  int jobs = 1;
  double slowdown = 1.0;
  std::string json_path, junit_path, ktap_path, markdown_path;
  std::string color = "auto";
  bool no_cgroup = false;
  bool netns = false;
  std::string db_path = "vigil.db";
  std::string resume;  // RUN_ID or "last"
  int retries = 0;
  std::string config_path;
  std::string baseline;      // --baseline RUN|auto
  std::string known_issues;  // --known-issues FILE
  int repeat = 1;
  bool until_fail = false;
  // The VM runner (--kernel).
  std::string kernel, modules, accel = "auto", memory = "2G", append, panic_on, on_crash = "continue";
  std::string vm_dir;
  std::string rootfs = "auto";
  int cpus = 2;
  int hang_timeout = 0;
  bool slowdown_set = false;
};

// One test of a run: its attempts in order (more than one with --retries).
struct TestResult {
  std::string path;
  std::vector<model::AttemptRecord> attempts;
};


std::string Tag(ktap::Status s, bool color) { return report::StatusTag(s, color); }

// Subtests flattened to "parent > child" paths, as the store keeps them.
void Flatten(const ktap::TestNode& n, const std::string& prefix, std::vector<model::SubtestRecord>* out) {
  for (const auto& c : n.subtests) {
    std::string path = prefix.empty() ? c.name : prefix + " > " + c.name;
    out->push_back({path, std::string(ktap::StatusName(c.status)), c.duration_ms});
    Flatten(c, path, out);
  }
}

using vigil::UtcNow;

// JUnit from the runner log: failures the verdict does not count keep their
// status and say why ("KNOWN: reason", "QUARANTINED: ...") in their message.
void MarkJudged(const judge::Verdict& v, ktap::TestNode* root) {
  std::map<std::string, std::string> notes;
  for (const auto& k : v.known) notes[k.path] = "KNOWN: " + k.detail;
  for (const auto& q : v.quarantined) notes[q.path] = "QUARANTINED: " + q.detail;
  for (const auto& p : v.preexisting) notes[p.path] = "PRE-EXISTING: " + p.detail;
  if (notes.empty()) return;
  std::function<void(ktap::TestNode*, const std::string&)> walk = [&](ktap::TestNode* n, const std::string& path) {
    auto it = notes.find(path);
    if (it != notes.end()) n->directive_text = it->second + (n->directive_text.empty() ? "" : "; " + n->directive_text);
    for (auto& c : n->subtests) walk(&c, path + (path.find(':', path.find(':') + 1) == std::string::npos ? ":" : " > ") + c.name);
  };
  for (auto& top : root->subtests) {
    // The runner names a test "selftests: COLLECTION: TEST".
    std::string name = top.name;
    if (name.rfind("selftests: ", 0) == 0) name = name.substr(11);
    size_t sep = name.find(": ");
    if (sep == std::string::npos) continue;
    walk(&top, name.substr(0, sep) + ":" + name.substr(sep + 2));
  }
}

model::AttemptRecord ToRecord(const runner::TestOutcome& o, const std::string& started_at) {
  model::AttemptRecord a;
  a.test_path = o.spec.path();
  a.status = std::string(ktap::StatusName(o.node.status));
  if (o.process.status.exited()) a.exit_code = o.process.status.exit_code();
  a.signal = o.process.status.signal();
  a.timed_out = o.process.timed_out;
  a.duration_ms = o.process.duration_ms;
  a.started_at = started_at;
  a.output_bytes = o.process.output_bytes;
  a.output = o.process.output;
  a.environment_issues = o.environment_issues;
  Flatten(o.node, "", &a.subtests);
  for (const auto& k : o.process.kernel_reports)
    a.crashes.push_back({std::string(console::TypeName(k.type)), k.title, k.fatal, k.fingerprint, k.guilty, k.text});
  return a;
}

using judge::FailingLeaves;
using judge::FinalStatus;
using judge::IsFailureName;
using judge::StatusOf;
using judge::SubtestVerdicts;

nlohmann::json AttemptJson(const model::AttemptRecord& a) {
  nlohmann::json subtests = nlohmann::json::array();
  for (const auto& s : a.subtests) {
    nlohmann::json j = {{"name", vigil::SanitizeUtf8(s.path)}, {"status", s.status}};
    if (s.duration_ms) j["duration_ms"] = *s.duration_ms;
    subtests.push_back(std::move(j));
  }
  nlohmann::json crashes = nlohmann::json::array();
  for (const auto& c : a.crashes)
    crashes.push_back({{"type", c.type}, {"title", vigil::SanitizeUtf8(c.title)}, {"fatal", c.fatal},
                       {"fingerprint", c.fingerprint}, {"guilty", vigil::SanitizeUtf8(c.guilty)}});
  return {{"attempt", a.attempt},
          {"status", a.status},
          {"crashes", crashes},
          {"exit_code", a.exit_code ? nlohmann::json(*a.exit_code) : nlohmann::json(nullptr)},
          {"signal", a.signal},
          {"timed_out", a.timed_out},
          {"duration_ms", a.duration_ms},
          {"started_at", a.started_at},
          {"output_bytes", a.output_bytes},
          {"subtests", subtests}};
}

std::string RunJson(int64_t run_id, const std::vector<TestResult>& results, const std::string& status,
                    const std::string& console_log, const nlohmann::json& verdict) {
  nlohmann::json tests = nlohmann::json::array();
  for (const auto& r : results) {
    if (r.attempts.empty()) continue;
    const model::AttemptRecord& last = r.attempts.back();
    nlohmann::json attempts = nlohmann::json::array();
    for (const auto& a : r.attempts) attempts.push_back(AttemptJson(a));
    nlohmann::json subtests = nlohmann::json::array();
    for (const auto& s : SubtestVerdicts(r.attempts)) {
      subtests.push_back({{"name", vigil::SanitizeUtf8(s.path)}, {"status", s.status}});
    }
    nlohmann::json env = nlohmann::json::array();
    for (const auto& e : last.environment_issues) env.push_back(vigil::SanitizeUtf8(e));
    nlohmann::json crashes = nlohmann::json::array();
    for (const auto& a : r.attempts)
      for (const auto& c : a.crashes)
        crashes.push_back({{"type", c.type}, {"title", vigil::SanitizeUtf8(c.title)}, {"fatal", c.fatal},
                           {"fingerprint", c.fingerprint}, {"attempt", a.attempt}});
    tests.push_back({{"path", r.path},
                     {"status", FinalStatus(r.attempts)},
                     {"crashes", crashes},
                     {"exit_code", last.exit_code ? nlohmann::json(*last.exit_code) : nlohmann::json(nullptr)},
                     {"duration_ms", last.duration_ms},
                     {"attempts", attempts},
                     {"subtests", subtests},
                     {"environment_issues", env}});
  }
  nlohmann::json j = {{"format_version", 1}, {"run_id", run_id}, {"status", status}, {"tests", tests}};
  if (!console_log.empty()) j["console_log"] = console_log;
  if (!verdict.is_null()) j["verdict"] = verdict;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// The log run_kselftest.sh would have printed for this run.
std::string RunnerLog(const std::vector<TestResult>& results,
                      const std::map<std::string, runner::TestSpec>& specs) {
  size_t n = 0;
  for (const auto& r : results) n += r.attempts.empty() ? 0 : 1;
  std::string out = fmt::format("TAP version 13\n1..{}\n", n);
  int index = 0;
  for (const auto& r : results) {
    if (r.attempts.empty()) continue;
    const model::AttemptRecord& a = r.attempts.back();
    ++index;
    auto it = specs.find(a.test_path);
    size_t colon = a.test_path.find(':');
    std::string collection = a.test_path.substr(0, colon);
    std::string name = colon == std::string::npos ? a.test_path : a.test_path.substr(colon + 1);
    out += fmt::format("# selftests: {}: {}\n", collection, name);
    std::string_view text = a.output;
    while (!text.empty()) {
      size_t nl = text.find('\n');
      out += "# ";
      out += text.substr(0, nl);
      out += '\n';
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
    sys::WaitStatus ws = a.exit_code ? sys::WaitStatus::Exited(*a.exit_code) : sys::WaitStatus::Signaled(a.signal);
    auto timeout = it != specs.end() ? it->second.timeout : runner::kDefaultKselftestTimeout;
    out += runner::RunnerLine(collection, name, index, ws, a.timed_out, timeout) + "\n";
  }
  return out;
}

// GitHub: the job summary ($GITHUB_STEP_SUMMARY, Markdown) and ::error
// annotations. GitHub keeps 10 error annotations per step and 1 MiB of
// summary, so both are bounded here.
std::string EscapeMarkdown(std::string_view s) {
  std::string out;
  for (char c : vigil::SanitizeForTerminal(s)) {
    if (c == '|' || c == '`' || c == '*' || c == '_' || c == '<' || c == '>') out += '\\';
    out += c;
  }
  return out.size() > 300 ? out.substr(0, 300) + "..." : out;
}

// Inside a code span nothing is escaped; a backquote would end it.
std::string CodeSpan(std::string_view s) {
  std::string out = vigil::SanitizeForTerminal(s.substr(0, 300));
  for (char& c : out) {
    if (c == '`') c = '\'';
  }
  return "`" + out + "`";
}

std::string GithubSummary(int64_t run_id, const std::vector<TestResult>& results, const std::string& status,
                          const judge::Verdict* verdict) {
  std::map<std::string, int> by_status;
  for (const auto& r : results) ++by_status[FinalStatus(r.attempts)];
  std::string md = fmt::format("### vigil run {}: {}\n\n", run_id, status);
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
        md += fmt::format("- {} {}\n", CodeSpan(verdict->quarantined[i].path), EscapeMarkdown(verdict->quarantined[i].detail));
      }
      md += "\n";
    }
    for (const auto& w : verdict->warnings) md += "> warning: " + EscapeMarkdown(w) + "\n";
    if (!verdict->warnings.empty()) md += "\n";
  }
  md += "| status | tests |\n|---|---|\n";
  for (const auto& [st, n] : by_status) md += fmt::format("| {} | {} |\n", st, n);
  bool header = false;
  for (const auto& r : results) {
    std::string st = FinalStatus(r.attempts);
    if (!IsFailureName(st) && st != "FLAKY") continue;
    if (!header) {
      md += "\n#### Failures and flaky tests\n\n";
      header = true;
    }
    md += fmt::format("- **{}** {}\n", st, CodeSpan(r.path));
    const model::AttemptRecord& shown = st == "FLAKY" ? r.attempts.front() : r.attempts.back();
    std::vector<std::string> leaves = FailingLeaves(shown);
    for (size_t i = 0; i < leaves.size() && i < 10; ++i) md += "  - " + EscapeMarkdown(leaves[i]) + "\n";
    if (md.size() > 60000) {
      md += "\n(truncated)\n";
      break;
    }
  }
  return md;
}

void GithubAnnotations(const std::vector<TestResult>& results, const judge::Verdict* verdict) {
  int shown = 0;
  for (const auto& r : results) {
    std::string st = FinalStatus(r.attempts);
    if (!IsFailureName(st)) continue;
    if (verdict) {
      // Only what the verdict counts: known and quarantined failures are no errors.
      bool counted = false;
      for (const auto& f : verdict->failures) counted |= f.path == r.path || f.path.rfind(r.path + ":", 0) == 0;
      for (const auto& c : verdict->crashes) counted |= c.test == r.path;
      if (!counted) continue;
    }
    if (++shown > 10) {
      fmt::print("::warning title=vigil::more failures than GitHub shows; see the job summary\n");
      break;
    }
    std::vector<std::string> leaves = FailingLeaves(r.attempts.back());
    std::string msg = leaves.empty() ? st : fmt::format("{}: {}", st, leaves.front());
    // Annotation text is one line; %, CR and LF are escaped as GitHub asks.
    auto esc = [](std::string_view t) {
      std::string o;
      for (char c : vigil::SanitizeForTerminal(t)) {
        if (c == '%') o += "%25";
        else if (c == '\r') o += "%0D";
        else if (c == '\n') o += "%0A";
        else o += c;
      }
      return o;
    };
    fmt::print("::error title={}::{}\n", esc(r.path), esc(msg));
  }
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

int Run(RunFlags f) {
  auto opened = store::Store::Open(f.db_path);
  if (!opened.ok()) {
    fmt::print(stderr, "vigil run: {}\n", opened.status().message());
    return kExitUsage;
  }
  store::Store& db = **opened;

  // A new run, or the rest of an interrupted one.
  int64_t run_id = 0;
  std::string tests_dir = f.tests_dir;
  runner::PlanFilter filter = f.filter;
  std::vector<model::AttemptRecord> recorded;
  if (!f.resume.empty() && f.repeat > 1) {
    fmt::print(stderr, "vigil run: --resume finishes one run; it does not combine with --repeat\n");
    return kExitUsage;
  }
  if (!f.resume.empty()) {
    Result<int64_t> id = f.resume == "last" ? db.LatestRun() : Result<int64_t>(Status::NotFound(""));
    if (f.resume != "last") {
      try {
        id = std::stoll(f.resume);
      } catch (...) {
        fmt::print(stderr, "vigil run: --resume takes a run id or 'last', not '{}'\n", f.resume);
        return kExitUsage;
      }
    }
    if (!id.ok()) {
      fmt::print(stderr, "vigil run: {}\n", id.status().message());
      return kExitUsage;
    }
    auto run = db.LoadRun(*id);
    if (!run.ok()) {
      fmt::print(stderr, "vigil run: {}\n", run.status().message());
      return kExitUsage;
    }
    auto done = db.LoadAttempts(*id, true);
    if (!done.ok()) {
      fmt::print(stderr, "vigil run: {}\n", done.status().message());
      return kExitUsage;
    }
    // A VM run resumes in a VM booting what it booted (unless --kernel says
    // otherwise); a host run stays on the host.
    nlohmann::json vmj = nlohmann::json::parse(run->vm_json, nullptr, false);
    if (vmj.is_object() && f.kernel.empty()) {
      f.kernel = vmj.value("kernel", "");
      f.modules = vmj.value("modules", "");
      f.accel = vmj.value("accel", f.accel);
      f.rootfs = vmj.value("rootfs", f.rootfs);
      f.cpus = vmj.value("cpus", f.cpus);
      f.memory = vmj.value("memory", f.memory);
      f.append = vmj.value("append", "");
      f.panic_on = vmj.value("panic_on", "");
      f.hang_timeout = vmj.value("hang_timeout", 0);
      if (!f.slowdown_set && vmj.contains("slowdown")) {
        f.slowdown = vmj.value("slowdown", f.slowdown);
        f.slowdown_set = true;
      }
      fmt::print("run {} ran in a VM: resuming with --kernel {}\n", *id, f.kernel);
    } else if (!vmj.is_object() && !f.kernel.empty()) {
      fmt::print(stderr, "vigil run: run {} ran on the host; resuming it in a VM would mix environments\n", *id);
      return kExitUsage;
    }
    run_id = *id;
    tests_dir = run->tests_dir;
    recorded = std::move(*done);
    filter = runner::PlanFilter{};
    for (const auto& p : run->plan) {
      bool finished = std::any_of(recorded.begin(), recorded.end(),
                                  [&](const model::AttemptRecord& a) { return a.test_path == p; });
      if (!finished) filter.tests.push_back(p);
    }
    fmt::print("resuming run {}: {} of {} tests done\n", run_id, run->plan.size() - filter.tests.size(),
               run->plan.size());
  } else if (tests_dir.empty()) {
    fmt::print(stderr, "vigil run: --tests DIR is required (or --resume RUN_ID)\n");
    return kExitUsage;
  }

  std::vector<runner::TestSpec> tests;
  // -t TEST#N names one shard (vigil.toml): the plan has TEST, the shard is
  // picked after the expansion below. Resuming a sharded run names shards too.
  std::set<std::string> wanted_shards, whole_tests;
  {
    std::vector<std::string> plain;
    for (const auto& t : filter.tests) {
      size_t hash = t.rfind('#');
      bool shard = hash != std::string::npos && hash + 1 < t.size() &&
                   t.find_first_not_of("0123456789", hash + 1) == std::string::npos;
      std::string base = shard ? t.substr(0, hash) : t;
      if (shard) {
        wanted_shards.insert(t);
      } else {
        whole_tests.insert(t);
      }
      if (std::find(plain.begin(), plain.end(), base) == plain.end()) plain.push_back(base);
    }
    filter.tests = plain;
  }
  if (f.resume.empty() || !filter.tests.empty()) {
    auto plan = runner::LoadPlan(tests_dir, filter);
    if (!plan.ok()) {
      fmt::print(stderr, "vigil run: {}\n", plan.status().message());
      return kExitUsage;
    }
    tests = std::move(*plan);
  }
  if (tests.empty() && f.resume.empty()) {
    fmt::print(stderr, "vigil run: no tests selected in {}\n", tests_dir);
    return kExitUsage;
  }
  // vigil.toml: --config, else the one beside the tests.
  runner::RunConfig config;
  std::string config_path = f.config_path;
  if (config_path.empty()) {
    std::error_code ec;
    std::string beside = (std::filesystem::path(tests_dir) / "vigil.toml").string();
    if (std::filesystem::exists(beside, ec)) config_path = beside;
  }
  if (!config_path.empty()) {
    auto loaded = runner::LoadConfig(config_path);
    if (!loaded.ok()) {
      fmt::print(stderr, "vigil run: {}\n", loaded.status().message());
      return kExitUsage;
    }
    config = std::move(*loaded);
  }
  // Known issues: --known-issues, else known-issues.toml beside the tests.
  // With either (or --baseline) the run's verdict decides the exit status.
  bool judged = !f.baseline.empty() || !f.known_issues.empty();
  {
    auto known = FindKnownIssues(f.known_issues, tests_dir);
    if (!known.ok()) {
      fmt::print(stderr, "vigil run: {}\n", known.status().message());
      return kExitUsage;
    }
    judged |= known.value().has_value();
  }
  // Shards: a long test split into parts that run as tests of their own.
  {
    std::vector<runner::TestSpec> expanded;
    for (const auto& t : tests) {
      const runner::TestRule* r = config.RuleFor(t.path());
      if (!r || r->shards.empty()) {
        expanded.push_back(t);
        continue;
      }
      for (size_t k = 0; k < r->shards.size(); ++k) {
        runner::TestSpec part = t;
        part.name = fmt::format("{}#{}", t.name, k + 1);
        std::istringstream words(r->shards[k]);
        for (std::string w; words >> w;) part.extra_args.push_back(w);
        expanded.push_back(std::move(part));
      }
    }
    tests = std::move(expanded);
  }
  if (!wanted_shards.empty()) {
    // Shards of a test named only by some of its shards are left out.
    std::set<std::string> shard_bases;
    for (const auto& w : wanted_shards) shard_bases.insert(w.substr(0, w.rfind('#')));
    std::vector<runner::TestSpec> picked;
    for (auto& t : tests) {
      std::string path = t.path();
      size_t hash = path.rfind('#');
      std::string base = hash == std::string::npos ? path : path.substr(0, hash);
      bool dropped = shard_bases.count(base) && !wanted_shards.count(path) && !whole_tests.count(base);
      if (!dropped) picked.push_back(std::move(t));
    }
    // A test named with #N that has no such shard is an error, as any unknown test.
    for (const auto& w : wanted_shards) {
      bool found = std::any_of(picked.begin(), picked.end(), [&](const runner::TestSpec& t) { return t.path() == w; });
      if (!found) {
        fmt::print(stderr, "vigil run: no such test '{}' (no such shard in vigil.toml)\n", w);
        return kExitUsage;
      }
    }
    tests = std::move(picked);
  }
  std::vector<int> retries(tests.size(), f.retries);
  for (size_t i = 0; i < tests.size(); ++i) {
    if (const runner::TestRule* r = config.RuleFor(tests[i].path())) {
      if (r->timeout_s) tests[i].timeout = std::chrono::seconds(*r->timeout_s);
      if (r->retries) retries[i] = *r->retries;
    }
  }
  std::map<std::string, runner::TestSpec> specs;
  for (const auto& t : tests) specs[t.path()] = t;

  runner::RunOptions options;
  options.slowdown = f.slowdown;
  options.use_cgroups = !f.no_cgroup;
  options.netns = f.netns;
  std::string path_var = "/usr/sbin:/usr/bin:/sbin:/bin";
  options.base_env = sys::CurrentEnvironment();
  for (const auto& e : options.base_env) {
    if (e.rfind("PATH=", 0) == 0) path_var = e.substr(5);
  }

  // --kernel: every test runs inside a VM booting that kernel.
  std::unique_ptr<vm::VmRunner> vm;
  std::string console_log;
  if (!f.kernel.empty()) {
    vm::VmOptions vo;
    std::error_code ec;
    vo.kernel = std::filesystem::absolute(f.kernel, ec).string();
    if (!f.modules.empty()) vo.modules_dir = std::filesystem::absolute(f.modules, ec).string();
    vo.accel = f.accel;
    vo.rootfs = f.rootfs;
    vo.cpus = f.cpus;
    vo.memory = f.memory;
    vo.append = f.append;
    vo.panic_on_warn = f.panic_on.find("warn") != std::string::npos;
    vo.panic_on_oops = f.panic_on.find("oops") != std::string::npos;
    vo.vigil_binary = sys::SelfExe();
    vo.guest_path = path_var;
    vo.tests_dir = std::filesystem::absolute(tests_dir, ec).lexically_normal().string();
    while (vo.tests_dir.size() > 1 && vo.tests_dir.back() == '/') vo.tests_dir.pop_back();
    std::string db_dir = std::filesystem::absolute(f.db_path, ec).parent_path().string();
    vo.work_dir = f.vm_dir.empty() ? fmt::format("{}/vigil-vm/{}-{}", db_dir, UtcNow(), getpid()) : f.vm_dir;
    const char* xdg = getenv("XDG_CACHE_HOME");
    const char* home = getenv("HOME");
    vo.cache_dir = xdg && *xdg ? std::string(xdg) + "/vigil" : std::string(home && *home ? home : "/tmp") + "/.cache/vigil";
    if (f.hang_timeout > 0) vo.hang_timeout = std::chrono::seconds(f.hang_timeout);
    vm = std::make_unique<vm::VmRunner>(vo);
    fmt::print("booting {} in QEMU{}\n", vo.kernel, vo.modules_dir.empty() ? "" : " with modules from " + vo.modules_dir);
    std::fflush(stdout);
    Status st = vm->Start();
    for (const auto& note : vm->notes()) fmt::print("vm: {}\n", note);
    if (!st.ok()) {
      fmt::print(stderr, "vigil run: the VM did not boot: {}\n", st.message());
      return kExitUsage;
    }
    console_log = vm->console_log();
    fmt::print("vm: {} up in {:.1f} s ({}), kernel {}, console {}\n", vm->environment().uname,
               vm->first_boot_seconds(), vm->accel(), vm->environment().kernel_release, console_log);
    options.process_runner = vm.get();
    // Under TCG everything is slower: timeouts stretch unless --slowdown says otherwise.
    if (vm->accel() == "tcg" && !f.slowdown_set) options.slowdown = 3.0;
    options.use_cgroups = options.use_cgroups;  // the guest has cgroup2 mounted
  }

  bool color = UseColor(f.color);
  if (options.use_cgroups && !vm) {
    int stale = sys::TestCgroup::CleanStale();
    if (stale > 0) fmt::print("killed {} processes left by an interrupted vigil\n", stale);
  }
  std::string path_env = path_var;
  std::optional<int64_t> env_id;
  // Longest first (durations from earlier runs; unknown tests first): the
  // run ends sooner with -j. Reports keep the plan's order.
  std::vector<size_t> order(tests.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (auto durations = db.LastDurations(); durations.ok() && f.jobs > 1) {
    auto known = [&](size_t i) {
      auto it = durations->find(tests[i].path());
      return it == durations->end() ? INT64_MAX : it->second;
    };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return known(a) > known(b); });
  }

  int exit_code = 0;
  std::map<std::string, std::pair<int, int>> repeat_tally;  // path -> (failed, runs)
  for (int repetition = 1; repetition <= f.repeat; ++repetition) {
    if (run_id == 0) {
      if (!env_id) {
        auto id = db.EnsureEnvironment(vm ? vm->environment() : runner::DetectHostEnvironment(path_env));
        env_id = id.ok() ? *id : 0;
      }
      model::RunRecord run;
      run.started_at = UtcNow();
      char host[256] = {0};
      gethostname(host, sizeof host - 1);
      run.host = host;
      run.command = CommandLine();
      std::error_code ec;
      run.tests_dir = std::filesystem::absolute(tests_dir, ec).string();
      for (const auto& t : tests) run.plan.push_back(t.path());
      run.environment_id = *env_id;
      auto id = db.CreateRun(run);
      if (!id.ok()) {
        fmt::print(stderr, "vigil run: {}\n", id.status().message());
        return kExitUsage;
      }
      run_id = *id;
      if (!console_log.empty()) (void)db.SetConsoleLog(run_id, console_log);
      if (vm) {
        nlohmann::json vmj = {{"kernel", std::filesystem::absolute(f.kernel).string()},
                              {"modules", f.modules.empty() ? "" : std::filesystem::absolute(f.modules).string()},
                              {"accel", f.accel}, {"rootfs", f.rootfs}, {"cpus", f.cpus}, {"memory", f.memory},
                              {"append", f.append}, {"panic_on", f.panic_on}, {"hang_timeout", f.hang_timeout}};
        if (f.slowdown_set) vmj["slowdown"] = f.slowdown;
        (void)db.SetRunVm(run_id, vmj.dump());
      }
    }
    if (f.repeat > 1) fmt::print("repetition {}/{}: ", repetition, f.repeat);
    fmt::print("run {}: {} tests from {} (db {})\n", run_id, tests.size(), tests_dir, f.db_path);
    std::fflush(stdout);  // CI logs show it before the first test ends

    std::vector<std::vector<model::AttemptRecord>> fresh(tests.size());
    runner::Scheduler scheduler(tests, order, config);
    std::optional<StatusLine> status_line;
    status_line.emplace(isatty(STDOUT_FILENO) == 1, tests.size(), f.jobs);
    std::mutex mu;  // the store and the terminal
    size_t done = 0;
    std::atomic<bool> stop_after_crash{false};
    std::atomic<size_t> not_run{0};
    bool store_failed = false;
    auto worker = [&] {
      while (std::optional<size_t> next = scheduler.Next()) {
        size_t i = *next;
        if (stop_after_crash) {
          // --on-crash stop: what is left is not run (--resume runs it later).
          ++not_run;
          scheduler.Done(i);
          continue;
        }
        for (int attempt = 1; attempt <= 1 + retries[i]; ++attempt) {
          std::string started = UtcNow();
          if (attempt == 1) status_line->Started(tests[i].path());
          runner::TestOutcome o = runner::RunTest(tests[i], static_cast<int>(i + 1), options);
          if (o.process.vm_died && f.on_crash == "stop") stop_after_crash = true;
          model::AttemptRecord a = ToRecord(o, started);
          a.attempt = attempt;
          bool failed = ktap::IsFailure(o.node.status);
          std::lock_guard<std::mutex> lock(mu);
          // Committed as soon as it finished: a crash of vigil loses nothing.
          Status st = db.RecordAttempt(run_id, a);
          if (!st.ok() && !store_failed) {
            store_failed = true;
            fmt::print(stderr, "vigil run: cannot record {}: {}\n", a.test_path, st.message());
          }
          fresh[i].push_back(std::move(a));
          if (!failed || attempt == 1 + retries[i]) {
            ++done;
            std::string final_status = FinalStatus(fresh[i]);
            std::string tag = final_status == "FLAKY" ? (color ? "\033[35m[FLAKY]\033[0m" : "[FLAKY]")
                                                      : Tag(StatusOf(final_status), color);
            status_line->Finished(tests[i].path(), IsFailureName(final_status));
            status_line->Print(fmt::format("{} {} ({:.1f}s{}) [{}/{}]", tag, tests[i].path(),
                                          static_cast<double>(fresh[i].back().duration_ms) / 1000.0,
                                          attempt > 1 ? fmt::format(", {} attempts", attempt) : "", done,
                                          tests.size()));
            break;
          }
          status_line->Print(
              fmt::format("{} {}: attempt {} failed, retrying", Tag(o.node.status, color), tests[i].path(), attempt));
        }
        scheduler.Done(i);
      }
    };
    int jobs = std::max(1, std::min<int>(f.jobs, static_cast<int>(std::max<size_t>(tests.size(), 1))));
    std::vector<std::thread> threads;
    for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    status_line.reset();  // the line is erased before the summary
    if (not_run > 0) {
      fmt::print("vm: the kernel crashed and --on-crash is stop: {} test(s) not run (vigil run --resume {} runs them "
                 "in a VM booting the same kernel)\n",
                 not_run.load(), run_id);
      exit_code = 1;
    }
    if (vm) {
      for (double ms : vm->fatal_to_gone_ms()) fmt::print("vm: fatal kernel report: QEMU gone {:.0f} ms after its first line\n", ms);
      if (vm->boots() > 1) fmt::print("vm: {} boots (a fresh VM after each crash or hang)\n", vm->boots());
    }

    // The whole run, in plan order: what an earlier invocation recorded
    // (with --resume), then this one's.
    std::vector<TestResult> results;
    std::map<std::string, size_t> index;
    for (auto& a : recorded) {
      auto [it, inserted] = index.try_emplace(a.test_path, results.size());
      if (inserted) results.push_back({a.test_path, {}});
      results[it->second].attempts.push_back(std::move(a));
    }
    recorded.clear();
    for (size_t i = 0; i < tests.size(); ++i) {
      if (fresh[i].empty()) continue;
      auto [it, inserted] = index.try_emplace(tests[i].path(), results.size());
      if (inserted) results.push_back({tests[i].path(), {}});
      for (auto& a : fresh[i]) results[it->second].attempts.push_back(std::move(a));
    }

    // Summary: failures first, with their failing subtests, the end of their
    // output and the command that reruns just that test.
    ktap::Counts counts;
    int flaky = 0;
    for (const auto& r : results) {
      std::string st = FinalStatus(r.attempts);
      if (st == "FLAKY") {
        ++flaky;
      } else {
        counts.Add(StatusOf(st));
      }
      auto& tally = repeat_tally[r.path];
      tally.second += 1;
      tally.first += IsFailureName(st) ? 1 : 0;
    }
    ktap::Status agg = counts.Aggregate();
    if (agg == ktap::Status::kNoTests && flaky > 0) agg = ktap::Status::kPass;
    std::string status = std::string(ktap::StatusName(agg));
    fmt::print("\n");
    for (const auto& r : results) {
      std::string st = FinalStatus(r.attempts);
      if (!IsFailureName(st) && st != "FLAKY") continue;
      const model::AttemptRecord& a = r.attempts.back();
      const model::AttemptRecord& shown = st == "FLAKY" ? r.attempts.front() : a;
      std::string how = shown.timed_out ? "timeout"
                        : shown.exit_code ? fmt::format("exit {}", *shown.exit_code)
                                          : sys::WaitStatus::Signaled(shown.signal).ToString();
      std::string tag = st == "FLAKY" ? "[FLAKY]" : Tag(StatusOf(st), color);
      fmt::print("{} {} ({}{})\n", tag, r.path, how,
                 r.attempts.size() > 1 ? fmt::format(", {} attempts", r.attempts.size()) : "");
      std::vector<std::string> leaves = FailingLeaves(shown);
      for (size_t i = 0; i < leaves.size() && i < 20; ++i) {
        fmt::print("    {}\n", vigil::SanitizeForTerminal(leaves[i]));
      }
      if (leaves.size() > 20) fmt::print("    ... {} more failing subtests\n", leaves.size() - 20);
      std::string_view text = shown.output;
      std::vector<std::string_view> lines;
      while (!text.empty()) {
        size_t nl = text.find('\n');
        lines.push_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
      }
      for (size_t i = lines.size() > 10 ? lines.size() - 10 : 0; i < lines.size(); ++i) {
        fmt::print("      | {}\n", vigil::SanitizeForTerminal(lines[i]));
      }
      fmt::print("    rerun: vigil run --tests {} -t {}\n", tests_dir, r.path);
    }
    for (const auto& r : results) {
      const auto& a = r.attempts.back();
      if (!a.environment_issues.empty()) {
        fmt::print("environment: {}: {}\n", r.path, vigil::SanitizeForTerminal(a.environment_issues.front()));
      }
    }
    fmt::print("{} run {}: {} tests: {} passed, {} failed, {} timed out, {} skipped, {} flaky, {} xfail, {} xpass\n",
               Tag(agg, color), run_id, counts.Total() + flaky, counts.Get(ktap::Status::kPass),
               counts.Get(ktap::Status::kFail) + counts.Get(ktap::Status::kError) + counts.Get(ktap::Status::kCrash),
               counts.Get(ktap::Status::kTimeout), counts.Get(ktap::Status::kSkip), flaky,
               counts.Get(ktap::Status::kXfail), counts.Get(ktap::Status::kXpass));
    Status fin = db.FinishRun(run_id, status, UtcNow());
    if (!fin.ok()) fmt::print(stderr, "vigil run: cannot finish run {}: {}\n", run_id, fin.message());

    // The verdict (known issues, quarantine, baseline) when asked for.
    std::optional<judge::Verdict> verdict;
    if (judged) {
      VerdictRequest req;
      req.run_id = run_id;
      req.baseline = f.baseline.empty() ? "none" : f.baseline;
      req.known_issues = f.known_issues;
      auto v = ComputeVerdict(db, req);
      if (v.ok()) {
        verdict = std::move(v.value());
        fmt::print("\n{}", judge::VerdictText(*verdict));
      } else {
        fmt::print(stderr, "vigil run: no verdict: {}\n", v.status().message());
        store_failed = true;
      }
    }

    bool write_ok = true;
    std::string runner_log;
    if (!f.json_path.empty()) {
      write_ok &= WriteFile(f.json_path, RunJson(run_id, results, status, console_log,
                                                 verdict ? judge::VerdictJson(*verdict) : nlohmann::json()));
    }
    if (!f.ktap_path.empty() || !f.junit_path.empty()) runner_log = RunnerLog(results, specs);
    if (!f.ktap_path.empty()) write_ok &= WriteFile(f.ktap_path, runner_log);
    if (!f.junit_path.empty()) {
      ktap::Document doc = ktap::ParseText(runner_log);
      if (verdict) MarkJudged(*verdict, &doc.root);
      write_ok &= WriteFile(f.junit_path, report::ToJunit(doc));
    }
    if (!f.markdown_path.empty()) write_ok &= WriteFile(f.markdown_path, GithubSummary(run_id, results, status, verdict ? &*verdict : nullptr));
    if (const char* gh = std::getenv("GITHUB_STEP_SUMMARY"); gh && *gh) {
      std::ofstream md(gh, std::ios::app);
      md << GithubSummary(run_id, results, status, verdict ? &*verdict : nullptr);
      write_ok &= static_cast<bool>(md);
    }
    if (const char* gha = std::getenv("GITHUB_ACTIONS"); gha && std::string_view(gha) == "true") {
      GithubAnnotations(results, verdict ? &*verdict : nullptr);
    }
    if (!write_ok) {
      fmt::print(stderr, "vigil run: cannot write a report file\n");
      return kExitUsage;
    }
    if (store_failed) return kExitUsage;
    int rep_code = verdict ? judge::ExitCode(verdict->level) : (ktap::IsFailure(agg) ? 1 : 0);
    bool failed = rep_code != 0;
    exit_code = std::max(exit_code, rep_code);
    run_id = 0;
    if (failed && f.until_fail) {
      if (f.repeat > 1) fmt::print("stopped at repetition {}: --until-fail\n", repetition);
      break;
    }
  }
  if (f.repeat > 1) {
    fmt::print("\nacross repetitions:\n");
    for (const auto& [path, tally] : repeat_tally) {
      if (tally.first > 0) fmt::print("  {} failed {}/{}\n", path, tally.first, tally.second);
    }
  }
  return exit_code;
}

}  // namespace

Runner SetupRunCommand(CLI::App* app) {
  auto f = std::make_shared<RunFlags>();
  app->description(
      "Run kselftests on this host, or with --kernel inside a QEMU VM booting the kernel under test:\n"
      "an installed kselftest tree (kselftest-list.txt, per-collection\n"
      "`settings` with timeout=N) or a directory of executables. Each test runs in its own session\n"
      "and process group with its collection directory as cwd and KSELFTEST_<NAME>_ARGS appended;\n"
      "its output is read live as KTAP, down to each subtest; on timeout the whole group gets\n"
      "SIGTERM, then SIGKILL; nothing a test started survives it (a cgroup v2 per test when\n"
      "possible). Exit codes map as kselftest: 0 PASS, 4 SKIP, 2 XFAIL, 3 XPASS, else FAIL.\n\n"
      "Every result is committed to the store (--db) as soon as the test ends. In a VM, the console\n"
      "goes to the crash detector: a kernel crash makes the running tests CRASH, a WARNING or other\n"
      "report fails them.\n\n"
      "Exit status: 0 all passed or skipped, 1 a failure or timeout, 2 usage or internal error; with\n"
      "--known-issues, a known-issues.toml beside the tests or --baseline: the verdict's (0 Success,\n"
      "1 Unstable, 3 Critical; see vigil verdict --help).");
  app->add_option("--tests", f->tests_dir, "Installed kselftest tree or directory of executables")
      ->check(CLI::ExistingDirectory);
  app->add_option("--db", f->db_path, "SQLite results store (created if missing)")->capture_default_str();
  app->add_option("--resume", f->resume,
                  "Finish run RUN_ID (or 'last') after vigil was interrupted: only tests without a "
                  "recorded result run; the reports cover the whole run");
  app->add_option("-t,--test", f->filter.tests, "Run COLLECTION:TEST (repeatable)");
  app->add_option("-c,--collection", f->filter.collections, "Run every test of COLLECTION (repeatable)");
  app->add_option("--skip", f->filter.skip, "Skip tests whose COLLECTION:TEST matches this glob (repeatable)");
  app->add_option("-j,--jobs", f->jobs, "Tests run at the same time")->check(CLI::Range(1, 256))->capture_default_str();
  app->add_option("--slowdown", f->slowdown, "Multiply every timeout (slow or emulated machines; 3 in a TCG VM)")
      ->check(CLI::Range(0.01, 1000.0))
      ->capture_default_str()
      ->each([f](const std::string&) { f->slowdown_set = true; });
  app->add_option("--json", f->json_path, "Write the results as JSON (format_version 1) to FILE");
  app->add_option("--junit", f->junit_path, "Write JUnit XML to FILE");
  app->add_option("--ktap", f->ktap_path, "Write the log run_kselftest.sh would print to FILE");
  app->add_option("--markdown", f->markdown_path,
                  "Write a Markdown summary to FILE (also appended to $GITHUB_STEP_SUMMARY when set)");
  app->add_option("--color", f->color, "auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app->add_option("--baseline", f->baseline,
                  "Judge the run as `vigil verdict --baseline` does (RUN or auto): only regressions against it count; "
                  "the exit status becomes the verdict's (0 Success, 1 Unstable, 3 Critical)");
  app->add_option("--known-issues", f->known_issues,
                  "known-issues.toml (default: the one beside the tests): matching failures are KNOWN, not counted; "
                  "the exit status becomes the verdict's");
  app->add_option("--config", f->config_path,
                  "vigil.toml with scheduling classes ([[class]] match, max_parallel, serial) and per-test "
                  "timeout/retries ([[test]]); default: vigil.toml beside the tests");
  app->add_option("--retries", f->retries, "Run a failed test again up to N times; failed then passed is FLAKY")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app->add_option("--repeat", f->repeat, "Run the selection N times (a run each): how flaky tests are reproduced")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app->add_flag("--until-fail", f->until_fail, "With --repeat: stop after the first run with a failure");
  app->add_flag("--netns", f->netns, "Run each test in a fresh network namespace (loopback up), as run_kselftest.sh -n");
  app->add_flag("--no-cgroup", f->no_cgroup, "Do not put tests in cgroups (process groups only)");
  auto* vmg = "VM (the kernel under test)";
  app->add_option("--kernel", f->kernel,
                  "Boot this kernel (bzImage/vmlinuz) in QEMU and run the tests inside it; the host's root is "
                  "shared read-only (virtiofs, or 9p), the console goes to the crash detector")
      ->group(vmg);
  app->add_option("--modules", f->modules,
                  "The kernel's lib/modules/<release> (e.g. of an unpacked Debian linux-image package): boot "
                  "modules go into the initramfs, the rest is loadable in the guest")
      ->group(vmg);
  app->add_option("--accel", f->accel, "auto (probe KVM with a tiny VM, else TCG), kvm or tcg")
      ->check(CLI::IsMember({"auto", "kvm", "tcg"}))
      ->capture_default_str()
      ->group(vmg);
  app->add_option("--rootfs", f->rootfs,
                  "How the guest sees the host's root: auto (virtiofs when the kernel has it, else 9p), virtiofs "
                  "or 9p")
      ->check(CLI::IsMember({"auto", "virtiofs", "9p"}))
      ->capture_default_str()
      ->group(vmg);
  app->add_option("--cpus", f->cpus, "Guest CPUs")->check(CLI::Range(1, 64))->capture_default_str()->group(vmg);
  app->add_option("--memory", f->memory, "Guest memory (QEMU size: 2G, 1536M)")->capture_default_str()->group(vmg);
  app->add_option("--append", f->append, "More kernel command line")->group(vmg);
  app->add_option("--panic-on", f->panic_on, "warn, oops or warn,oops: panic_on_warn=1 / oops=panic")->group(vmg);
  app->add_option("--on-crash", f->on_crash,
                  "After a kernel crash: continue (boot a fresh VM for the remaining tests) or stop")
      ->check(CLI::IsMember({"continue", "stop"}))
      ->capture_default_str()
      ->group(vmg);
  app->add_option("--hang-timeout", f->hang_timeout,
                  "Seconds without console or test output before the VM counts as hung (0: off)")
      ->check(CLI::Range(0, 86400))
      ->group(vmg);
  app->add_option("--vm-dir", f->vm_dir, "Where the console log and sockets go (default: vigil-vm/ beside the db)")
      ->group(vmg);
  return [f] { return Run(*f); };
}

}  // namespace vigil::cli
