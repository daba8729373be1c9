// vigil run --tests DIR [-t COLL:TEST]... [-c COLL]... [--skip PATTERN]... [-j N]
//           [--slowdown X] [--json FILE] [--junit FILE] [--ktap FILE]
#include <unistd.h>

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/terminal.h"
#include "ktap/result.h"
#include "report/reports.h"
#include "report/utf8.h"
#include "runner/test_plan.h"
#include "runner/cgroup.h"
#include "runner/environment.h"
#include "runner/test_run.h"
#include "store/store.h"

extern char** environ;

namespace vigil::cli {
namespace {

struct RunFlags {
  std::string tests_dir;
  runner::PlanFilter filter;
  int jobs = 1;
  double slowdown = 1.0;
  std::string json_path, junit_path, ktap_path;
  std::string color = "auto";
  bool no_cgroup = false;
  std::string db_path = "vigil.db";
  std::string resume;  // RUN_ID or "last"
};


std::string Tag(ktap::Status s, bool color) { return report::StatusTag(s, color); }

// Subtests flattened to "parent > child" paths, as the store keeps them.
void Flatten(const ktap::TestNode& n, const std::string& prefix, std::vector<store::SubtestRecord>* out) {
  for (const auto& c : n.subtests) {
    std::string path = prefix.empty() ? c.name : prefix + " > " + c.name;
    out->push_back({path, std::string(ktap::StatusName(c.status)), c.duration_ms});
    Flatten(c, path, out);
  }
}

std::string UtcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

store::AttemptRecord ToRecord(const runner::TestOutcome& o, const std::string& started_at) {
  store::AttemptRecord a;
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
  return a;
}

ktap::Status StatusOf(const std::string& name) {
  for (int i = 0; i < ktap::kNumStatuses; ++i) {
    if (ktap::StatusName(static_cast<ktap::Status>(i)) == name) return static_cast<ktap::Status>(i);
  }
  return ktap::Status::kError;
}

// Failing leaves: failing subtests that have no failing subtest below them.
std::vector<std::string> FailingLeaves(const store::AttemptRecord& a) {
  std::vector<std::string> out;
  for (size_t i = 0; i < a.subtests.size(); ++i) {
    const auto& s = a.subtests[i];
    if (!ktap::IsFailure(StatusOf(s.status))) continue;
    bool child_failed = false;
    for (size_t k = i + 1; k < a.subtests.size() && a.subtests[k].path.rfind(s.path + " > ", 0) == 0; ++k) {
      child_failed |= ktap::IsFailure(StatusOf(a.subtests[k].status));
    }
    if (!child_failed) out.push_back(fmt::format("[{}] {}", s.status, s.path));
  }
  return out;
}

std::string RunJson(int64_t run_id, const std::vector<store::AttemptRecord>& attempts, ktap::Status status) {
  nlohmann::json tests = nlohmann::json::array();
  for (const auto& a : attempts) {
    nlohmann::json subtests = nlohmann::json::array();
    for (const auto& s : a.subtests) {
      nlohmann::json j = {{"name", report::SanitizeUtf8(s.path)}, {"status", s.status}};
      if (s.duration_ms) j["duration_ms"] = *s.duration_ms;
      subtests.push_back(std::move(j));
    }
    nlohmann::json env = nlohmann::json::array();
    for (const auto& e : a.environment_issues) env.push_back(report::SanitizeUtf8(e));
    nlohmann::json exit = a.exit_code ? nlohmann::json(*a.exit_code) : nlohmann::json(nullptr);
    nlohmann::json attempt = {{"attempt", a.attempt},          {"status", a.status},
                              {"exit_code", exit},             {"signal", a.signal},
                              {"timed_out", a.timed_out},      {"duration_ms", a.duration_ms},
                              {"started_at", a.started_at},    {"output_bytes", a.output_bytes}};
    tests.push_back({{"path", a.test_path},
                     {"status", a.status},
                     {"exit_code", exit},
                     {"duration_ms", a.duration_ms},
                     {"attempts", nlohmann::json::array({attempt})},
                     {"subtests", subtests},
                     {"environment_issues", env}});
  }
  nlohmann::json j = {{"format_version", 1}, {"run_id", run_id}, {"status", ktap::StatusName(status)},
                      {"tests", tests}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// The log run_kselftest.sh would have printed for this run.
std::string RunnerLog(const std::vector<store::AttemptRecord>& attempts,
                      const std::map<std::string, runner::TestSpec>& specs) {
  std::string out = fmt::format("TAP version 13\n1..{}\n", attempts.size());
  int index = 0;
  for (const auto& a : attempts) {
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
    runner::WaitStatus ws = a.exit_code ? runner::WaitStatus::Exited(*a.exit_code) : runner::WaitStatus::Signaled(a.signal);
    auto timeout = it != specs.end() ? it->second.timeout : runner::kDefaultKselftestTimeout;
    out += runner::RunnerLine(collection, name, index, ws, a.timed_out, timeout) + "\n";
  }
  return out;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

int Run(const RunFlags& f) {
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
  std::vector<store::AttemptRecord> recorded;
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
    run_id = *id;
    tests_dir = run->tests_dir;
    recorded = std::move(*done);
    filter = runner::PlanFilter{};
    for (const auto& p : run->plan) {
      bool finished = std::any_of(recorded.begin(), recorded.end(),
                                  [&](const store::AttemptRecord& a) { return a.test_path == p; });
      if (!finished) filter.tests.push_back(p);
    }
    fmt::print("resuming run {}: {} of {} tests done\n", run_id, run->plan.size() - filter.tests.size(),
               run->plan.size());
  } else if (tests_dir.empty()) {
    fmt::print(stderr, "vigil run: --tests DIR is required (or --resume RUN_ID)\n");
    return kExitUsage;
  }

  std::vector<runner::TestSpec> tests;
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
  std::map<std::string, runner::TestSpec> specs;
  for (const auto& t : tests) specs[t.path()] = t;

  runner::RunOptions options;
  options.slowdown = f.slowdown;
  options.use_cgroups = !f.no_cgroup;
  std::string path_var = "/usr/sbin:/usr/bin:/sbin:/bin";
  for (char** e = environ; *e; ++e) {
    options.base_env.emplace_back(*e);
    if (std::strncmp(*e, "PATH=", 5) == 0) path_var = *e + 5;
  }

  if (run_id == 0) {
    auto env_id = db.EnsureEnvironment(runner::DetectHostEnvironment(path_var));
    store::RunRecord run;
    run.started_at = UtcNow();
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    run.host = host;
    run.command = CommandLine();
    std::error_code ec;
    run.tests_dir = std::filesystem::absolute(tests_dir, ec).string();
    for (const auto& t : tests) run.plan.push_back(t.path());
    run.environment_id = env_id.ok() ? *env_id : 0;
    auto id = db.CreateRun(run);
    if (!id.ok()) {
      fmt::print(stderr, "vigil run: {}\n", id.status().message());
      return kExitUsage;
    }
    run_id = *id;
  }
  bool color = UseColor(f.color);
  if (options.use_cgroups) {
    int stale = runner::TestCgroup::CleanStale();
    if (stale > 0) fmt::print("killed {} processes left by an interrupted vigil\n", stale);
  }
  fmt::print("run {}: {} tests from {} (db {})\n", run_id, tests.size(), tests_dir, f.db_path);

  std::vector<std::optional<store::AttemptRecord>> fresh(tests.size());
  std::atomic<size_t> next{0};
  std::mutex mu;  // the store and the terminal
  size_t done = 0;
  bool store_failed = false;
  auto worker = [&] {
    while (true) {
      size_t i = next++;
      if (i >= tests.size()) return;
      std::string started = UtcNow();
      runner::TestOutcome o = runner::RunTest(tests[i], static_cast<int>(i + 1), options);
      store::AttemptRecord a = ToRecord(o, started);
      std::lock_guard<std::mutex> lock(mu);
      // Committed as soon as it finished: a crash of vigil loses nothing.
      Status st = db.RecordAttempt(run_id, a);
      if (!st.ok() && !store_failed) {
        store_failed = true;
        fmt::print(stderr, "vigil run: cannot record {}: {}\n", a.test_path, st.message());
      }
      ++done;
      fmt::print("{} {} ({:.1f}s) [{}/{}]\n", Tag(o.node.status, color), a.test_path,
                 static_cast<double>(a.duration_ms) / 1000.0, done, tests.size());
      std::fflush(stdout);
      fresh[i] = std::move(a);
    }
  };
  int jobs = std::max(1, std::min<int>(f.jobs, static_cast<int>(std::max<size_t>(tests.size(), 1))));
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  // The whole run: what an earlier invocation recorded, then this one's.
  std::vector<store::AttemptRecord> all = std::move(recorded);
  for (auto& a : fresh) {
    if (a) all.push_back(std::move(*a));
  }

  // Summary: failures first, with their failing subtests, the end of their
  // output and the command that reruns just that test.
  ktap::Counts counts;
  for (const auto& a : all) counts.Add(StatusOf(a.status));
  ktap::Status status = counts.Aggregate();
  fmt::print("\n");
  for (const auto& a : all) {
    if (!ktap::IsFailure(StatusOf(a.status))) continue;
    std::string how = a.timed_out ? "timeout"
                      : a.exit_code ? fmt::format("exit {}", *a.exit_code)
                                    : runner::WaitStatus::Signaled(a.signal).ToString();
    fmt::print("{} {} ({})\n", Tag(StatusOf(a.status), color), a.test_path, how);
    std::vector<std::string> leaves = FailingLeaves(a);
    for (size_t i = 0; i < leaves.size() && i < 20; ++i) {
      fmt::print("    {}\n", report::SanitizeForTerminal(leaves[i]));
    }
    if (leaves.size() > 20) fmt::print("    ... {} more failing subtests\n", leaves.size() - 20);
    std::string_view text = a.output;
    std::vector<std::string_view> lines;
    while (!text.empty()) {
      size_t nl = text.find('\n');
      lines.push_back(text.substr(0, nl));
      if (nl == std::string_view::npos) break;
      text.remove_prefix(nl + 1);
    }
    for (size_t i = lines.size() > 10 ? lines.size() - 10 : 0; i < lines.size(); ++i) {
      fmt::print("      | {}\n", report::SanitizeForTerminal(lines[i]));
    }
    fmt::print("    rerun: vigil run --tests {} -t {}\n", tests_dir, a.test_path);
  }
  for (const auto& a : all) {
    if (!a.environment_issues.empty()) {
      fmt::print("environment: {}: {}\n", a.test_path, report::SanitizeForTerminal(a.environment_issues.front()));
    }
  }
  fmt::print("{} run {}: {} tests: {} passed, {} failed, {} timed out, {} skipped, {} xfail, {} xpass\n",
             Tag(status, color), run_id, counts.Total(), counts.Get(ktap::Status::kPass),
             counts.Get(ktap::Status::kFail), counts.Get(ktap::Status::kTimeout),
             counts.Get(ktap::Status::kSkip), counts.Get(ktap::Status::kXfail),
             counts.Get(ktap::Status::kXpass));
  Status fin = db.FinishRun(run_id, std::string(ktap::StatusName(status)), UtcNow());
  if (!fin.ok()) fmt::print(stderr, "vigil run: cannot finish run {}: {}\n", run_id, fin.message());

  bool write_ok = true;
  std::string runner_log;
  if (!f.json_path.empty()) write_ok &= WriteFile(f.json_path, RunJson(run_id, all, status));
  if (!f.ktap_path.empty() || !f.junit_path.empty()) runner_log = RunnerLog(all, specs);
  if (!f.ktap_path.empty()) write_ok &= WriteFile(f.ktap_path, runner_log);
  if (!f.junit_path.empty()) {
    write_ok &= WriteFile(f.junit_path, report::ToJunit(ktap::ParseText(runner_log)));
  }
  if (!write_ok) {
    fmt::print(stderr, "vigil run: cannot write a report file\n");
    return kExitUsage;
  }
  if (store_failed) return kExitUsage;
  return ktap::IsFailure(status) ? 1 : 0;
}

}  // namespace

Runner SetupRunCommand(CLI::App* app) {
  auto f = std::make_shared<RunFlags>();
  app->description(
      "Run kselftests on this host: an installed kselftest tree (kselftest-list.txt, per-collection\n"
      "`settings` with timeout=N) or a directory of executables. Each test runs in its own session\n"
      "and process group with its collection directory as cwd and KSELFTEST_<NAME>_ARGS appended;\n"
      "its output is read live as KTAP, down to each subtest; on timeout the whole group gets\n"
      "SIGTERM, then SIGKILL; nothing a test started survives it (a cgroup v2 per test when\n"
      "possible). Exit codes map as kselftest: 0 PASS, 4 SKIP, 2 XFAIL, 3 XPASS, else FAIL.\n\n"
      "Every result is committed to the store (--db) as soon as the test ends.\n\n"
      "Exit status: 0 all passed or skipped, 1 a failure or timeout, 2 usage or internal error.");
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
  app->add_option("--slowdown", f->slowdown, "Multiply every timeout (slow or emulated machines)")
      ->check(CLI::Range(0.01, 1000.0))
      ->capture_default_str();
  app->add_option("--json", f->json_path, "Write the results as JSON (format_version 1) to FILE");
  app->add_option("--junit", f->junit_path, "Write JUnit XML to FILE");
  app->add_option("--ktap", f->ktap_path, "Write the log run_kselftest.sh would print to FILE");
  app->add_option("--color", f->color, "auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app->add_flag("--no-cgroup", f->no_cgroup, "Do not put tests in cgroups (process groups only)");
  return [f] { return Run(*f); };
}

}  // namespace vigil::cli
